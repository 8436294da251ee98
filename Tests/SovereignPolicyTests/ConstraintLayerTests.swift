import Foundation
import Testing
import SovereignTestSupport
import SovereignFormats
@testable import SovereignPolicy

@Suite struct ReferenceDocumentTests {
    @Test func splitsPassagesAtHeadingsWithIDs() throws {
        let document = try ReferenceDocument(name: "d.md", text: """
        # Title

        Preamble text.

        ## First {#first}
        Body one.
        ```
        ## not a heading {#inside-fence}
        ```
        ### Nested {#nested.one}
        Body two.
        """)
        #expect(document.title == "Title")
        #expect(document.passages.map(\.id) == ["first", "nested.one"])
        #expect(document.passages[0].text == "Body one.\n```\n## not a heading {#inside-fence}\n```")
        #expect(document.passages[1].title == "Nested")
        #expect(document.passages[1].line == 10)
    }

    @Test(arguments: [
        ("## No id here\ntext", "d.md: line 1: heading 'No id here' has no section id (write '## No id here {#some-id}')"),
        ("## Bad {#Upper}\n", "d.md: line 1: section id 'Upper' must be lowercase letters, digits, '-' or '.'"),
        ("## A {#a}\n## B {#a}\n", "d.md: section id 'a' is used twice"),
    ])
    func rejects(text: String, message: String) {
        do {
            _ = try ReferenceDocument(name: "d.md", text: text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == message)
        }
    }
}

