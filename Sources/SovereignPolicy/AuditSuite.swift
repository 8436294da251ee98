import SovereignFormats

/// An audit suite (`*.suite.json`): prompts and what must hold for each.
public struct AuditSuite: Sendable, Equatable {
    public static let schema = "sovereign.audit-suite/v1"

    public struct Case: Sendable, Equatable {
        public let id: String
        public let prompt: String
        /// The answer must be the policy's refusal.
        public let refuse: Bool
        /// No output rule may be violated in the final answer.
        public let noViolations: Bool
        public let mustMention: [String]
        public let mustNotMention: [String]
        /// Rules this case exercises (the ones expected to fire unsteered).
        public let rules: [String]
    }

    public let name: String
    public let cases: [Case]

    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        var root = try StrictObjectReader(parsing: bytes, source: source)
        let schema = try root.string("schema")
        guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
        name = try root.nonEmptyString("name")
        var cases: [Case] = []
        for var entry in try root.objects("cases") {
            let id = try entry.nonEmptyString("id")
            let prompt = try entry.nonEmptyString("prompt")
            var expect = try entry.object("expect")
            let refuse = try expect.optionalBool("refuse") ?? false
            let noViolations = try expect.optionalBool("noViolations") ?? false
            let mustMention = try expect.optionalStrings("mustMention") ?? []
            let mustNotMention = try expect.optionalStrings("mustNotMention") ?? []
            try expect.finish()
            guard refuse || noViolations || !mustMention.isEmpty || !mustNotMention.isEmpty else {
                throw expect.error("", "states no expectation (refuse, noViolations, mustMention or mustNotMention)")
            }
            let rules = try entry.optionalStrings("rules") ?? []
            try entry.finish()
            cases.append(Case(id: id, prompt: prompt, refuse: refuse, noViolations: noViolations,
                              mustMention: mustMention, mustNotMention: mustNotMention, rules: rules))
        }
        guard !cases.isEmpty else { throw root.error("cases", "must list at least one case") }
        try root.finish()
        if let duplicate = ReferenceDocument.firstDuplicate(cases.map(\.id)) {
            throw FormatsError(source: source, reason: "case id '\(duplicate)' is used twice")
        }
        self.cases = cases
    }
}
