import SovereignFormats
import SovereignInference

/// Everything one request went through: what was retrieved, every attempt
/// with its violations and blips, and the final answer or refusal. The
/// same layer, prompt and settings give byte-identical transcripts on any
/// machine and thread count (the engine is deterministic), so an auditor
/// can replay a logged exchange and compare.
public struct SteeringTranscript: Sendable, Equatable {
    /// A rule broken by an attempt (or by the prompt).
    public struct Finding: Sendable, Equatable {
        public let ruleID: String
        public let passageID: String
        public let kind: String
        public let severity: String
        public let blip: String
        public let message: String
        /// UTF-8 byte offset in the attempt's answer where the violating
        /// text begins (nil for end-of-answer rules such as `require`).
        public let offset: Int?

        public init(ruleID: String, passageID: String, kind: String, severity: String, blip: String, message: String, offset: Int?) {
            self.ruleID = ruleID
            self.passageID = passageID
            self.kind = kind
            self.severity = severity
            self.blip = blip
            self.message = message
            self.offset = offset
        }
    }

    /// One generation: its text (up to where the violation stopped it),
    /// what it broke, and how it was corrected.
    public struct Attempt: Sendable, Equatable {
        public let text: String
        public let tokens: Int
        public let violations: [Finding]
        /// The blip injected after this attempt, if it was corrected.
        public let blip: String?
        /// For `resume`: the bytes of `text` kept before the blip.
        public let keptBytes: Int?
    }

    public struct RetrievedPassage: Sendable, Equatable {
        public let id: String
        public let score: Double
    }

    public enum Outcome: String, Sendable {
        /// The first attempt was compliant.
        case answered
        /// A later attempt was compliant after one or more blips.
        case corrected
        /// Refused: by an input rule before generating, or after `maxAttempts`.
        case refused
    }

    public let steering: Bool
    public let strategy: String
    /// The prompt as the model saw it (after redaction).
    public let prompt: String
    /// The turns before the prompt, as the model saw them (after redaction).
    public let history: [ChatMessage]
    /// The decode settings the request ran with.
    public let decoding: EffectiveDecoding
    public let redactions: [String]
    public let passages: [RetrievedPassage]
    /// The `require` rules the question triggered, whose blips the system
    /// prompt stated before generation.
    public let announced: [String]
    public let attempts: [Attempt]
    /// Input rules the prompt broke (a refusal before any generation).
    public let inputViolations: [Finding]
    public let outcome: Outcome
    /// The answer returned to the user (the refusal text when refused).
    public let answer: String
    /// The rule that caused a refusal.
    public let refusalReason: Finding?
    public let finishReason: String
    public let promptTokens: Int
    /// Prompt tokens whose keys and values came from a cache. Not in
    /// `json`: it depends on what ran before, and the transcript (and its
    /// digest, which certification compares) must not.
    public let reusedPromptTokens: Int
    /// The remote engine that generated the answer (nil: the embedded
    /// engine, whose transcripts stay as they were so replays compare).
    public internal(set) var engine: EngineIdentity? = nil
    /// Engines that failed this request before one answered: "url: reason".
    public internal(set) var engineFailures: [String] = []

    public var json: JSONValue {
        func finding(_ f: Finding) -> JSONValue {
            var object: [String: JSONValue] = [
                "rule": .string(f.ruleID), "passage": .string(f.passageID), "kind": .string(f.kind),
                "severity": .string(f.severity), "blip": .string(f.blip), "message": .string(f.message),
            ]
            if let offset = f.offset { object["offset"] = .integer(Int64(offset)) }
            return .object(object)
        }
        var object: [String: JSONValue] = [
            "steering": .bool(steering), "strategy": .string(strategy), "prompt": .string(prompt),
            "decoding": decoding.json,
            "redactions": .array(redactions.map(JSONValue.string)),
            "announced": .array(announced.map(JSONValue.string)),
            "passages": .array(passages.map { .object(["id": .string($0.id), "score": .string(String(format6: $0.score))]) }),
            "attempts": .array(attempts.map { attempt in
                var value: [String: JSONValue] = [
                    "text": .string(attempt.text), "tokens": .integer(Int64(attempt.tokens)),
                    "violations": .array(attempt.violations.map(finding)),
                ]
                if let blip = attempt.blip { value["blip"] = .string(blip) }
                if let kept = attempt.keptBytes { value["keptBytes"] = .integer(Int64(kept)) }
                return .object(value)
            }),
            "inputViolations": .array(inputViolations.map(finding)),
            "outcome": .string(outcome.rawValue), "answer": .string(answer), "finishReason": .string(finishReason),
            "citations": .array(passages.map { .string($0.id) }),
            "promptTokens": .integer(Int64(promptTokens)),
        ]
        if let refusalReason { object["refusalReason"] = finding(refusalReason) }
        if let engine { object["engine"] = engine.json }
        if !engineFailures.isEmpty { object["engineFailures"] = .array(engineFailures.map(JSONValue.string)) }
        if !history.isEmpty {
            object["history"] = .array(history.map { .object(["role": .string($0.role), "content": .string($0.content)]) })
        }
        return .object(object)
    }
}

extension String {
    /// A score with six decimals: stable text across platforms for transcripts.
    init(format6 value: Double) {
        let scaled = (value * 1_000_000).rounded()
        let sign = scaled < 0 ? "-" : ""
        let magnitude = Int64(abs(scaled))
        let fraction = String(magnitude % 1_000_000)
        self = sign + String(magnitude / 1_000_000) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}

extension EffectiveDecoding {
    /// As transcripts and the log record it (numbers as text: the same bytes everywhere).
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "temperature": .string(String(format6: temperature)), "seed": .integer(seed), "maxTokens": .integer(Int64(maxTokens)),
        ]
        if let topK { object["topK"] = .integer(Int64(topK)) }
        if let topP { object["topP"] = .string(String(format6: topP)) }
        if !stop.isEmpty { object["stop"] = .array(stop.map(JSONValue.string)) }
        return .object(object)
    }
}