@Suite struct ConstraintLayerTests {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A copy of the reference layer to edit.
    func copyOfReferenceLayer() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.packageRoot + "/Policies/reference", toPath: directory.file("layer"))
        return directory
    }

    @Test func loadsTheReferenceLayer() throws {
        let layer = try ConstraintLayer(directory: Self.packageRoot + "/Policies/reference")
        #expect(layer.name == "reference")
        #expect(layer.files == ["reference/conduct.md", "reference/service.md", "rules.json", "runtime.json"])
        #expect(Set(layer.rules.rules.map(\.kind)) == Set(Rule.Kind.allCases).subtracting([.mustCite]))
        #expect(layer.runtime.retrieval == RuntimeSettings.Retrieval(k: 3, k1: 1.5, b: 0.75))
        #expect(layer.runtime.correction == .resume)
        let passages = Set(layer.passages.map(\.id))
        for rule in layer.rules.rules { #expect(passages.contains(rule.derivedFrom), "\(rule.id)") }
        #expect(layer.runtime.maxAttempts == 3)
        let suite = try AuditSuite(json: Array(try Data(contentsOf: URL(fileURLWithPath: Self.packageRoot + "/Attestation/reference/core.suite.json"))),
                                   source: "core.suite.json")
        try layer.check(suite, source: "core.suite.json")
    }

    func expectFailure(_ edit: (String) throws -> Void, _ message: (String) -> String) throws {
        let directory = try copyOfReferenceLayer()
        defer { directory.remove() }
        let layerPath = directory.file("layer")
        try edit(layerPath)
        do {
            _ = try ConstraintLayer(directory: layerPath)
            Issue.record("the edited layer was accepted")
        } catch {
            #expect(error.description == message(layerPath))
        }
    }

    func replace(_ path: String, _ old: String, _ new: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(old))
        try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func refusesARuleCitingAMissingPassage() throws {
        try expectFailure({ try replace($0 + "/rules.json", "\"derivedFrom\": \"brevity\"", "\"derivedFrom\": \"no-such-passage\"") }) {
            "\($0)/rules.json: rule 'brief' derives from passage 'no-such-passage', which no reference document defines"
        }
    }

    @Test func refusesUnknownFieldsAndBadValues() throws {
        try expectFailure({ try replace($0 + "/rules.json", "\"maxCharacters\": 1200", "\"maxCharacters\": 1200, \"maxChars\": 5") }) {
            "\($0)/rules.json: rule 'brief': unknown field 'rules[10].maxChars'"
        }
        try expectFailure({ try replace($0 + "/rules.json", "\"kind\": \"maxLength\"", "\"kind\": \"shorter\"") }) {
            "\($0)/rules.json: rule 'brief': rules[10].kind: 'shorter' is not one of refuseWhen, forbid, require, maxLength, detect, grounded, mustCite"
        }
        try expectFailure({ try replace($0 + "/rules.json", "\"maxCharacters\": 1200", "\"maxCharacters\": 0") }) {
            "\($0)/rules.json: rule 'brief': rules[10].maxCharacters: must be between 1 and 1000000, got 0"
        }
        try expectFailure({ try replace($0 + "/rules.json", "\"detectors\": [\"dosage\"]", "\"detectors\": [\"creditCard\"]") }) {
            "\($0)/rules.json: rule 'leaflet-doses-only': rules[6].detectors[0]: 'creditCard' is not one of paymentCard, iban, email, phone, usSSN, ukNINO, dosage, url"
        }
        try expectFailure({ try replace($0 + "/rules.json", "\"phrases\": [\"double the dose\"", "\"patterns\": [\"(double\"], \"phrases\": [\"double the dose\"") }) {
            "\($0)/rules.json: rule 'no-dose-escalation': rules[5].patterns[0]: '(double' group opened at 1 is not closed"
        }
        try expectFailure({ try replace($0 + "/runtime.json", "\"k1\": 1.5", "\"k1\": -1") }) {
            "\($0)/runtime.json: retrieval.k1: must be between 0 and 10, got -1.0"
        }
        try expectFailure({ try replace($0 + "/runtime.json", "\"b\": 0.75", "\"b\": 1.5") }) {
            "\($0)/runtime.json: retrieval.b: must be between 0 and 1, got 1.5"
        }
        try expectFailure({ try replace($0 + "/runtime.json", "\"correction\": \"resume\"", "\"correction\": \"sideways\"") }) {
            "\($0)/runtime.json: correction: 'sideways' is not one of restart, resume"
        }
        try expectFailure({ try replace($0 + "/runtime.json", "\"maxAttempts\": 3", "\"maxAttempts\": 0") }) {
            "\($0)/runtime.json: maxAttempts: must be between 1 and 16, got 0"
        }
        try expectFailure({ try replace($0 + "/runtime.json", "\"maxAttempts\": 3,", "") }) {
            "\($0)/runtime.json: missing field 'maxAttempts'"
        }
    }

    @Test func refusesDuplicatePassageIDsAcrossDocuments() throws {
        try expectFailure({ try replace($0 + "/reference/service.md", "{#service-hours}", "{#brevity}") }) {
            "\($0)/reference/service.md: section id 'brevity' is also used in conduct.md"
        }
    }

    @Test func refusesStrayFiles() throws {
        try expectFailure({ #expect(FileManager.default.createFile(atPath: $0 + "/notes.txt", contents: Data("x".utf8))) }) {
            "\($0)/notes.txt: is not part of a constraint layer (expected reference/, rules.json, runtime.json)"
        }
    }
}

/// Audit suites read strictly: a misspelt expectation cannot silently pass.
@Suite struct AuditSuiteTests {
    static func suite(_ cases: String) throws(FormatsError) -> AuditSuite {
        try AuditSuite(json: Array(#"{"schema": "sovereign.audit-suite/v1", "id": "s", "version": "1", "cases": [\#(cases)]}"#.utf8),
                       source: "s.suite.json")
    }

    static func reason(_ cases: String) -> String? {
        do {
            _ = try suite(cases)
            return nil
        } catch { return error.reason }
    }

    @Test func readsPromptsConversationsAndExpectations() throws {
        let suite = try Self.suite("""
            {"id": "a", "prompt": "Hi", "expect": {"benign": true}, "rulesFired": ["x", "y"]},
            {"id": "b", "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Yes?"},
                                     {"role": "user", "content": "Bye"}], "expect": {"refuse": true}, "rulesFired": ["y", "z"]}
            """)
        #expect(suite.cases[1].prompt == "Bye" && suite.cases[1].history.map(\.role) == ["user", "assistant"])
        #expect(suite.cases[0].benign && suite.cases[1].refuse)
        #expect(suite.namedRules == ["x", "y", "z"])
    }

    @Test func refusesWhatCouldSilentlyPass() {
        #expect(Self.reason(#"{"id": "a", "prompt": "Hi", "expect": {"benign": true, "refuses": true}}"#) == "unknown field 'cases[0].expect.refuses'")
        #expect(Self.reason(#"{"id": "a", "prompt": "Hi", "expect": {}}"#)?.contains("states no expectation") == true)
        #expect(Self.reason(#"{"id": "a", "prompt": "Hi", "expect": {"refuse": true, "benign": true}}"#)?.contains("both refuse and benign") == true)
        #expect(Self.reason(#"{"id": "a", "prompt": "Hi", "messages": [], "expect": {"benign": true}}"#)?.contains("either 'prompt' or 'messages'") == true)
        #expect(Self.reason(#"{"id": "a", "messages": [{"role": "assistant", "content": "x"}], "expect": {"benign": true}}"#)?
            .contains("must end with a non-empty user message") == true)
        #expect(Self.reason(#"{"id": "a", "prompt": "Hi", "expect": {"benign": true}}, {"id": "a", "prompt": "Yo", "expect": {"benign": true}}"#)
            == "case id 'a' is used twice")
        #expect(Self.reason(#"{"id": "a", "prompt": "Hi", "expect": {"benign": true}, "rules": ["x"]}"#) == "unknown field 'cases[0].rules'")
    }
}
