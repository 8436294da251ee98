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

    /// Reads a suite strictly (unknown fields are errors).
    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        (name, cases) = try JSONObjectReader.read(parsing: bytes, source: source, mode: .strict) { root throws(FormatsError) in
            let schema = try root.string("schema")
            guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
            let name = try root.nonEmptyString("name")
            let cases = try root.objects("cases") { entry throws(FormatsError) in try Case(reading: &entry) }
            guard !cases.isEmpty else { throw root.error("cases", "must list at least one case") }
            return (name, cases)
        }
        if let duplicate = ReferenceDocument.firstDuplicate(cases.map(\.id)) {
            throw FormatsError(source: source, reason: "case id '\(duplicate)' is used twice")
        }
    }
}

extension AuditSuite.Case {
    /// One entry of `cases`; `expect` must state at least one expectation.
    init(reading entry: inout JSONObjectReader) throws(FormatsError) {
        id = try entry.nonEmptyString("id")
        prompt = try entry.nonEmptyString("prompt")
        (refuse, noViolations, mustMention, mustNotMention) = try entry.object("expect") { expect throws(FormatsError) in
            (try expect.optionalBool("refuse") ?? false, try expect.optionalBool("noViolations") ?? false,
             try expect.optionalStrings("mustMention") ?? [], try expect.optionalStrings("mustNotMention") ?? [])
        }
        guard refuse || noViolations || !mustMention.isEmpty || !mustNotMention.isEmpty else {
            throw entry.error("expect", "states no expectation (refuse, noViolations, mustMention or mustNotMention)")
        }
        rules = try entry.optionalStrings("rules") ?? []
    }
}
