import SovereignFormats
import SovereignInference
import SovereignSteering

/// A `POST /v1/chat/completions` or `POST /v1/completions` body, read
/// strictly: every field OpenAI defines is either honoured or, when it asks
/// for something we do not do (`n` > 1, tools, log-probabilities,
/// penalties, logit bias, JSON mode), refused with a 400 that names it.
/// A field OpenAI does not define is refused too: silence would let a
/// client believe a setting took effect.
public struct CompletionRequest: Sendable, Equatable {
    public enum Endpoint: String, Sendable {
        case chat = "chat.completion"
        case completions = "text_completion"
    }

    public let endpoint: Endpoint
    /// The model the client named (any name is served by the installed model; it is logged).
    public let model: String
    /// The last user message (chat) or the prompt (completions).
    public let prompt: String
    /// Earlier turns (chat only).
    public let history: [ChatMessage]
    public let stream: Bool
    public let includeUsage: Bool
    public let overrides: DecodingOverrides
    public let stop: [String]
    /// OpenAI's end-user id, if the client sent one: accepted, never stored
    /// (the log's metadata is permanent and it may identify a person).
    public let user: String?

    /// Bounds on what a stranger can send beyond the body size.
    static let maxMessages = 256
    static let maxStops = 4
    static let maxStopBytes = 256

    public var steeringRequest: SteeringRequest {
        SteeringRequest(prompt: prompt, history: history, steering: true, overrides: overrides, stop: stop)
    }

    public static func parse(_ body: [UInt8], endpoint: Endpoint) throws(APIError) -> CompletionRequest {
        var unsupported: APIError?
        let request: CompletionRequest
        do {
            request = try JSONObjectReader.read(parsing: body, source: "request body", mode: .strict.readingNullAsAbsent,
                                                what: "the request body") { root throws(FormatsError) in
                try CompletionRequest(root: &root, endpoint: endpoint, unsupported: &unsupported)
            }
        } catch {
            throw unsupported ?? APIError.invalid(error.reason)
        }
        if let unsupported { throw unsupported }
        return request
    }

