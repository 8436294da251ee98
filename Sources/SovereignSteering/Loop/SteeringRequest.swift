import SovereignPolicy
import SovereignInference

/// One request to the steering runtime: the question, the conversation
/// before it, and the caller's decode settings where it may set them (a
/// server's `temperature`, `top_p`, `seed`, `max_tokens`, `stop`).
public struct SteeringRequest: Sendable, Equatable {
    /// The last user message: what retrieval searches and the rules' `when` test.
    public var prompt: String
    /// Earlier turns, in order: `user`, `assistant` and the client's own
    /// `system` messages (they come after the layer's system prompt, never
    /// instead of it). User and system text passes the input rules too.
    public var history: [ChatMessage]
    /// False: the bare model (no persona, passages or rules), for comparison.
    public var steering: Bool
    public var overrides: DecodingOverrides
    /// Generation ends before the first of these strings; it is not part of the answer.
    public var stop: [String]

    public init(prompt: String, history: [ChatMessage] = [], steering: Bool = true,
                overrides: DecodingOverrides = .init(), stop: [String] = []) {
        self.prompt = prompt
        self.history = history
        self.steering = steering
        self.overrides = overrides
        self.stop = stop
    }
}

/// A request's changes to the layer's decode settings (nil: the layer's).
public struct DecodingOverrides: Sendable, Equatable {
    public var temperature: Double?
    public var topP: Double?
    public var seed: Int64?
    /// At most the layer's `maxTokens`: the operator's bound stays.
    public var maxTokens: Int?

    public init(temperature: Double? = nil, topP: Double? = nil, seed: Int64? = nil, maxTokens: Int? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.maxTokens = maxTokens
    }
}

/// The decode settings a request actually ran with, as the transcript
/// records them for replay.
public struct EffectiveDecoding: Sendable, Equatable {
    public let temperature: Double
    public let topK: Int?
    public let topP: Double?
    public let seed: Int64
    public let maxTokens: Int
    public let stop: [String]

    init(layer: RuntimeSettings.Decoding, request: SteeringRequest) {
        temperature = request.overrides.temperature ?? layer.temperature
        topK = layer.topK
        topP = request.overrides.topP ?? layer.topP
        seed = request.overrides.seed ?? layer.seed
        maxTokens = min(request.overrides.maxTokens ?? layer.maxTokens, layer.maxTokens)
        stop = request.stop
    }

    var sampling: SamplingParameters {
        guard temperature > 0 else { return .greedy }
        return SamplingParameters(temperature: Float(temperature), topK: topK ?? 40, topP: Float(topP ?? 0.95),
                                  seed: UInt64(bitPattern: seed))
    }
}
