#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The element-wise steps of a transformer block, with ggml's arithmetic
/// (`ggml_compute_forward_rms_norm_f32`, `ggml_vec_swiglu_f32`, …) so the
/// hidden state follows llama.cpp's closely. These cost little next to the
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

    /// `gate[i] = silu(gate[i]) · up[i]`, silu(x) = x / (1 + e^−x).
    static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        for i in 0 ..< count {
            let x = gate[i]
            gate[i] = x / (1 + expf(-x)) * up[i]
        }
    }

    /// `x[i] += y[i]`.
    static func add(_ y: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0 ..< count { x[i] = x[i] + y[i] }
    }

    /// Σ a[i]·b[i]: eight lanes, then the tail, in a fixed order.
    @inline(__always)  // attention's inner loop, one head (64 floats) at a time
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            acc += rawA.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var tail: Float = 0
        while i < count {
            tail += a[i] * b[i]
            i += 1
        }
        let half = acc.lowHalf + acc.highHalf
        return ((half[0] + half[2]) + (half[1] + half[3])) + tail
    }

    /// `y[i] += a · x[i]`.
    @inline(__always)  // attention's inner loop
    static func addScaled(_ x: UnsafePointer<Float>, by a: Float, to y: UnsafeMutablePointer<Float>, count: Int) {
        let source = UnsafeRawPointer(x), target = UnsafeMutableRawPointer(y)
        var i = 0
        while i + 8 <= count {
            let sum = target.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + a * source.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            target.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            y[i] += a * x[i]
            i += 1
        }
    }
}
