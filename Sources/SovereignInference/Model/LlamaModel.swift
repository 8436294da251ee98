/// The weights of a llama-family model, read from a validated GGUF file:
/// the hyper-parameters from its metadata, each weight matrix as a view of
/// the file's mapping (nothing is copied), and the norm vectors decoded to
/// `Float`. Immutable, so one model can serve several `LlamaContext`s.
public final class LlamaModel: Sendable {
    public let file: GGUFFile
    public let hyperParameters: LlamaHyperParameters

    /// One weight matrix with its kernels.
    struct Weight: Sendable {
        let matrix: WeightMatrix
        let traits: KernelTraits
    }

    struct Layer: Sendable {
        let attentionNorm: [Float]
        let query: Weight
        let key: Weight
        let value: Weight
        let attentionOutput: Weight
        let feedForwardNorm: [Float]
        let gate: Weight
        let up: Weight
        let down: Weight
    }

    let tokenEmbedding: Weight
    /// `output.weight`, or `token_embd.weight` when the embeddings are tied.
    let output: Weight
    let outputNorm: [Float]
    let layers: [Layer]

    /// Reads the model in `file`: checks the architecture, the
    /// hyper-parameters, every tensor's shape, and that each tensor's type
    /// has kernels here.
    public init(file: GGUFFile) throws(GGUFError) {
        let hyperParameters = try LlamaHyperParameters(file: file)

        func weight(_ name: String) throws(GGUFError) -> Weight {
            let tensor = try file.requireTensor(name)
            guard let traits = KernelTraits.of(tensor.type) else {
                throw GGUFError.unsupportedModel(
                    source: file.source,
                    reason: "tensor '\(name)' has type \(tensor.type), which has no kernels here "
                        + "(supported: f32, f16, q4_0, q4_1, q8_0)")
            }
            return Weight(matrix: WeightMatrix(tensor: tensor, in: file), traits: traits)
        }
        func vector(_ name: String) throws(GGUFError) -> [Float] {
            let weight = try weight(name)
            var values = [Float](repeating: 0, count: weight.matrix.columns * weight.matrix.rows)
            values.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }  // shapes are checked: never empty
                weight.traits.dequantizeRow(weight.matrix.base, base, buffer.count)
            }
            return values
        }

        self.file = file
        self.hyperParameters = hyperParameters
        tokenEmbedding = try weight("token_embd.weight")
        output = hyperParameters.tiesEmbeddings ? tokenEmbedding : try weight("output.weight")
        outputNorm = try vector("output_norm.weight")
        var layers: [Layer] = []
        for block in 0 ..< hyperParameters.blockCount {
            let prefix = "blk.\(block)."
            layers.append(Layer(
                attentionNorm: try vector(prefix + "attn_norm.weight"),
                query: try weight(prefix + "attn_q.weight"),
                key: try weight(prefix + "attn_k.weight"),
                value: try weight(prefix + "attn_v.weight"),
                attentionOutput: try weight(prefix + "attn_output.weight"),
                feedForwardNorm: try vector(prefix + "ffn_norm.weight"),
                gate: try weight(prefix + "ffn_gate.weight"),
                up: try weight(prefix + "ffn_up.weight"),
                down: try weight(prefix + "ffn_down.weight")))
        }
        self.layers = layers
    }

    /// Maps and reads the model at `path`.
    public convenience init(contentsOf path: String) throws(GGUFError) {
        try self.init(file: GGUFFile(contentsOf: path))
    }
}
