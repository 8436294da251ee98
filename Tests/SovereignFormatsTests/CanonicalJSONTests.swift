import Testing
@testable import SovereignFormats

@Suite struct CanonicalJSONTests {
    func canonical(_ text: String) throws -> String {
        String(decoding: try CanonicalJSON.canonicalize(Array(text.utf8), source: "test"), as: UTF8.self)
    }

    /// RFC 8785 §3.2.2 example (whitespace, numbers, string escaping, literals).
    @Test func rfc8785Example() throws {
        let input = #"""
        {
          "numbers": [333333333.33333329, 1E30, 4.50,
                      2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }
        """#
        let expected = #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        #expect(try canonical(input) == expected)
    }

    /// RFC 8785 §3.2.3: keys sort by UTF-16 code units, so U+1F600 (a
    /// surrogate pair starting D83D) sorts before U+FB33.
    @Test func rfc8785KeySorting() throws {
        let input = #"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#
        let output = try canonical(input)
        let values = ["Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign",
                      "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh"]
        var last = output.startIndex
        for value in values {
            let range = try #require(output.range(of: value))
            #expect(range.lowerBound > last, "\(value) out of order")
            last = range.lowerBound
        }
    }

    /// ECMAScript Number.prototype.toString cases (RFC 8785 Appendix B).
    @Test(arguments: [
        (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-1.5, "-1.5"), (0.1, "0.1"),
        (1e21, "1e+21"), (1e20, "100000000000000000000"), (123456789012345680000.0, "123456789012345680000"),
        (1e-7, "1e-7"), (1e-6, "0.000001"), (0.000001234, "0.000001234"), (Double.leastNonzeroMagnitude, "5e-324"),
        (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"), (9007199254740992.0, "9007199254740992"),
        (295147905179352830000.0, "295147905179352830000"), (4.35, "4.35"), (333333333.3333333, "333333333.3333333"),
    ])
    func numberFormatting(value: Double, expected: String) {
        #expect(CanonicalJSON.formatNumber(value) == expected)
    }

    @Test func integersStayExact() throws {
        #expect(try canonical("[9223372036854775807, -9223372036854775808, 0, -0]") == "[9223372036854775807,-9223372036854775808,0,0]")
    }

    @Test func encodableMatchesCanonicalForm() throws {
        struct Sample: Encodable { let b: String; let a: [Int]; let path: String }
        let bytes = try CanonicalJSON.encode(Sample(b: "x\n", a: [2, 1], path: "a/b"))
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"a":[2,1],"b":"x\n","path":"a/b"}"#)
    }

    @Test func idempotent() throws {
        let once = try canonical(#"{"z": {"y": [1.0, 2.50, "\u00e9"]}, "a": null}"#)
        #expect(try canonical(once) == once)
    }
}

@Suite struct JSONParserTests {
    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", "line 1, column 8: duplicate key 'a'"),
        ("[1,]", "line 1, column 4: unexpected character ']'"),
        ("{\"a\":1,}", "line 1, column 8: expected a string key"),
        ("01", "line 1, column 1: number has a leading zero"),
        ("1.", "line 1, column 1: invalid number"),
        ("\"abc", "line 1, column 1: unterminated string"),
        ("\"\\ud800\"", "line 1, column 8: unpaired surrogate escape"),
        ("\"\\x\"", "line 1, column 4: invalid escape '\\x'"),
        ("\"a\tb\"", "line 1, column 3: control character in string (must be escaped)"),
        ("{} {}", "line 1, column 4: unexpected content after the JSON value"),
        ("", "line 1, column 1: unexpected end of input"),
        ("nul", "line 1, column 1: invalid literal (expected 'null')"),
        ("1e999", "line 1, column 1: number out of range"),
        ("{\n  \"a\": tru\n}", "line 2, column 8: invalid literal (expected 'true')"),
    ])
    func rejects(text: String, reason: String) {
        #expect(throws: FormatsError(source: "x.json", reason: "invalid JSON at " + reason)) {
            try JSONParser.parse(Array(text.utf8), source: "x.json")
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: FormatsError(source: "x.json", reason: "invalid JSON at line 1, column 1: string is not valid UTF-8")) {
            try JSONParser.parse([0x22, 0xC3, 0x28, 0x22], source: "x.json")
        }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: FormatsError.self) { try JSONParser.parse(Array(deep.utf8), source: "x.json") }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONParser.parse(Array(fine.utf8), source: "x.json") }
    }

    @Test func parsesValues() throws {
        let value = try JSONParser.parse(Array(#"{"s":"\ud83d\ude00é","i":-12,"d":2.5,"b":[true,false,null]}"#.utf8), source: "x")
        #expect(value == .object(["s": .string("😀é"), "i": .integer(-12), "d": .number(2.5),
                                  "b": .array([.bool(true), .bool(false), .null])]))
    }
}
