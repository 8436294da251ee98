import Testing
@testable import SovereignFormats

@Suite struct InTotoStatementTests {
    let digest = String(repeating: "ab", count: 32)

    func statement(_ body: String) -> [UInt8] { Array(body.utf8) }

    @Test func parsesAValidStatementAndKeepsUnknownFields() throws {
        let text = #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"m.gguf","digest":{"sha256":"\#(digest)"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"k":1},"future":"kept"}"#
        let parsed = try InTotoStatement(parsing: statement(text), source: "s.json")
        #expect(parsed.subjects == [.init(name: "m.gguf", digest: ["sha256": digest])])
        #expect(parsed.predicateType == "https://slsa.dev/provenance/v1")
        let canonical = String(decoding: parsed.canonicalBytes, as: UTF8.self)
        #expect(canonical.hasPrefix(#"{"_type":"https://in-toto.io/Statement/v1","future":"kept","predicate":{"k":1}"#))
    }

    @Test func buildsFromValues() throws {
        let built = try InTotoStatement(subjects: [.init(name: "a", digest: ["sha256": digest])],
                                        predicateType: "https://example.com/p", predicate: .object([:]))
        let reparsed = try InTotoStatement(parsing: built.canonicalBytes, source: "s")
        #expect(reparsed == built)
    }

    @Test(arguments: [
        (#"[]"#, "an in-toto statement must be a JSON object, got array"),
        (#"{"subject":[],"predicateType":"p"}"#, "missing field '_type'"),
        (#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"predicateType":"p"}"#,
         "_type: is 'https://in-toto.io/Statement/v0.1', expected 'https://in-toto.io/Statement/v1'"),
        (#"{"_type":7,"subject":[],"predicateType":"p"}"#, "_type: must be a string, got number"),
        (#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"p"}"#, "missing field 'subject'"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p"}"#, "subject: must list at least one subject"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a"}],"predicateType":"p"}"#, "missing field 'subject[0].digest'"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{}}],"predicateType":"p"}"#, "subject[0]: digest is empty"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ABCD"}}],"predicateType":"p"}"#,
         "subject[0]: digest 'sha256' must be 64 lowercase hex characters, got 'ABCD'"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"custom":"xyz"}}],"predicateType":"p"}"#,
         "subject[0]: digest 'custom' must be lowercase hex, got 'xyz'"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":1}}],"predicateType":"p"}"#,
         "subject[0].digest.sha256: must be a string, got number"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"md5":"d41d8cd98f00b204e9800998ecf8427e"}}]}"#,
         "missing field 'predicateType'"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"md5":"d41d8cd98f00b204e9800998ecf8427e"}}],"predicateType":""}"#,
         "predicateType: must not be empty"),
        (#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"md5":"d41d8cd98f00b204e9800998ecf8427e"}}],"predicateType":"p","predicate":[1]}"#,
         "predicate: must be an object, got array"),
    ])
    func rejects(text: String, reason: String) {
        #expect(throws: FormatsError(source: "s.json", reason: reason)) {
            try InTotoStatement(parsing: statement(text), source: "s.json")
        }
    }
}
