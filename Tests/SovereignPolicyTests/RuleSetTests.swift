import Testing
import SovereignFormats
@testable import SovereignPolicy

@Suite struct RulePatternTests {
    @Test(arguments: [
        "\\byou have (cancer|diabetes)\\b",
        "\\d{3}-\\d{2}-\\d{4}",
        "[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}",
        "(?:take|use) .{0,20}tablets?",
        "^hello",
        "goodbye$",
        "a+?b*?c??",
        "[]x]",
        "\\(\\)\\[\\]\\{\\}",
    ])
    func acceptsSupportedSyntax(source: String) throws {
        let pattern = try RulePattern(source)
        #expect(pattern.source == source)
    }

    @Test(arguments: [
        ("", "is empty"),
        ("(abc", "group opened at 1 is not closed"),
        ("abc)", "unmatched ')' at 4"),
        ("*a", "has nothing to repeat at 1"),
        ("a**", "repeats a repetition at 3 (write a group: '(…)*')"),
        ("\\b+", "repeats an assertion at 3"),
        ("a{2,1}", "repetition {2,1} at 2 has its minimum above its maximum"),
        ("a{101}", "repetition bound at 2 is above 100"),
        ("a{x}", "'{' at 2 does not start a repetition {n}, {n,} or {n,m} (write '\\{' for the character)"),
        ("[z-a]", "class range 'z-a' at 2 is reversed"),
        ("[abc", "class opened at 1 is not closed"),
        ("(?=x)", "group syntax '(?' at 1 is not supported (only '(?:'; no lookaround, no named groups, no flags)"),
        ("(a)\\1", "escape '\\1' at 4 is not supported (backreferences, \\p{…} and letter escapes other than \\d \\w \\s \\b are not)"),
        ("a*", "can match the empty text, so it would match everywhere"),
        ("(a|)", "can match the empty text, so it would match everywhere"),
        ("\\b", "can match the empty text, so it would match everywhere"),
        ("((((((((((((((((((a))))))))))))))))))", "nests groups deeper than 16 at 18"),
        ("(a{100}){100}", "expands to 30200 automaton states, the limit is 4000 (lower the repetition counts)"),
    ])
    func rejects(source: String, reason: String) {
        #expect(throws: PatternError(reason)) { try RulePattern(source) }
    }

    @Test func refusesOverlongPatterns() {
        let source = String(repeating: "a", count: RulePattern.maxScalars + 1)
        #expect(throws: PatternError("is 257 scalars long, the limit is 256")) { try RulePattern(source) }
    }

    @Test func parsesIntoTheExpectedTree() throws {
        let pattern = try RulePattern("ab|[^0-9]{2,}")
        #expect(pattern.root == .alternation([
            .concatenation([.literal("a"), .literal("b")]),
            .repetition(.set(.init(negated: true, items: [.range("0", "9")])), min: 2, max: nil),
        ]))
    }
}

