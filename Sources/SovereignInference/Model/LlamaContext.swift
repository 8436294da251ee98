import CInferenceKernels
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A running llama model: the key/value cache of the tokens seen so far,
/// on an engine (`LlamaEngine`) that owns the threads and scratch memory of
/// the forward pass. Not thread-safe: one caller at a time. Several
/// contexts of one engine may be used from different threads at once; their
/// evaluations are then decoded together, with results bit-identical to
/// each running alone. `@unchecked Sendable` because a context may be
/// handed from thread to thread (a server's slot serves one connection
/// after another); it is used by one thread at a time.
///
/// Prompts are evaluated in batches of up to `batchSize` tokens, so each
/// weight row is decoded once per batch rather than once per token.
/// Results do not depend on the thread count, nor on how tokens are split
/// into batches, nor on other contexts' tokens in the same batch: every
/// number is computed by one thread, in one order, from its own row.
public final class LlamaContext: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Positions in the key/value cache (the most tokens the context holds).
        public var contextLength: Int
        /// Threads for the forward pass (the caller's thread is one of them).
        public var threadCount: Int
        /// Tokens evaluated together when a prompt is processed.
        public var batchSize: Int
        /// Which machine code runs the kernels (the results are the same).
        public var kernels: KernelSelection

        public init(contextLength: Int = 1024, threadCount: Int = 1, batchSize: Int = 64,
                    kernels: KernelSelection = .automatic) {
            self.contextLength = contextLength
            self.threadCount = threadCount
            self.batchSize = batchSize
            self.kernels = kernels
        }
    }

    public let engine: LlamaEngine
    public var model: LlamaModel { engine.model }
    public var configuration: Configuration { engine.configuration }
    /// The tokens whose keys and values are cached, in order.
    public private(set) var tokens: [TokenID] = []
    /// Tokens run through the forward pass since this context was made:
    /// how callers prove that a cached prefix was not computed again.
    public private(set) var evaluatedTokenCount = 0
    /// Prompt tokens copied from another context's cache instead of computed.
    public private(set) var adoptedTokenCount = 0
    /// The threads actually running (fewer than asked if the OS refused some).
    public var threadCount: Int { engine.threadCount }

    let cache: KVCache
    /// Logits after the last evaluated token (vocabulary size), when valid.
    let lastLogits: UnsafeMutablePointer<Float>
    private var hasLogits = false

    /// Makes a context for `model` on an engine of its own. Sizes must be
    /// positive; the context length may exceed the model's trained context
    /// (quality then degrades, as with llama.cpp).
    public convenience init(model: LlamaModel, configuration: Configuration = Configuration()) {
        self.init(engine: LlamaEngine(model: model, configuration: configuration))
    }

    /// A context on `engine` (`engine.makeContext()`).
    init(engine: LlamaEngine) {
        self.engine = engine
        let shape = engine.model.hyperParameters
        cache = KVCache(layerCount: shape.blockCount, capacity: engine.configuration.contextLength,
                        width: shape.keyValueWidth)
        lastLogits = .allocate(capacity: shape.vocabularySize)
        engine.register(self)
    }

    deinit { lastLogits.deallocate() }

    /// Use the scalar twins of the kernels (tests compare whole passes).
    var usesReferenceKernels: Bool {
        get { engine.multiplier.usesReferenceKernels }
        set { engine.multiplier.usesReferenceKernels = newValue }
    }

    // MARK: Evaluating

    /// Runs `newTokens` through the model after the cached ones; afterwards
    /// `withLogits` gives the logits that predict the next token.
    public func evaluate(_ newTokens: [TokenID]) throws(GGUFError) {
        try check(newTokens)
        guard !newTokens.isEmpty else { return }
        hasLogits = false
        engine.run(LlamaEngine.Job(context: self, tokens: newTokens, allLogits: nil))
        hasLogits = true
    }

    /// Makes `prompt` the whole content of the context, reusing the longest
    /// prefix already computed — this context's own cache, or another
    /// context's of the same engine (its keys and values are copied: they
    /// depend only on the tokens before them, so the results are the same
    /// bits). The last prompt token is always run again, since its logits
    /// are what the next sample needs. Returns how many tokens were reused.
    @discardableResult
    public func evaluate(prompt: [TokenID]) throws(GGUFError) -> Int {
        try check(prompt, replacing: true)
        guard !prompt.isEmpty else {
            removeTokens(from: 0)
            return 0
        }
        let limit = prompt.count - 1
        let reused = engine.whileQuiescent { () -> Int in
            let own = Self.commonPrefix(tokens, prompt, limit: limit)
            truncate(to: own)
            guard let (donor, shared) = engine.bestDonor(for: prompt, limit: limit, atLeast: own, excluding: self) else {
                return own
            }
            cache.copy(positions: own ..< shared, from: donor.cache)
            tokens += prompt[own ..< shared]
            adoptedTokenCount += shared - own
            return shared
        }
        try evaluate(Array(prompt[reused...]))
        return reused
    }

    /// Runs `newTokens` and returns the logits after each of them
    /// (teacher forcing): `result[i]` predicts the token after `newTokens[i]`.
    public func evaluateReturningAllLogits(_ newTokens: [TokenID]) throws(GGUFError) -> [[Float]] {
        try check(newTokens)
        guard !newTokens.isEmpty else { return [] }
        let vocabulary = model.hyperParameters.vocabularySize
        let all = UnsafeMutablePointer<Float>.allocate(capacity: newTokens.count * vocabulary)
        defer { all.deallocate() }
        hasLogits = false
        engine.run(LlamaEngine.Job(context: self, tokens: newTokens, allLogits: all))
        lastLogits.update(from: all + (newTokens.count - 1) * vocabulary, count: vocabulary)
        hasLogits = true
        return (0 ..< newTokens.count).map { Array(UnsafeBufferPointer(start: all + $0 * vocabulary, count: vocabulary)) }
    }

    /// Called by the engine, within the step, once `newTokens` are cached.
    func didEvaluate(_ newTokens: [TokenID]) {
        tokens += newTokens
        evaluatedTokenCount += newTokens.count
    }

    /// Tells the engine this context will not evaluate again soon (its
    /// request ended), so batched steps stop waiting for it.
    public func markIdle() { engine.markIdle(self) }

    /// Calls `body` with the logits after the last evaluated token (empty
    /// before any evaluation or after `removeTokens`).
    public func withLogits<R, E: Error>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: lastLogits, count: hasLogits ? model.hyperParameters.vocabularySize : 0))
    }

    /// The logits after the last evaluated token (a copy).
    public var logits: [Float] { withLogits { Array($0) } }

    /// Forgets every cached token from `count` on (keeps the first `count`).
    public func removeTokens(from count: Int) {
        precondition(count >= 0)
        guard count < tokens.count else { return }
        // Under the engine's lock: another context may be reading these
        // tokens to adopt a shared prefix.
        engine.whileQuiescent { truncate(to: count) }
    }

    private func truncate(to count: Int) {
        guard count < tokens.count else { return }
        tokens.removeSubrange(count...)
        hasLogits = false
    }

    /// How many leading tokens `a` and `b` share, at most `limit`.
    static func commonPrefix(_ a: [TokenID], _ b: [TokenID], limit: Int) -> Int {
        var common = 0
        let end = min(a.count, b.count, limit)
        while common < end && a[common] == b[common] { common += 1 }
        return common
    }

    /// Forgets every cached token.
    public func reset() { removeTokens(from: 0) }

    /// Every token in the vocabulary, and room for them (after the cached
    /// tokens, or from the start when `replacing`).
    private func check(_ newTokens: [TokenID], replacing: Bool = false) throws(GGUFError) {
        let vocabulary = model.hyperParameters.vocabularySize
        for token in newTokens where token < 0 || Int(token) >= vocabulary {
            throw GGUFError.invalidToken(source: model.file.source, token: token, vocabularySize: vocabulary)
        }
        let needed = (replacing ? 0 : tokens.count) + newTokens.count
        guard needed <= configuration.contextLength else {
            throw GGUFError.contextFull(source: model.file.source, needed: needed, contextLength: configuration.contextLength)
        }
    }
}
