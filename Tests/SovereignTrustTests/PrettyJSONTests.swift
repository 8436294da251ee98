import SovereignFormats
import Testing

/// PrettyJSON lives in SovereignFormats; its tests sit here, beside its
/// first user, the trust policy.
@Suite struct PrettyJSONTests {
    @Test func indentsTwoSpacesWithSortedKeys() {
        let value = JSONValue.object([
            "b": .array([.integer(1), .bool(true), .null]),
            "a": .object(["y": .string("x"), "x": .number(1.5)]),
            "c": .array([]), "d": .object([:]),
        ])
        let expected = """
        {
          "a": {
            "x": 1.5,
            "y": "x"
          },
          "b": [
            1,
            true,
            null
          ],
          "c": [],
          "d": {}
        }
        """
        #expect(String(decoding: PrettyJSON.serialize(value), as: UTF8.self) == expected)
    }

    @Test func escapesStringsExactlyAsCanonicalJSONDoes() {
        let tricky = "quote \" backslash \\ tab \t newline \n bell \u{07} del \u{7F} é 😀 </script>"
        let canonical = CanonicalJSON.serialize(.string(tricky))
        #expect(PrettyJSON.serialize(.string(tricky)) == canonical)
        #expect(PrettyJSON.serialize(.object([tricky: .string(tricky)])) == Array("{\n  ".utf8) + canonical + Array(": ".utf8) + canonical + Array("\n}".utf8))
    }

    @Test func parsesBackToTheSameValue() throws {
        let value = JSONValue.object([
            "list": .array([.object(["k": .integer(-9_007_199_254_740_993)]), .array([.array([])]), .number(1e-7)]),
            "é": .string("\u{0}"), "": .bool(false),
        ])
        let bytes = PrettyJSON.serialize(value)
        #expect(try JSONParser.parse(bytes, source: "pretty") == value)
        #expect(try CanonicalJSON.canonicalize(bytes, source: "pretty") == CanonicalJSON.serialize(value))
    }
}
