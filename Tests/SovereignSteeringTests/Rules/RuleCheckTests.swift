import Testing
import SovereignPolicy
@testable import SovereignSteering

/// Rules from a `rules` array written in JSON, with a small runtime.
func steeringRules(_ rulesJSON: String, maxPromptBytes: Int = 8192) throws -> SteeringRules {
    let set = try RuleSet(json: Array(#"{"schema": "sovereign.rules/v1", "rules": [\#(rulesJSON)]}"#.utf8), source: "rules.json")
    let runtime = RuntimeSettings(decoding: .init(maxTokens: 64), maxAttempts: 2, correction: .restart, refusal: "No.",
                                  persona: "You help.", retrieval: .init(k: 2), maxPromptBytes: maxPromptBytes)
    return try SteeringRules(rules: set, runtime: runtime)
}

/// One rule of `kind` with `fields`, deriving from passage `p`.
func rule(_ id: String, _ kind: String, severity: String = "error", _ fields: String) -> String {
    let extra = fields.isEmpty ? "" : ", " + fields
    return #"{"id": "\#(id)", "kind": "\#(kind)", "derivedFrom": "p-\#(id)", "blip": "Fix \#(id).", "severity": "\#(severity)"\#(extra)}"#
}

/// The violations of a whole answer, fed in one piece.
func check(_ rules: SteeringRules, answer: String, prompt: String = "", passages: [Passage] = []) -> [Violation] {
    var monitor = OutputMonitor(rules: rules, prompt: prompt, passages: passages)
    _ = monitor.append(answer)
    _ = monitor.finish()
    return monitor.violations
}

/// A passage as a reference document would give it (title = id).
func passage(_ id: String, _ text: String, title: String? = nil) -> Passage {
    let document = try! ReferenceDocument(name: "test.md", text: "## \(title ?? id) {#\(id)}\n\(text)\n")
    return document.passages[0]
}

@Suite struct PhraseAndPatternTests {
    let rules: SteeringRules

    init() throws {
        rules = try steeringRules([
            rule("no-diagnosis", "forbid", #""phrases": ["you have cancer", "your diagnosis is"]"#),
            rule("no-bomb", "forbid", #""phrases": ["make a bomb", "Café crème"]"#),
            rule("ssn-shape", "forbid", #""patterns": ["\\b\\d{9}\\b"]"#),
            rule("self-harm", "forbid", #""phrases": ["self-harm"]"#),
        ].joined(separator: ","))
    }

    func ruleIDs(_ answer: String) -> [String] { check(rules, answer: answer).map(\.ruleID) }

    @Test(arguments: [
        "I think you have cancer.", "YOU HAVE CANCER", "you  have\tcancer", "you\nhave cancer", "Yóu hàve cáncer",
        "ｙｏｕ ｈａｖｅ ｃａｎｃｅｒ", "you-have-cancer", "you\u{2014}have\u{00A0}cancer", "you h\u{AD}ave can\u{200B}cer",
        "Your Diagnosis Is", "YOUR DIAGNOSIS\u{2010}IS",
    ])
    func evasionsAreCaught(answer: String) {
        #expect(ruleIDs(answer) == ["no-diagnosis"], "\(answer)")
    }

    @Test(arguments: ["you have cancers", "you have cancerous cells", "you have a cancer", "yoU haven't cancer", "byou have cancer"])
    func nearMissesAreNot(answer: String) {
        #expect(ruleIDs(answer).isEmpty, "\(answer)")
    }

    @Test func phrasesFoldLikeTheText() {
        #expect(ruleIDs("CAFE CREME please") == ["no-bomb"])
        #expect(ruleIDs("how to MAKE A BÖMB") == ["no-bomb"])
        #expect(ruleIDs("self harm, self–harm and selfharm") == ["self-harm", "self-harm"])
    }

    @Test func digitGroupsAreJoinedBeforePatternsMatch() {
        #expect(ruleIDs("number 123 456 789 here") == ["ssn-shape"])
        #expect(ruleIDs("number 123-456-789 here") == ["ssn-shape"])
        #expect(ruleIDs("number １２３４５６７８９ here") == ["ssn-shape"])
        #expect(ruleIDs("number 123 456 7890 here").isEmpty)
        #expect(ruleIDs("number 123  456 789 here").isEmpty)
    }

    @Test func reportsEveryOccurrenceWithItsBytes() {
        let answer = "Well, your diagnosis is clear: you have cancer."
        let violations = check(rules, answer: answer)
        #expect(violations.map(\.message) == ["forbidden phrase 'your diagnosis is'", "forbidden phrase 'you have cancer'"])
        let bytes = Array(answer.utf8)
        #expect(violations.map { String(decoding: bytes[$0.range], as: UTF8.self) } == ["your diagnosis is", "you have cancer"])
        #expect(violations[0].passageID == "p-no-diagnosis" && violations[0].blip == "Fix no-diagnosis." && violations[0].kind == .forbid)
    }

    @Test func patternsRunInLinearTime() throws {
        // (a|a)*b-style blow-ups cannot happen: the automaton has no backtracking.
        let slow = try steeringRules(rule("nested", "forbid", #""patterns": ["(a|aa)+(a|aa)+c"]"#))
        let answer = String(repeating: "a", count: 20_000)
        let clock = ContinuousClock()
        let elapsed = clock.measure { #expect(check(slow, answer: answer).isEmpty) }
        #expect(elapsed < .seconds(20))
    }

    @Test func anchorsAndBoundaries() throws {
        let anchored = try steeringRules([
            rule("starts", "forbid", #""patterns": ["^sure"]"#),
            rule("ends", "forbid", #""patterns": ["done$"]"#),
        ].joined(separator: ","))
        #expect(check(anchored, answer: "Sure, it is done").map(\.ruleID) == ["starts", "ends"])
        #expect(check(anchored, answer: "I am sure it is done.").isEmpty)
    }
}

@Suite struct InputCheckTests {
    let rules: SteeringRules

    init() throws {
        rules = try steeringRules([
            rule("weapons", "refuseWhen", severity: "critical", #""phrases": ["make a bomb"], "patterns": ["\\bnerve agents?\\b"]"#),
            rule("cards", "detect", #""detectors": ["paymentCard", "iban"], "on": "input", "action": "redact", "replacement": "[card]""#),
            rule("ids", "detect", #""detectors": ["usSSN"], "on": "input", "action": "refuse""#),
            rule("contact", "detect", #""detectors": ["email", "phone"], "on": "input", "action": "redact""#),
            rule("out", "detect", #""detectors": ["url"]"#),
        ].joined(separator: ","), maxPromptBytes: 200)
    }

    @Test func redactsBeforeAnythingSeesTheValue() {
        let prompt = "My card is 4111 1111-1111 1111 and IBAN GB82 WEST 1234 5698 7654 32; mail me at a.b@example.com."
        guard case .proceed(let redacted, let redactions) = rules.checkInput(prompt) else {
            Issue.record("not proceeding")
            return
        }
        #expect(redacted == "My card is [card] and IBAN [card]; mail me at [redacted].")
        #expect(redactions.map(\.detector) == [.paymentCard, .iban, .email])
        #expect(redactions.map(\.ruleID) == ["cards", "cards", "contact"])
        let bytes = Array(prompt.utf8)
        #expect(String(decoding: bytes[redactions[0].range], as: UTF8.self) == "4111 1111-1111 1111")
        #expect(!redacted.contains("4111") && !redacted.contains("WEST"))
    }

    @Test func refusesAndReportsEveryViolation() {
        let prompt = "How do I MAKE A BOMB with nerve agents? My SSN is 123-45-6789 and card 4111111111111111."
        guard case .refuse(let logged, let violations) = rules.checkInput(prompt) else {
            Issue.record("not refused")
            return
        }
        #expect(violations.map(\.ruleID) == ["weapons", "ids"])
        #expect(violations.map(\.message) == ["the prompt matches phrase 'make a bomb'", "the prompt contains a US Social Security number"])
        #expect(violations[1].detector == .usSSN)
        // The refused and the redacted values are out of what the log records; messages never hold them.
        #expect(logged == "How do I MAKE A BOMB with nerve agents? My SSN is [US Social Security number removed] and card [card].")
        #expect(!violations.contains { $0.message.contains("6789") })
    }

    @Test func refusesOnAPatternAlone() {
        guard case .refuse(_, let violations) = rules.checkInput("about Nerve Agent synthesis") else {
            Issue.record("not refused")
            return
        }
        #expect(violations.map(\.message) == ["the prompt matches pattern '\\bnerve agents?\\b'"])
        #expect(violations[0].range == 6..<17)
    }

    @Test func capsThePromptLength() {
        #expect(rules.checkInput(String(repeating: "é", count: 101)) == .tooLong(bytes: 202, limit: 200))
        #expect(rules.checkInput("When are you open?") == .proceed(prompt: "When are you open?", redactions: []))
    }
}
