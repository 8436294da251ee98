import SovereignFormats
import SovereignSteering

/// The JSON of answers, in OpenAI's shapes: a whole `chat.completion` or
/// `text_completion`, or the chunks of a stream (`chat.completion.chunk`;
/// the legacy endpoint streams `text_completion` objects). Each carries
/// a `sovereign` object OpenAI's clients ignore and an auditor reads: the
/// outcome, the attempts, the rules broken, the passages cited, and the
/// index of the exchange in the appliance's log.
struct CompletionResponse {
    let endpoint: CompletionRequest.Endpoint
    let id: String
    let created: Int64
    let model: String

    /// `finish_reason` as OpenAI spells it.
    static func finishReason(_ transcript: SteeringTranscript) -> String {
        if transcript.outcome == .refused { return "content_filter" }
        return transcript.finishReason == "length" ? "length" : "stop"
    }

    static func usage(_ transcript: SteeringTranscript) -> JSONValue {
        let completion = transcript.attempts.reduce(0) { $0 + $1.tokens }
        return .object([
            "prompt_tokens": .integer(Int64(transcript.promptTokens)),
            "completion_tokens": .integer(Int64(completion)),
            "total_tokens": .integer(Int64(transcript.promptTokens + completion)),
        ])
    }

    static func sovereign(_ transcript: SteeringTranscript, logIndex: UInt64?, layer: String) -> JSONValue {
        var object: [String: JSONValue] = [
            "outcome": .string(transcript.outcome.rawValue),
            "attempts": .integer(Int64(transcript.attempts.count)),
            "violations": .array((transcript.inputViolations + transcript.attempts.flatMap(\.violations)).map { .string($0.ruleID) }),
            "passages": .array(transcript.passages.map { .string($0.id) }),
            "strategy": .string(transcript.strategy),
            "constraintLayer": .string(layer),
        ]
        if let logIndex { object["logIndex"] = .integer(Int64(logIndex)) }
        if let reason = transcript.refusalReason { object["refusedBy"] = .string(reason.ruleID) }
        return .object(object)
    }

    /// The whole answer (`stream: false`).
    func complete(_ transcript: SteeringTranscript, sovereign: JSONValue) -> JSONValue {
        let finish = Self.finishReason(transcript)
        let choice: JSONValue
        switch endpoint {
        case .chat:
            choice = .object([
                "index": .integer(0),
                "message": .object([
                    "role": .string("assistant"), "content": .string(transcript.answer),
                    "refusal": transcript.outcome == .refused ? .string(transcript.answer) : .null,
                ]),
                "logprobs": .null, "finish_reason": .string(finish),
            ])
        case .completions:
            choice = .object(["index": .integer(0), "text": .string(transcript.answer), "logprobs": .null, "finish_reason": .string(finish)])
        }
        return .object([
            "id": .string(id), "object": .string(endpoint.rawValue), "created": .integer(created), "model": .string(model),
            "choices": .array([choice]), "usage": Self.usage(transcript), "system_fingerprint": .null, "sovereign": sovereign,
        ])
    }

    /// One chunk of a stream: `delta` (chat) or `text` (completions),
    /// `finish` on the last; `usage` null on every chunk when the client
    /// asked for usage (OpenAI's shape), absent otherwise.
    func chunk(role: Bool = false, text: String?, finish: String? = nil, includeUsage: Bool,
               sovereign: JSONValue? = nil) -> JSONValue {
        var choice: [String: JSONValue] = ["index": .integer(0), "logprobs": .null, "finish_reason": finish.map { .string($0) } ?? .null]
        switch endpoint {
        case .chat:
            var delta: [String: JSONValue] = [:]
            if role { delta["role"] = .string("assistant") }
            if let text { delta["content"] = .string(text) }
            choice["delta"] = .object(delta)
        case .completions:
            choice["text"] = .string(text ?? "")
        }
        var object: [String: JSONValue] = [
            "id": .string(id), "object": .string(endpoint == .chat ? "chat.completion.chunk" : "text_completion"),
            "created": .integer(created), "model": .string(model), "choices": .array([.object(choice)]),
            "system_fingerprint": .null,
        ]
        if includeUsage { object["usage"] = .null }
        if let sovereign { object["sovereign"] = sovereign }
        return .object(object)
    }

    /// The last chunk when usage was asked for: no choices, the usage.
    func usageChunk(_ transcript: SteeringTranscript) -> JSONValue {
        .object([
            "id": .string(id), "object": .string(endpoint == .chat ? "chat.completion.chunk" : "text_completion"),
            "created": .integer(created), "model": .string(model), "choices": .array([]),
            "usage": Self.usage(transcript), "system_fingerprint": .null,
        ])
    }

    /// A server-sent event carrying `value`.
    static func event(_ value: JSONValue) -> [UInt8] {
        Array("data: ".utf8) + CanonicalJSON.serialize(value) + Array("\n\n".utf8)
    }

    static let done = Array("data: [DONE]\n\n".utf8)
}
