/// The shape of a llama-family model, read from GGUF metadata
/// (`llama.block_count`, `llama.embedding_length`, …) and checked for
/// internal consistency. `init(file:)` also checks that every tensor the
/// architecture needs is present with the shape these numbers imply, so a
/// file whose header and weights disagree is refused before any compute.
public struct LlamaHyperParameters: Sendable, Equatable {
    /// `general.architecture`; only `llama` is accepted for now.
    public var architecture: String
    /// Transformer blocks (`llama.block_count`).
    public var blockCount: Int
    /// Model width (`llama.embedding_length`).
    public var embeddingLength: Int
    /// Query heads (`llama.attention.head_count`).
    public var headCount: Int
    /// Key/value heads (`llama.attention.head_count_kv`; = `headCount` when absent).
    public var keyValueHeadCount: Int
    /// Hidden width of the SwiGLU feed-forward (`llama.feed_forward_length`).
    public var feedForwardLength: Int
    /// Trained context (`llama.context_length`).
    public var contextLength: Int
    /// RoPE base frequency (`llama.rope.freq_base`; 10 000 when absent, as llama.cpp).
    public var ropeFrequencyBase: Float
    /// Dimensions rotated by RoPE (`llama.rope.dimension_count`; the head size when absent).
    public var ropeDimensionCount: Int
    /// RMSNorm epsilon (`llama.attention.layer_norm_rms_epsilon`).
    public var rmsNormEpsilon: Float
    /// Vocabulary size (`llama.vocab_size`, else the length of `tokenizer.ggml.tokens`).
    public var vocabularySize: Int
    /// True when there is no `output.weight`: logits use `token_embd.weight`.
    public var tiesEmbeddings: Bool

    /// Size of one attention head.
    public var headDimension: Int { embeddingLength / headCount }
    /// Width of the key and value projections.
    public var keyValueWidth: Int { headDimension * keyValueHeadCount }
    /// Query heads that share one key/value head.
    public var groupSize: Int { headCount / keyValueHeadCount }

    /// Largest value any size field may take: far above real models, low
    /// enough that products of two sizes cannot overflow.
    static let maxDimension = 1 << 24

    /// Reads the numbers from `file`'s metadata and checks the tensors.
    public init(file: GGUFFile) throws(GGUFError) {
        try self.init(metadata: file.metadata, tiesEmbeddings: file.tensor(named: "output.weight") == nil)
        try validateTensors(in: file)
    }

    /// Reads and checks the numbers only (no tensors).
    public init(metadata: GGUFMetadata, tiesEmbeddings: Bool) throws(GGUFError) {
        let source = metadata.source
        architecture = try metadata.string("general.architecture")
        guard architecture == "llama" else {
            throw GGUFError.unsupportedModel(
                source: source, reason: "architecture '\(architecture)' is not supported (expected 'llama')")
        }
        let prefix = architecture + "."

        func size(_ key: String) throws(GGUFError) -> Int {
            let value = try metadata.integer(prefix + key)
            guard value > 0, value <= Int64(Self.maxDimension) else {
                throw GGUFError.invalidMetadata(
                    source: source, key: prefix + key, reason: "\(value) is not in 1...\(Self.maxDimension)")
            }
            return Int(value)
        }
        func positiveFloat(_ key: String) throws(GGUFError) -> Float {
            let value = Float(try metadata.floatingPoint(prefix + key))
            guard value.isFinite, value > 0 else {
                throw GGUFError.invalidMetadata(source: source, key: prefix + key, reason: "\(value) is not a positive number")
            }
            return value
        }

        blockCount = try size("block_count")
        embeddingLength = try size("embedding_length")
        headCount = try size("attention.head_count")
        keyValueHeadCount = metadata.contains(prefix + "attention.head_count_kv")
            ? try size("attention.head_count_kv") : headCount
        feedForwardLength = try size("feed_forward_length")
        contextLength = try size("context_length")
        rmsNormEpsilon = try positiveFloat("attention.layer_norm_rms_epsilon")
        ropeFrequencyBase = metadata.contains(prefix + "rope.freq_base") ? try positiveFloat("rope.freq_base") : 10_000
        self.tiesEmbeddings = tiesEmbeddings

        if metadata.contains(prefix + "vocab_size") {
            vocabularySize = try size("vocab_size")
        } else {
            let tokens = try metadata.array("tokenizer.ggml.tokens")
            guard tokens.count > 0 else {
                throw GGUFError.invalidMetadata(source: source, key: "tokenizer.ggml.tokens", reason: "empty")
            }
            vocabularySize = tokens.count
        }

        guard embeddingLength % headCount == 0 else {
            throw GGUFError.unsupportedModel(
                source: source,
                reason: "embedding length \(embeddingLength) is not a multiple of the head count \(headCount)")
        }
        guard keyValueHeadCount <= headCount, headCount % keyValueHeadCount == 0 else {
            throw GGUFError.unsupportedModel(
                source: source,
                reason: "head count \(headCount) is not a multiple of the key/value head count \(keyValueHeadCount)")
        }
        let headSize = embeddingLength / headCount
        ropeDimensionCount = metadata.contains(prefix + "rope.dimension_count")
            ? try size("rope.dimension_count") : headSize
        guard ropeDimensionCount <= headSize, ropeDimensionCount % 2 == 0 else {
            throw GGUFError.unsupportedModel(
                source: source,
                reason: "RoPE dimension count \(ropeDimensionCount) must be even and at most the head size \(headSize)")
        }
    }

    /// Every tensor the architecture needs, with its expected ggml shape.
    public var expectedTensorShapes: [(name: String, dimensions: [Int])] {
        var shapes: [(name: String, dimensions: [Int])] = [
            ("token_embd.weight", [embeddingLength, vocabularySize]),
            ("output_norm.weight", [embeddingLength]),
        ]
        if !tiesEmbeddings {
            shapes.append(("output.weight", [embeddingLength, vocabularySize]))
        }
        let queryWidth = headDimension * headCount
        for block in 0 ..< blockCount {
            let p = "blk.\(block)."
            shapes += [
                (p + "attn_norm.weight", [embeddingLength]),
                (p + "attn_q.weight", [embeddingLength, queryWidth]),
                (p + "attn_k.weight", [embeddingLength, keyValueWidth]),
                (p + "attn_v.weight", [embeddingLength, keyValueWidth]),
                (p + "attn_output.weight", [queryWidth, embeddingLength]),
                (p + "ffn_norm.weight", [embeddingLength]),
                (p + "ffn_gate.weight", [embeddingLength, feedForwardLength]),
                (p + "ffn_up.weight", [embeddingLength, feedForwardLength]),
                (p + "ffn_down.weight", [feedForwardLength, embeddingLength]),
            ]
        }
        return shapes
    }

    /// Checks that each needed tensor exists with the expected shape.
    public func validateTensors(in file: GGUFFile) throws(GGUFError) {
        for (name, dimensions) in expectedTensorShapes {
            let tensor = try file.requireTensor(name)
            guard tensor.dimensions == dimensions else {
                throw GGUFError.tensorShapeMismatch(
                    source: file.source, tensor: name,
                    expected: "[" + dimensions.map(String.init).joined(separator: ", ") + "]",
                    actual: tensor.shapeDescription)
            }
        }
    }
}
