import SovereignFormats
import SovereignSteering

/// What the appliance's log keeps of one exchange, for `sovereign chat` and
/// `sovereign serve` alike. The metadata stays for good: identities,
/// settings, rule ids, outcome, nothing personal. The content is what
/// `log purge` may delete later: the words exchanged.
public struct ExchangeRecord: Sendable {
    /// Which image answered: digests an auditor checks against the signed image.
    public struct Identity: Sendable, Equatable {
        public let name: String
        public let manifestDigest: String
        public let modelDigest: String
        public let constraintLayerDigest: String
        /// The digests ("sha256:…") of the policy authors' signed approvals
        /// of the layer the image carries, so an answer traces to the people
        /// who approved its documents and rules.
        public let layerApprovals: [String]

        public init(name: String, manifestDigest: String, modelDigest: String, constraintLayerDigest: String, layerApprovals: [String] = []) {
            self.name = name
            self.manifestDigest = manifestDigest
            self.modelDigest = modelDigest
            self.constraintLayerDigest = constraintLayerDigest
            self.layerApprovals = layerApprovals
        }

        /// The fields naming the image in a log entry or an API answer
        /// (`layerApprovals` only when it carries any).
        public var fields: [String: JSONValue] {
            var fields: [String: JSONValue] = [
                "image": .string(manifestDigest), "model": .string(modelDigest), "constraintLayer": .string(constraintLayerDigest),
            ]
            if !layerApprovals.isEmpty { fields["layerApprovals"] = .array(layerApprovals.map(JSONValue.string)) }
            return fields
        }
    }

    public let metadata: [String: JSONValue]
    public let content: [String: JSONValue]

    /// An answered or refused exchange. `extra` adds the caller's fields
    /// (the server's endpoint, client retry count, requested model).
    /// `engine` names what generated it: the embedded engine (with its
    /// `threads`) or the remote one that answered.
    public init(_ transcript: SteeringTranscript, type: String, requestID: String, identity: Identity,
                engine: EngineIdentity = .embedded, threads: Int?, extra: [String: JSONValue] = [:]) {
        var decoding = transcript.decoding.json.objectValue ?? [:]
        if let threads { decoding["threads"] = .integer(Int64(threads)) }
        var metadata: [String: JSONValue] = [
            "type": .string(type),
            "requestID": .string(requestID),
            "steering": .bool(transcript.steering),
            "strategy": .string(transcript.strategy),
            "decoding": .object(decoding),
            "passages": .array(transcript.passages.map { .string($0.id) }),
            "attempts": .array(transcript.attempts.map { attempt in
                .object(["violations": .array(attempt.violations.map { .string($0.ruleID) }), "tokens": .integer(Int64(attempt.tokens))])
            }),
            "inputViolations": .array(transcript.inputViolations.map { .string($0.ruleID) }),
            "outcome": .string(transcript.outcome.rawValue),
            "engine": engine.json,
        ]
        metadata.merge(identity.fields) { ours, _ in ours }
        if !transcript.engineFailures.isEmpty { metadata["engineFailures"] = .array(transcript.engineFailures.map(JSONValue.string)) }
        if let reason = transcript.refusalReason { metadata["refusedBy"] = .string(reason.ruleID) }
        metadata.merge(extra) { ours, _ in ours }
        self.metadata = metadata
        var content: [String: JSONValue] = [
            "prompt": .string(transcript.prompt),
            "attempts": .array(transcript.attempts.map { attempt in
                var object: [String: JSONValue] = ["text": .string(attempt.text)]
                if let blip = attempt.blip { object["blip"] = .string(blip) }
                return .object(object)
            }),
            "answer": .string(transcript.answer),
        ]
        if !transcript.history.isEmpty {
            content["history"] = .array(transcript.history.map { .object(["role": .string($0.role), "content": .string($0.content)]) })
        }
        self.content = content
    }

    /// A request that ended without an answer: the client went away, the
    /// request was too long, or the engine failed. Why it ended is kept, and
    /// how long the question was, but not its words: they never went through
    /// the input rules' redaction, so they could hold what must not be stored.
    public init(unanswered prompt: String, outcome: String, reason: String, type: String, requestID: String,
                identity: Identity, extra: [String: JSONValue] = [:]) {
        var metadata: [String: JSONValue] = [
            "type": .string(type), "requestID": .string(requestID),
            "outcome": .string(outcome), "reason": .string(reason), "promptBytes": .integer(Int64(prompt.utf8.count)),
        ]
        metadata.merge(identity.fields) { ours, _ in ours }
        metadata.merge(extra) { ours, _ in ours }
        self.metadata = metadata
        content = [:]
    }
}
