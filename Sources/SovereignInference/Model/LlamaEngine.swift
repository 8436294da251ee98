import CInferenceKernels
import SovereignSystem
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// One model's forward pass, shared by every context made from it: the
/// threads, the scratch memory and the kernels. Each `LlamaContext` holds
/// its own key/value cache. `evaluate` calls that reach one engine from
/// different threads at about the same time are decoded together: one
/// forward pass over the new tokens of every context (continuous batching),
/// so each weight row is read once per step rather than once per request.
///
/// Batch-invariant by construction: every row (one token of one context)
/// gets the same numbers whatever else is in the pass. The matrix kernels
/// compute each output from one activation row, in one order; activations
/// are quantised row by row; attention reads only the row's own cache up
/// to its own position. So a request's tokens and logits are bit-identical
/// to the same request run alone, with any thread count, any batch.
///
/// Scheduling is leader/follower: the first caller to find the engine idle
/// runs the step for everyone pending, waiting at most `gatherWindow` for
/// the contexts of the previous step to submit again (they usually do within
/// microseconds: sampling and rule checks are all that happens between
/// steps). A context marked idle (`LlamaContext.markIdle`) is not waited for.
public final class LlamaEngine: @unchecked Sendable {
    public let model: LlamaModel
    /// The configuration every context of this engine has.
    public let configuration: LlamaContext.Configuration
    /// The longest a step waits for the previous step's contexts.
    public let gatherWindow: Duration
    /// The threads actually running (fewer than asked if the OS refused some).
    public var threadCount: Int { pool.threadCount }

    private let pool: ComputePool
    let multiplier: MatrixMultiplier
    private let rotary: RotaryEmbedding
    private let scratch: Scratch
    private let batchLogits: UnsafeMutablePointer<Float>
    private let lock = ConditionLock()
    // Guarded by `lock`:
    private var pending: [Job] = []
    /// A caller is gathering or running a step (at most one leads).
    private var leading = false
    /// The forward pass is running: contexts' tokens and caches change.
    private var stepping = false
    private var expected: Set<ObjectIdentifier> = []
    private var contexts: [WeakContext] = []
    private var stepCount = 0
    private var rowCount = 0

    public init(model: LlamaModel, configuration: LlamaContext.Configuration = .init(),
                gatherWindow: Duration = .milliseconds(3)) {
        precondition(configuration.contextLength > 0 && configuration.threadCount > 0 && configuration.batchSize > 0)
        let shape = model.hyperParameters
        self.model = model
        self.configuration = configuration
        self.gatherWindow = gatherWindow
        pool = ComputePool(threadCount: configuration.threadCount)
        let widest = max(shape.embeddingLength, shape.feedForwardLength)
        multiplier = MatrixMultiplier(maxColumns: widest, maxRows: configuration.batchSize)
        multiplier.kernels = configuration.kernels
        rotary = RotaryEmbedding(hyperParameters: shape, positions: configuration.contextLength)
        scratch = Scratch(shape: shape, batchSize: configuration.batchSize, threads: pool.threadCount)
        batchLogits = .allocate(capacity: configuration.batchSize * shape.vocabularySize)
    }

    deinit { batchLogits.deallocate() }

    /// A new context (an empty key/value cache) on this engine.
    public func makeContext() -> LlamaContext { LlamaContext(engine: self) }

    /// Called by every new context: it may now lend its prefix to others.
    func register(_ context: LlamaContext) {
        lock.withLock {
            contexts.removeAll { $0.context == nil }
            contexts.append(WeakContext(context: context))
        }
    }

    /// Steps run and rows decoded so far (a batching server reports these).
    public var statistics: (steps: Int, rows: Int) { lock.withLock { (stepCount, rowCount) } }

    // MARK: Batching

    /// One context's new tokens in a step.
    final class Job {
        let context: LlamaContext
        let tokens: [TokenID]
        /// Where every row's logits go (teacher forcing), or nil: only the last row's, into the context.
        let allLogits: UnsafeMutablePointer<Float>?
        var done = false