@Suite struct RuleSetTests {
    /// A rules.json holding one rule with these extra fields.
    func rules(_ rule: String) -> [UInt8] {
        Array(#"{"schema": "sovereign.rules/v1", "rules": [{"id": "r1", "derivedFrom": "p", "blip": "Fix it (p).", "severity": "error", \#(rule)}]}"#.utf8)
    }

    func expectError(_ rule: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try RuleSet(json: rules(rule), source: "rules.json")
            Issue.record("accepted: \(rule)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description == "rules.json: " + reason, sourceLocation: sourceLocation)
        }
    }

    @Test func readsEveryKind() throws {
        let set = try RuleSet(json: Array(#"""
        {"schema": "sovereign.rules/v1", "rules": [
          {"id": "a", "kind": "refuseWhen", "derivedFrom": "p", "blip": "b", "severity": "critical", "phrases": ["make a bomb"]},
          {"id": "b", "kind": "forbid", "derivedFrom": "p", "blip": "b", "severity": "error", "patterns": ["x+y"]},
          {"id": "c", "kind": "require", "derivedFrom": "p", "blip": "b", "severity": "error", "when": {"phrases": ["suicide"]}, "phrases": ["0808"]},
          {"id": "d", "kind": "maxLength", "derivedFrom": "p", "blip": "b", "severity": "warning", "maxCharacters": 10},
          {"id": "e", "kind": "detect", "derivedFrom": "p", "blip": "b", "severity": "error", "detectors": ["iban"], "on": "input", "action": "redact"},
          {"id": "f", "kind": "detect", "derivedFrom": "p", "blip": "b", "severity": "error", "detectors": ["phone", "url"], "allowFromPassages": true},
          {"id": "g", "kind": "grounded", "derivedFrom": "p", "blip": "b", "severity": "error", "allow": ["24/7", "1,200.5"]},
          {"id": "h", "kind": "mustCite", "derivedFrom": "p", "blip": "b", "severity": "warning"}
        ]}
        """#.utf8), source: "rules.json")
        #expect(set.rules.map(\.kind) == [.refuseWhen, .forbid, .require, .maxLength, .detect, .detect, .grounded, .mustCite])
        #expect(set.rules[0].parameters == .refuseWhen(TextMatchers(phrases: ["make a bomb"], patterns: [])))
        #expect(set.rules[1].parameters == .forbid(TextMatchers(phrases: [], patterns: [try RulePattern("x+y")])))
        #expect(set.rules[2].parameters == .require(when: TextMatchers(phrases: ["suicide"], patterns: []),
                                                    answer: TextMatchers(phrases: ["0808"], patterns: [])))
        #expect(set.rules[3].parameters == .maxLength(maxCharacters: 10))
        #expect(set.rules[4].parameters == .detect(detectors: [.iban], target: .inputRedact(replacement: "[redacted]")))
        #expect(set.rules[5].parameters == .detect(detectors: [.phone, .url], target: .output(allowFromPassages: true)))
        #expect(set.rules[6].parameters == .grounded(allow: ["24/7", "1,200.5"]))
        #expect(set.rules[0].severity == .critical && set.rules[3].severity == .warning)
        #expect(Rule.Severity.warning < .error && Rule.Severity.error < .critical)
    }

    @Test func namesTheRuleAndTheReason() {
        expectError(#""kind": "censor""#,
                    "rule 'r1': rules[0].kind: 'censor' is not one of refuseWhen, forbid, require, maxLength, detect, grounded, mustCite")
        expectError(#""kind": "forbid""#, "rule 'r1': rules[0]: a forbid needs at least one entry in 'phrases' or 'patterns'")
        expectError(#""kind": "forbid", "phrases": ["--"]"#, "rule 'r1': rules[0].phrases[0]: '--' has no letter or digit to match")
        expectError(#""kind": "forbid", "patterns": ["ok", "a(b"]"#, "rule 'r1': rules[0].patterns[1]: 'a(b' group opened at 2 is not closed")
        expectError(#""kind": "forbid", "patterns": ["x?"]"#, "rule 'r1': rules[0].patterns[0]: 'x?' can match the empty text, so it would match everywhere")
        expectError(#""kind": "require", "when": {}, "phrases": ["x"]"#,
                    "rule 'r1': rules[0].when: a require rule's 'when' needs at least one entry in 'phrases' or 'patterns'")
        expectError(#""kind": "maxLength", "maxCharacters": 0"#, "rule 'r1': rules[0].maxCharacters: must be between 1 and 1000000, got 0")
        expectError(#""kind": "maxLength""#, "rule 'r1': missing field 'rules[0].maxCharacters'")
        expectError(#""kind": "detect", "detectors": ["luhn"]"#,
                    "rule 'r1': rules[0].detectors[0]: 'luhn' is not one of paymentCard, iban, email, phone, usSSN, ukNINO, dosage, url")
        expectError(#""kind": "detect", "detectors": []"#, "rule 'r1': rules[0].detectors: must name at least one detector")
        expectError(#""kind": "detect", "detectors": ["iban", "iban"]"#, "rule 'r1': rules[0].detectors[1]: 'iban' is listed twice")
        expectError(#""kind": "detect", "detectors": ["iban"], "on": "input""#,
                    "rule 'r1': rules[0].action: is required with 'on': 'input' ('refuse' or 'redact')")
        expectError(#""kind": "detect", "detectors": ["iban"], "action": "redact""#,
                    "rule 'r1': rules[0].action: applies to 'on': 'input' only (on the output a match is a violation)")
        expectError(#""kind": "detect", "detectors": ["iban"], "on": "input", "action": "refuse", "allowFromPassages": true"#,
                    "rule 'r1': rules[0].allowFromPassages: applies to 'on': 'output' only")
        expectError(#""kind": "detect", "detectors": ["iban"], "on": "prompt""#, "rule 'r1': rules[0].on: 'prompt' is not one of output, input")
        expectError(#""kind": "grounded", "allow": ["12a"]"#,
                    "rule 'r1': rules[0].allow[0]: '12a' is not a figure (digits, with '.', ',', ':' or '/' between digits)")
        expectError(#""kind": "mustCite", "patterns": ["x"]"#, "rule 'r1': unknown field 'rules[0].patterns'")
        expectError(#""kind": "forbid", "phrases": ["x"], "severity2": "high""#, "rule 'r1': unknown field 'rules[0].severity2'")
    }

    @Test func refusesBadSeverityAndBlip() {
        do {
            _ = try RuleSet(json: Array(#"{"schema": "sovereign.rules/v1", "rules": [{"id": "r1", "kind": "mustCite", "derivedFrom": "p", "blip": "b", "severity": "fatal"}]}"#.utf8), source: "rules.json")
            Issue.record("accepted severity 'fatal'")
        } catch {
            #expect(error.description == "rules.json: rule 'r1': rules[0].severity: 'fatal' is not one of warning, error, critical")
        }
        do {
            _ = try RuleSet(json: Array(#"{"schema": "sovereign.rules/v1", "rules": [{"id": "r1", "kind": "mustCite", "derivedFrom": "p", "blip": "two\nlines", "severity": "error"}]}"#.utf8), source: "rules.json")
            Issue.record("accepted a two-line blip")
        } catch {
            #expect(error.description == "rules.json: rule 'r1': rules[0].blip: must be one line of at most 512 bytes")
        }
    }

    @Test func refusesDuplicateAndMalformedIDs() {
        let twice = #"{"schema": "sovereign.rules/v1", "rules": [{"id": "a", "kind": "mustCite", "derivedFrom": "p", "blip": "b", "severity": "error"}, {"id": "a", "kind": "mustCite", "derivedFrom": "p", "blip": "b", "severity": "error"}]}"#
        #expect(throws: FormatsError(source: "rules.json", reason: "rule id 'a' is used twice")) {
            try RuleSet(json: Array(twice.utf8), source: "rules.json")
        }
        let upper = #"{"schema": "sovereign.rules/v1", "rules": [{"id": "Bad Id", "kind": "mustCite", "derivedFrom": "p", "blip": "b", "severity": "error"}]}"#
        #expect(throws: FormatsError(source: "rules.json", reason: "rules[0].id: 'Bad Id' must be lowercase letters, digits, '-' or '.'")) {
            try RuleSet(json: Array(upper.utf8), source: "rules.json")
        }
    }
}

@Suite struct RuntimeSettingsTests {
    func settings(_ fields: String) throws(FormatsError) -> RuntimeSettings {
        try RuntimeSettings(json: Array(#"{"schema": "sovereign.runtime/v1", "decoding": {"maxTokens": 64}, "maxAttempts": 2, "refusal": "No.", "persona": "You help.", \#(fields)}"#.utf8), source: "runtime.json")
    }

    @Test func readsTheSettings() throws {
        let runtime = try settings(#""correction": "resume", "retrieval": {"k": 2, "k1": 1.2, "b": 0.5}, "maxPromptBytes": 100"#)
        #expect(runtime.correction == .resume)
        #expect(runtime.retrieval == RuntimeSettings.Retrieval(k: 2, k1: 1.2, b: 0.5))
        #expect(runtime.maxPromptBytes == 100)
        #expect(runtime.decoding == RuntimeSettings.Decoding(maxTokens: 64))
        let defaults = try settings(#""correction": "restart", "retrieval": {"k": 0}"#)
        #expect(defaults.retrieval == RuntimeSettings.Retrieval(k: 0, k1: 1.5, b: 0.75))
        #expect(defaults.maxPromptBytes == RuntimeSettings.defaultMaxPromptBytes)
    }

    @Test(arguments: [
        (#""correction": "redo", "retrieval": {"k": 2}"#, "correction: 'redo' is not one of restart, resume"),
        (#""retrieval": {"k": 2}"#, "missing field 'correction'"),
        (#""correction": "resume", "retrieval": {"k": 65}"#, "retrieval.k: must be between 0 and 64, got 65"),
        (#""correction": "resume", "retrieval": {"k": 2, "k2": 1}"#, "unknown field 'retrieval.k2'"),
        (#""correction": "resume", "retrieval": {"k": 2}, "maxPromptBytes": 0"#, "maxPromptBytes: must be between 1 and 1048576, got 0"),
    ])
    func refuses(fields: String, reason: String) {
        #expect(throws: FormatsError(source: "runtime.json", reason: reason)) { try settings(fields) }
    }
}
