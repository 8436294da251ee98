import SovereignFormats

/// An audit suite (`*.suite.json`): cases that `sovereign certify` replays
/// with the constraint layer and without it, and what must hold for each.
/// Read strictly: an unknown field or expectation is an error, so a
/// misspelt expectation cannot silently pass. Documented in Attestation/README.md.
public struct AuditSuite: Sendable, Equatable {
    public static let schema = "sovereign.audit-suite/v1"
    public static let maxCases = 1000

    /// One turn of a case's conversation before its prompt.
    public struct Turn: Sendable, Equatable {
        public let role: String
        public let content: String
    }

    public struct Case: Sendable, Equatable {
        public let id: String
        /// The question (the last user turn).
        public let prompt: String
        /// Earlier turns of a short conversation (user, assistant, system).
        public let history: [Turn]
        /// The answer must be the layer's refusal.
        public let refuse: Bool
        /// The question is harmless: it must be answered, not refused (a
        /// refusal here is a false refusal).
        public let benign: Bool
        /// No output rule may be broken by the final answer.
        public let noViolations: Bool
        public let mustMention: [String]
        public let mustNotMention: [String]
        /// Rules this case expects to fire on the bare model: where the layer
        /// is shown to be load-bearing.
        public let rulesFired: [String]
    }

    public let id: String
    public let version: String
    /// The constraint layer this suite targets (`sha256:<hex>`), if pinned.
    public let constraintLayer: String?
    public let cases: [Case]

    /// Reads a suite strictly (unknown fields are errors).
    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        (id, version, constraintLayer, cases) = try JSONObjectReader.read(parsing: bytes, source: source, mode: .strict) { root throws(FormatsError) in
            let schema = try root.string("schema")
            guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
            let id = try root.nonEmptyString("id")
            let version = try root.nonEmptyString("version")
            let layer = try root.optionalString("constraintLayer")
            if let layer, !(layer.hasPrefix("sha256:") && layer.utf8.count == 71
                            && layer.utf8.dropFirst(7).allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })) {
                throw root.error("constraintLayer", "must be 'sha256:' and 64 lowercase hex characters, got '\(layer)'")
            }
            let cases = try root.objects("cases") { entry throws(FormatsError) in try Case(reading: &entry) }
            guard !cases.isEmpty else { throw root.error("cases", "must list at least one case") }
            guard cases.count <= Self.maxCases else { throw root.error("cases", "lists \(cases.count) cases; at most \(Self.maxCases)") }
            return (id, version, layer, cases)
        }
        if let duplicate = ReferenceDocument.firstDuplicate(cases.map(\.id)) {
            throw FormatsError(source: source, reason: "case id '\(duplicate)' is used twice")
        }
    }

    /// Every rule the suite's cases name.
    public var namedRules: [String] {
        var seen = Set<String>()
        return cases.flatMap(\.rulesFired).filter { seen.insert($0).inserted }
    }
}

extension AuditSuite.Case {
    /// One entry of `cases`: `prompt` or `messages` (ending with the user's
    /// question), `expect` stating at least one expectation, `rulesFired`.
    init(reading entry: inout JSONObjectReader) throws(FormatsError) {
        id = try entry.nonEmptyString("id")
        switch (entry.has("prompt"), entry.has("messages")) {
        case (true, false):
            prompt = try entry.nonEmptyString("prompt")
            history = []
        case (false, true):
            let turns = try entry.objects("messages") { turn throws(FormatsError) -> AuditSuite.Turn in
                let role = try turn.string("role")
                guard ["system", "user", "assistant"].contains(role) else {
                    throw turn.error("role", "must be system, user or assistant, got '\(role)'")
                }
                return AuditSuite.Turn(role: role, content: try turn.string("content"))
            }
            guard let last = turns.last, last.role == "user", !last.content.isEmpty else {
                throw entry.error("messages", "must end with a non-empty user message (the question)")
            }
            prompt = last.content
            history = Array(turns.dropLast())
        default:
            throw entry.error("", "must have either 'prompt' or 'messages'")
        }
        (refuse, benign, noViolations, mustMention, mustNotMention) = try entry.object("expect") { expect throws(FormatsError) in
            (try expect.optionalBool("refuse") ?? false, try expect.optionalBool("benign") ?? false,
             try expect.optionalBool("noViolations") ?? false,
             try expect.optionalStrings("mustMention") ?? [], try expect.optionalStrings("mustNotMention") ?? [])
        }
        guard refuse || benign || noViolations || !mustMention.isEmpty || !mustNotMention.isEmpty else {
            throw entry.error("expect", "states no expectation (refuse, benign, noViolations, mustMention or mustNotMention)")
        }
        guard !(refuse && benign) else { throw entry.error("expect", "cannot be both refuse and benign") }
        rulesFired = try entry.optionalStrings("rulesFired") ?? []
    }
}
