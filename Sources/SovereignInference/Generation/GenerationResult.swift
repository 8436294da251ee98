/// What to generate and when to stop.
public struct GenerationOptions: Sendable, Equatable {
    /// Most tokens to generate (the end-of-generation token counts).
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Stop at an end-of-generation token (EOS, `<|im_end|>`, …).
    public var stopsAtEndOfGeneration: Bool

    public init(maxTokens: Int = 256, sampling: SamplingParameters = .greedy, stopsAtEndOfGeneration: Bool = true) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopsAtEndOfGeneration = stopsAtEndOfGeneration
    }
}

/// One generated token as it streams out.
public struct GeneratedToken: Sendable, Equatable {
    public var id: TokenID
    /// Text completed by this token: may be empty (a character split across
    /// tokens, or a control token), or hold text held back before.
    public var text: String
    /// Position in the output (0 for the first generated token).
    public var index: Int
}

/// Wall-clock time spent, split as llama.cpp reports it.
public struct GenerationTimings: Sendable, Equatable {
    /// Prompt tokens run through the model (those already cached are not).
    public var promptTokens: Int = 0
    /// Prompt tokens whose keys and values were reused from the last call.
    public var reusedPromptTokens: Int = 0
    public var promptSeconds: Double = 0
    public var generatedTokens: Int = 0
    /// From the first sampled token to the last.
    public var generationSeconds: Double = 0

    public var promptTokensPerSecond: Double {
        promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0
    }

    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0
    }
}

/// A finished generation.
public struct GenerationResult: Sendable, Equatable {
    public enum FinishReason: String, Sendable {
        /// The model produced an end-of-generation token (included in `tokens`).
        case endOfGeneration
        /// `maxTokens` were generated.
        case maxTokens
        /// The context is full.
        case contextFull
        /// The caller's token handler asked to stop.
        case stopped
    }

    /// Every generated token, the end-of-generation token included.
    public var tokens: [TokenID]
    /// Their text (control tokens render as nothing).
    public var text: String
    public var finishReason: FinishReason
    public var timings: GenerationTimings
}
