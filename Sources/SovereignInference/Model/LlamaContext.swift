import CInferenceKernels
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A running llama model: the key/value cache of the tokens seen so far and
/// the scratch memory and threads to run the forward pass. Not thread-safe:
/// one caller at a time (the threads it owns are for one forward pass).
///
/// Prompts are evaluated in batches of up to `batchSize` tokens, so each
/// weight row is decoded once per batch rather than once per token.
/// Results do not depend on the thread count, nor on how tokens are split
/// into batches: every number is computed by one thread, in one order.
public final class LlamaContext {
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

    public let model: LlamaModel
    public let configuration: Configuration
    /// The tokens whose keys and values are cached, in order.
    public private(set) var tokens: [TokenID] = []
    /// Tokens run through the forward pass since this context was made:
    /// how callers prove that a cached prefix was not computed again.
    public private(set) var evaluatedTokenCount = 0
    /// The threads actually running (fewer than asked if the OS refused some).
    public var threadCount: Int { pool.threadCount }

    private let cache: KVCache
    private let pool: ComputePool
    private let multiplier: MatrixMultiplier
    private let rotary: RotaryEmbedding
    private let scratch: Scratch
    /// Logits after the last evaluated token (vocabulary size), when valid.
    private let lastLogits: UnsafeMutablePointer<Float>
    private var hasLogits = false

    /// Makes a context for `model`. Sizes must be positive; the context
    /// length may exceed the model's trained context (quality then degrades,
    /// as with llama.cpp).
    public init(model: LlamaModel, configuration: Configuration = Configuration()) {
        precondition(configuration.contextLength > 0 && configuration.threadCount > 0 && configuration.batchSize > 0)
        let shape = model.hyperParameters
        self.model = model
        self.configuration = configuration
        cache = KVCache(layerCount: shape.blockCount, capacity: configuration.contextLength,
                        width: shape.keyValueWidth)
        pool = ComputePool(threadCount: configuration.threadCount)
        let widest = max(shape.embeddingLength, shape.feedForwardLength)
        multiplier = MatrixMultiplier(maxColumns: widest, maxRows: configuration.batchSize)
        multiplier.kernels = configuration.kernels
        rotary = RotaryEmbedding(hyperParameters: shape, positions: configuration.contextLength)
        scratch = Scratch(shape: shape, batchSize: configuration.batchSize,
                          threads: pool.threadCount)
        lastLogits = .allocate(capacity: shape.vocabularySize)
    }

    deinit { lastLogits.deallocate() }

    /// Use the scalar twins of the kernels (tests compare whole passes).
    var usesReferenceKernels: Bool {
        get { multiplier.usesReferenceKernels }
        set { multiplier.usesReferenceKernels = newValue }
    }

    // MARK: Evaluating

    /// Runs `newTokens` through the model after the cached ones; afterwards
    /// `withLogits` gives the logits that predict the next token.
    public func evaluate(_ newTokens: [TokenID]) throws(GGUFError) {
        try check(newTokens)
        guard !newTokens.isEmpty else { return }
        evaluatedTokenCount += newTokens.count
        hasLogits = false
        var start = 0
        while start < newTokens.count {
            let end = min(start + configuration.batchSize, newTokens.count)
            let isLast = end == newTokens.count
            forward(Array(newTokens[start ..< end]), logitRows: isLast ? (end - start - 1) ..< (end - start) : 0 ..< 0,
                    into: lastLogits)
            start = end
        }
        hasLogits = true
    }

