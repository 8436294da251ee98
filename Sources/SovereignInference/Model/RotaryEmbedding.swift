import CInferenceKernels
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Rotary position embedding as llama.cpp applies it to the llama family
/// (`LLAMA_ROPE_TYPE_NORM`: adjacent pairs (2i, 2i+1) of each head rotate
/// by position · θ_i, θ_i = base^(−2i/d) for the first `d` = rope dimension
/// count entries). The angles follow `ggml_rope_cache_init`: θ is carried
/// from pair to pair by repeated multiplication in float, and cos/sin come
/// from the C library, so the table holds llama.cpp's numbers. The rotation
/// itself is the C kernel `sov_rope` (ggml's fused multiply-adds).
struct RotaryEmbedding {
    let dimensionCount: Int
    let headDimension: Int
    let positions: Int
    /// `table[position · dimensionCount + 2i]` = cos, `+ 2i + 1` = sin.
    private let table: [Float]

    init(hyperParameters: LlamaHyperParameters, positions: Int) {
        dimensionCount = hyperParameters.ropeDimensionCount
        headDimension = hyperParameters.headDimension
        self.positions = positions
        let thetaScale = powf(hyperParameters.ropeFrequencyBase, -2 / Float(dimensionCount))
        var table = [Float](repeating: 0, count: positions * dimensionCount)
        for position in 0 ..< positions {
            var theta = Float(position)
            for pair in 0 ..< dimensionCount / 2 {
                table[position * dimensionCount + 2 * pair] = cosf(theta)
                table[position * dimensionCount + 2 * pair + 1] = sinf(theta)
                theta *= thetaScale
            }
        }
        self.table = table
    }

    /// Rotates `heads` consecutive heads of `vector` for `position`.
    func apply(to vector: UnsafeMutablePointer<Float>, heads: Int, position: Int, kernels: KernelSelection) {
        precondition(position >= 0 && position < positions)
        table.withUnsafeBufferPointer { table in
            guard let base = table.baseAddress else { return }
            sov_rope(vector, base + position * dimensionCount, Int64(heads), Int64(headDimension),
                     Int64(dimensionCount), kernels.c)
        }
    }
}