        init(context: LlamaContext, tokens: [TokenID], allLogits: UnsafeMutablePointer<Float>?) {
            self.context = context
            self.tokens = tokens
            self.allLogits = allLogits
        }
    }

    /// Runs `job` in the next step, leading that step if nobody else is.
    func run(_ job: Job) {
        lock.lock()
        pending.append(job)
        lock.broadcast()
        while !job.done {
            guard !leading else {
                lock.wait()
                continue
            }
            leading = true
            // Gathering leaves `stepping` false, so the contexts it waits
            // for can still roll back or adopt a prefix before submitting.
            let deadline = ContinuousClock.now + gatherWindow
            while !expected.allSatisfy({ id in pending.contains { ObjectIdentifier($0.context) == id } }),
                  ContinuousClock.now < deadline {
                lock.wait(until: deadline)
            }
            let batch = pending
            pending = []
            expected = Set(batch.map { ObjectIdentifier($0.context) })
            stepping = true
            lock.unlock()
            step(batch)
            lock.lock()
            stepCount += 1
            rowCount += batch.reduce(0) { $0 + $1.tokens.count }
            for finished in batch { finished.done = true }
            stepping = false
            leading = false
            lock.broadcast()
        }
        lock.unlock()
    }

    /// The context will not evaluate again soon: steps stop waiting for it.
    func markIdle(_ context: LlamaContext) {
        lock.withLock {
            expected.remove(ObjectIdentifier(context))
            lock.broadcast()
        }
    }

    /// Runs `body` while no step runs (so no context's tokens change under it).
    func whileQuiescent<R>(_ body: () -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        while stepping { lock.wait() }
        return body()
    }

    /// Another context of this engine whose cached tokens share the longest
    /// prefix with `prompt` (at most `limit`), if longer than `atLeast`.
    /// Call inside `whileQuiescent`.
    func bestDonor(for prompt: [TokenID], limit: Int, atLeast: Int, excluding context: LlamaContext) -> (LlamaContext, Int)? {
        var best: (LlamaContext, Int)?
        for entry in contexts {
            guard let donor = entry.context, donor !== context else { continue }
            let shared = LlamaContext.commonPrefix(donor.tokens, prompt, limit: limit)
            if shared > (best?.1 ?? atLeast) { best = (donor, shared) }
        }
        return best
    }

    private struct WeakContext {
        weak var context: LlamaContext?
    }

    // MARK: The forward pass

    /// One row of a step: a token of a context at its position.
    private struct Row {
        let context: LlamaContext
        let token: TokenID
        let position: Int
        /// Where this row's logits go, if anywhere.
        let logits: UnsafeMutablePointer<Float>?
    }

    /// Decodes every job's tokens, `batchSize` rows per pass.
    private func step(_ jobs: [Job]) {
        let vocabulary = model.hyperParameters.vocabularySize
        var rows: [Row] = []
        for job in jobs {
            let start = job.context.tokens.count
            for (index, token) in job.tokens.enumerated() {
                let isLast = index == job.tokens.count - 1
                let target: UnsafeMutablePointer<Float>? =
                    job.allLogits.map { $0 + index * vocabulary } ?? (isLast ? job.context.lastLogits : nil)
                rows.append(Row(context: job.context, token: token, position: start + index, logits: target))
            }
        }
        var start = 0
        while start < rows.count {
            let end = min(start + configuration.batchSize, rows.count)
            forward(rows[start ..< end])
            start = end
        }
        for job in jobs { job.context.didEvaluate(job.tokens) }
    }