    /// Runs `newTokens` and returns the logits after each of them
    /// (teacher forcing): `result[i]` predicts the token after `newTokens[i]`.
    public func evaluateReturningAllLogits(_ newTokens: [TokenID]) throws(GGUFError) -> [[Float]] {
        try check(newTokens)
        let vocabulary = model.hyperParameters.vocabularySize
        var all: [[Float]] = []
        all.reserveCapacity(newTokens.count)
        evaluatedTokenCount += newTokens.count
        let batchLogits = UnsafeMutablePointer<Float>.allocate(capacity: configuration.batchSize * vocabulary)
        defer { batchLogits.deallocate() }
        hasLogits = false
        var start = 0
        while start < newTokens.count {
            let end = min(start + configuration.batchSize, newTokens.count)
            forward(Array(newTokens[start ..< end]), logitRows: 0 ..< (end - start), into: batchLogits)
            for row in 0 ..< end - start {
                all.append(Array(UnsafeBufferPointer(start: batchLogits + row * vocabulary, count: vocabulary)))
            }
            start = end
        }
        if let last = all.last {
            lastLogits.update(from: last, count: vocabulary)
            hasLogits = true
        }
        return all
    }

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
        tokens.removeSubrange(count...)
        hasLogits = false
    }

    /// Forgets every cached token.
    public func reset() { removeTokens(from: 0) }

    private func check(_ newTokens: [TokenID]) throws(GGUFError) {
        let vocabulary = model.hyperParameters.vocabularySize
        for token in newTokens where token < 0 || Int(token) >= vocabulary {
            throw GGUFError.invalidToken(source: model.file.source, token: token, vocabularySize: vocabulary)
        }
        guard tokens.count + newTokens.count <= configuration.contextLength else {
            throw GGUFError.contextFull(source: model.file.source, needed: tokens.count + newTokens.count,
                                        contextLength: configuration.contextLength)
        }
    }

    // MARK: The forward pass

    /// Evaluates one batch at the next positions; writes the logits of the
    /// batch rows in `logitRows` to `logits` (one vocabulary-sized row each).
    private func forward(_ batch: [TokenID], logitRows: Range<Int>, into logits: UnsafeMutablePointer<Float>) {
        let shape = model.hyperParameters
        let count = batch.count
        let width = shape.embeddingLength, keyValueWidth = shape.keyValueWidth
        let ffnWidth = shape.feedForwardLength
        let start = tokens.count
        let s = scratch

        for (row, token) in batch.enumerated() {
            let embedding = model.tokenEmbedding
            embedding.traits.dequantizeRow(embedding.matrix.row(Int(token)), s.hidden + row * width, width)
        }

        for (index, layer) in model.layers.enumerated() {
            // Attention.
            normalize(count, with: layer.attentionNorm)
            multiplier.multiply([task(layer.query, s.query), task(layer.key, s.key), task(layer.value, s.value)],
                                input: s.normed, rows: count, columns: width, pool: pool)
            for row in 0 ..< count {
                rotary.apply(to: s.query + row * width, heads: shape.headCount, position: start + row,
                             kernels: configuration.kernels)
                rotary.apply(to: s.key + row * keyValueWidth, heads: shape.keyValueHeadCount, position: start + row,
                             kernels: configuration.kernels)
                cache.store(layer: index, position: start + row,
                            key: s.key + row * keyValueWidth, value: s.value + row * keyValueWidth)
            }
            attend(layer: index, rows: count, start: start)
            multiplier.multiply([task(layer.attentionOutput, s.projected)],
                                input: s.attention, rows: count, columns: width, pool: pool)
            VectorOperations.add(s.projected, to: s.hidden, count: count * width)

            // Feed-forward.
            normalize(count, with: layer.feedForwardNorm)
            multiplier.multiply([task(layer.gate, s.gate), task(layer.up, s.up)],
                                input: s.normed, rows: count, columns: width, pool: pool)
            sov_swiglu(s.gate, s.up, Int64(count * ffnWidth), configuration.kernels.c)
            multiplier.multiply([task(layer.down, s.projected)],
                                input: s.gate, rows: count, columns: ffnWidth, pool: pool)
            VectorOperations.add(s.projected, to: s.hidden, count: count * width)
        }
        tokens += batch

        guard !logitRows.isEmpty else { return }
        for (slot, row) in logitRows.enumerated() {
            VectorOperations.rmsNorm(s.hidden + row * width, weight: model.outputNorm, epsilon: shape.rmsNormEpsilon,
                                     count: width, into: s.normed + slot * width)
        }
        multiplier.multiply([task(model.output, logits)], input: s.normed, rows: logitRows.count,
                            columns: width, pool: pool)
    }

    private func task(_ weight: LlamaModel.Weight, _ output: UnsafeMutablePointer<Float>) -> MatrixMultiplier.Task {
        MatrixMultiplier.Task(weights: weight.matrix, traits: weight.traits, output: output)
    }

    /// `normed[row] = rmsNorm(hidden[row]) · weight` for the batch.
    private func normalize(_ count: Int, with weight: [Float]) {
        let width = model.hyperParameters.embeddingLength
        let epsilon = model.hyperParameters.rmsNormEpsilon
        for row in 0 ..< count {
            VectorOperations.rmsNorm(scratch.hidden + row * width, weight: weight, epsilon: epsilon,
                                     count: width, into: scratch.normed + row * width)
        }
    }

    /// Grouped-query attention of each batch row over the cached positions
    /// up to its own (causal), one (row, head) pair per work item, with
    /// llama.cpp's flash-attention arithmetic (`sov_attention_f16`; it uses
    /// that kernel whenever a batch has fewer than 64 tokens, as every
    /// generated token does).
    private func attend(layer: Int, rows: Int, start: Int) {
        let shape = model.hyperParameters
        let heads = shape.headCount, headSize = shape.headDimension, group = shape.groupSize
        let width = shape.embeddingLength
        let scale = 1 / sqrtf(Float(headSize))
        let s = scratch
        let keys = cache.keys(layer: layer), values = cache.values(layer: layer), stride = cache.width
        let kernels = configuration.kernels.c
        pool.forEachChunk(rows * heads) { item, thread in
            let row = item / heads, head = item % heads
            let keyOffset = (head / group) * headSize
            sov_attention_f16(s.query + row * width + head * headSize, keys + keyOffset, values + keyOffset,
                              Int64(stride), Int64(start + row + 1), Int64(headSize), scale,
                              s.queryRounded + thread * headSize, s.attention + row * width + head * headSize, kernels)
        }
    }

    /// Activations of one batch, row-major (`batchSize` rows of each).
    private final class Scratch {
        let hidden, normed, query, key, value, attention, projected, gate, up: UnsafeMutablePointer<Float>
        /// Per-thread attention scratch: the query rounded to fp16.
        let queryRounded: UnsafeMutablePointer<Float>
        private let all: [UnsafeMutablePointer<Float>]

        init(shape: LlamaHyperParameters, batchSize: Int, threads: Int) {
            func make(_ width: Int) -> UnsafeMutablePointer<Float> {
                let pointer = UnsafeMutablePointer<Float>.allocate(capacity: width * batchSize)
                pointer.initialize(repeating: 0, count: width * batchSize)
                return pointer
            }
            hidden = make(shape.embeddingLength)
            normed = make(shape.embeddingLength)
            query = make(shape.embeddingLength)
            key = make(shape.keyValueWidth)
            value = make(shape.keyValueWidth)
            attention = make(shape.embeddingLength)
            projected = make(shape.embeddingLength)
            gate = make(shape.feedForwardLength)
            up = make(shape.feedForwardLength)
            queryRounded = .allocate(capacity: threads * shape.headDimension)
            all = [hidden, normed, query, key, value, attention, projected, gate, up, queryRounded]
        }

        deinit { for pointer in all { pointer.deallocate() } }
    }
}