    /// Reads the fields; throws `FormatsError` for shape errors and notes
    /// the first setting we do not support in `unsupported`.
    private init(root: inout JSONObjectReader, endpoint: Endpoint, unsupported: inout APIError?) throws(FormatsError) {
        func refuse(_ param: String, _ message: String) {
            if unsupported == nil { unsupported = .unsupported(param, message) }
        }
        self.endpoint = endpoint
        model = try root.optionalString("model") ?? ""
        if endpoint == .chat {
            let messages = try root.array("messages")
            guard !messages.isEmpty else { throw root.error("messages", "must hold at least one message") }
            guard messages.count <= Self.maxMessages else {
                throw root.error("messages", "holds \(messages.count) messages; at most \(Self.maxMessages) are accepted")
            }
            var turns: [ChatMessage] = []
            for (index, message) in messages.enumerated() {
                turns.append(try JSONObjectReader.read(message, source: "request body", path: "messages[\(index)]",
                                                       mode: .strict.readingNullAsAbsent, what: "a message") { m throws(FormatsError) in
                    try Self.message(&m, refuse: refuse)
                })
            }
            guard let last = turns.last, last.role == "user" else {
                throw root.error("messages", "must end with a user message (the question to answer)")
            }
            prompt = last.content
            history = Array(turns.dropLast())
        } else {
            switch root.optionalValue("prompt") {
            case .string(let text)?:
                prompt = text
            case .array(let items)? where items.count == 1:
                guard case .string(let text) = items[0] else { throw root.error("prompt", "must be a string") }
                prompt = text
            case .array?:
                refuse("prompt", "only one prompt per request is supported")
                prompt = ""
            case nil:
                throw root.error("prompt", "is missing")
            default:
                throw root.error("prompt", "must be a string")
            }
            history = []
            if try root.optionalBool("echo") == true { refuse("echo", "echo is not supported") }
            if root.optionalValue("suffix") != nil { refuse("suffix", "suffix is not supported") }
            if let bestOf = try root.optionalInteger("best_of"), bestOf != 1 {
                refuse("best_of", "best_of must be 1")
            }
        }

        stream = try root.optionalBool("stream") ?? false
        var includeUsage = false
        if root.has("stream_options") {
            guard stream else { throw root.error("stream_options", "is only allowed when stream is true") }
            includeUsage = try root.object("stream_options") { options throws(FormatsError) in
                try options.optionalBool("include_usage") ?? false
            }
        }
        self.includeUsage = includeUsage

        let temperature = try root.optionalNumber("temperature")
        if let temperature, !(0...2).contains(temperature) {
            throw root.error("temperature", "must be between 0 and 2, got \(temperature)")
        }
        let topP = try root.optionalNumber("top_p")
        if let topP, !(topP > 0 && topP <= 1) { throw root.error("top_p", "must be in (0, 1], got \(topP)") }
        let maxTokens = try root.optionalInteger("max_tokens", in: 1...1_000_000)
        let maxCompletionTokens = try root.optionalInteger("max_completion_tokens", in: 1...1_000_000)
        if maxTokens != nil, maxCompletionTokens != nil {
            throw root.error("max_tokens", "give max_tokens or max_completion_tokens, not both")
        }
        let seed = try root.optionalInteger("seed")
        overrides = DecodingOverrides(temperature: temperature, topP: topP, seed: seed,
                                      maxTokens: (maxCompletionTokens ?? maxTokens).map(Int.init))

        switch root.optionalValue("stop") {
        case nil: stop = []
        case .string(let text)?: stop = [text]
        case .array(let items)?:
            guard items.count <= Self.maxStops else { throw root.error("stop", "holds \(items.count) strings; at most \(Self.maxStops)") }
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw root.error("stop", "must be a string or an array of strings") }
                strings.append(text)
            }
            stop = strings
        default:
            throw root.error("stop", "must be a string or an array of strings")
        }
        for text in stop where text.isEmpty || text.utf8.count > Self.maxStopBytes {
            throw root.error("stop", "each stop string must be 1 to \(Self.maxStopBytes) bytes")
        }
        user = try root.optionalString("user")

        // What OpenAI defines and we do not do: accepted only at its neutral value.
        if let n = try root.optionalInteger("n"), n != 1 { refuse("n", "n must be 1: one choice per request") }
        if try root.optionalBool("logprobs") == true {
            refuse("logprobs", "logprobs are not supported")
        }
        if root.optionalValue("top_logprobs") != nil { refuse("top_logprobs", "top_logprobs are not supported") }
        for penalty in ["frequency_penalty", "presence_penalty"] {
            if let value = try root.optionalNumber(penalty), value != 0 {
                refuse(penalty, "\(penalty) is not supported (only 0)")
            }
        }
        if let bias = try root.optionalRawObject("logit_bias"), !bias.isEmpty {
            refuse("logit_bias", "logit_bias is not supported")
        }
        if endpoint == .chat {
            if let tools = try root.optionalArray("tools"), !tools.isEmpty {
                refuse("tools", "tools are not supported")
            }
            if root.optionalValue("functions") != nil { refuse("functions", "functions are not supported") }
            switch root.optionalValue("tool_choice") {
            case nil, .string("none")?: break
            default: refuse("tool_choice", "tool_choice must be \"none\": tools are not supported")
            }
            _ = try root.optionalBool("parallel_tool_calls")
            if root.has("response_format") {
                let type = try root.object("response_format") { format throws(FormatsError) in try format.string("type") }
                if type != "text" { refuse("response_format", "response_format must be {\"type\": \"text\"}") }
            }
            if try root.optionalBool("store") == true { refuse("store", "store is not supported") }
            _ = root.optionalValue("metadata")
        }
    }

    /// One chat message: role and text (a string or text parts).
    private static func message(_ m: inout JSONObjectReader, refuse: (String, String) -> Void) throws(FormatsError) -> ChatMessage {
        let role = try m.string("role")
        switch role {
        case "system", "developer", "user", "assistant": break
        case "tool", "function": refuse("messages", "messages with role '\(role)' are not supported (no tools)")
        default: throw m.error("role", "must be system, developer, user or assistant, got '\(role)'")
        }
        _ = try m.optionalString("name")
        if let calls = try m.optionalArray("tool_calls"), !calls.isEmpty {
            refuse("messages", "assistant tool_calls are not supported")
        }
        _ = m.optionalValue("refusal")
        let text: String
        switch m.optionalValue("content") {
        case .string(let value)?:
            text = value
        case .array(let parts)?:
            var joined = ""
            for (index, part) in parts.enumerated() {
                joined += try JSONObjectReader.read(part, source: "request body", path: m.fieldPath("content[\(index)]"),
                                                    mode: .strict, what: "a content part") { p throws(FormatsError) in
                    let type = try p.string("type")
                    guard type == "text" else {
                        refuse("messages", "content parts of type '\(type)' are not supported (text only)")
                        return ""
                    }
                    return try p.string("text")
                }
            }
            text = joined
        case nil where role == "assistant":
            text = ""
        default:
            throw m.error("content", "must be a string or an array of text parts")
        }
        return ChatMessage(role: role == "developer" ? "system" : role, content: text)
    }
}