    /// Evaluates up to `batchSize` rows; writes the logits rows ask for.
    private func forward(_ rows: ArraySlice<Row>) {
        let rows = Array(rows)
        let shape = model.hyperParameters
        let count = rows.count
        let width = shape.embeddingLength, keyValueWidth = shape.keyValueWidth
        let ffnWidth = shape.feedForwardLength
        let s = scratch
        let kernels = configuration.kernels

        for (index, row) in rows.enumerated() {
            let embedding = model.tokenEmbedding
            embedding.traits.dequantizeRow(embedding.matrix.row(Int(row.token)), s.hidden + index * width, width)
        }

        for (layerIndex, layer) in model.layers.enumerated() {
            // Attention.
            normalize(count, with: layer.attentionNorm)
            multiplier.multiply([task(layer.query, s.query), task(layer.key, s.key), task(layer.value, s.value)],
                                input: s.normed, rows: count, columns: width, pool: pool)
            for (index, row) in rows.enumerated() {
                rotary.apply(to: s.query + index * width, heads: shape.headCount, position: row.position, kernels: kernels)
                rotary.apply(to: s.key + index * keyValueWidth, heads: shape.keyValueHeadCount, position: row.position,
                             kernels: kernels)
                row.context.cache.store(layer: layerIndex, position: row.position,
                                        key: s.key + index * keyValueWidth, value: s.value + index * keyValueWidth)
            }
            attend(layer: layerIndex, rows: rows)
            multiplier.multiply([task(layer.attentionOutput, s.projected)],
                                input: s.attention, rows: count, columns: width, pool: pool)
            VectorOperations.add(s.projected, to: s.hidden, count: count * width)

            // Feed-forward.
            normalize(count, with: layer.feedForwardNorm)
            multiplier.multiply([task(layer.gate, s.gate), task(layer.up, s.up)],
                                input: s.normed, rows: count, columns: width, pool: pool)
            sov_swiglu(s.gate, s.up, Int64(count * ffnWidth), kernels.c)
            multiplier.multiply([task(layer.down, s.projected)],
                                input: s.gate, rows: count, columns: ffnWidth, pool: pool)
            VectorOperations.add(s.projected, to: s.hidden, count: count * width)
        }

        // The output head, only for rows whose logits someone wants.
        let wanted = rows.indices.filter { rows[$0].logits != nil }
        guard !wanted.isEmpty else { return }
        for (slot, index) in wanted.enumerated() {
            VectorOperations.rmsNorm(s.hidden + index * width, weight: model.outputNorm, epsilon: shape.rmsNormEpsilon,
                                     count: width, into: s.normed + slot * width)
        }
        let vocabulary = shape.vocabularySize
        // One row wanted (every generated token): straight to its place.
        if wanted.count == 1, let target = rows[wanted[0]].logits {
            multiplier.multiply([task(model.output, target)], input: s.normed, rows: 1, columns: width, pool: pool)
            return
        }
        multiplier.multiply([task(model.output, batchLogits)], input: s.normed, rows: wanted.count,
                            columns: width, pool: pool)
        for (slot, index) in wanted.enumerated() {
            rows[index].logits?.update(from: batchLogits + slot * vocabulary, count: vocabulary)
        }
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

    /// Grouped-query attention of each row over its own context's cached
    /// positions up to its own (causal), one (row, head) pair per work item,
    /// with llama.cpp's flash-attention arithmetic (`sov_attention_f16`; it
    /// uses that kernel whenever a batch has fewer than 64 tokens, as every
    /// generated token does).
    private func attend(layer: Int, rows: [Row]) {
        let shape = model.hyperParameters
        let heads = shape.headCount, headSize = shape.headDimension, group = shape.groupSize
        let width = shape.embeddingLength
        let scale = 1 / sqrtf(Float(headSize))
        let s = scratch
        let caches = rows.map { $0.context.cache }
        let positions = rows.map(\.position)
        let kernels = configuration.kernels.c
        pool.forEachChunk(rows.count * heads) { item, thread in
            let row = item / heads, head = item % heads
            let cache = caches[row]
            let keyOffset = (head / group) * headSize
            sov_attention_f16(s.query + row * width + head * headSize, cache.keys(layer: layer) + keyOffset,
                              cache.values(layer: layer) + keyOffset, Int64(cache.width), Int64(positions[row] + 1),
                              Int64(headSize), scale, s.queryRounded + thread * headSize,
                              s.attention + row * width + head * headSize, kernels)
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
