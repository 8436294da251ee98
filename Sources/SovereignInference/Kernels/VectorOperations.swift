#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The element-wise steps of a transformer block, with ggml's arithmetic
/// (`ggml_compute_forward_rms_norm_f32`, …; SwiGLU is a C kernel) so the
/// hidden state is llama.cpp's to the bit. These cost little next to the
/// matrix products; they are plain loops.
enum VectorOperations {
    /// `output = x / sqrt(mean(x²) + epsilon) · weight`. The sum of squares
    /// is accumulated in double, as ggml does.
    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float,
                        count: Int, into output: UnsafeMutablePointer<Float>) {
        var sum: Double = 0
        for i in 0 ..< count { sum += Double(x[i] * x[i]) }
        let mean = Float(sum / Double(count))
        let scale = 1 / sqrtf(mean + epsilon)
        for i in 0 ..< count { output[i] = (x[i] * scale) * weight[i] }
    }

    /// `x[i] += y[i]`.
    static func add(_ y: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0 ..< count { x[i] = x[i] + y[i] }
    }
}
