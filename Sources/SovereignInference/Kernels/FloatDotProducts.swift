/// Matrix products of F32 and F16 weights with float activations, as
/// ggml's `ggml_vec_dot_f32` and `ggml_vec_dot_f16` (whose activation type
/// is F16: the driver rounds activations to fp16 first, as ggml converts
/// them). Eight float lanes, a fixed reduction order; scalar twins below.
enum FloatDotProducts {
    /// `output[t · outputStride + r] = Σ_c W[r, c] · x[t · columns + c]`.
    typealias Kernel = @Sendable (_ weights: WeightMatrix, _ rows: Range<Int>, _ input: UnsafePointer<Float>, _ inputRows: Int,
                        _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) -> Void

    static func dotF32F32(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: UnsafePointer<Float>, _ inputRows: Int,
                          _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        let columns = weights.columns
        let vectorEnd = columns & ~7
        for row in rows {
            let w = weights.row(row)
            for token in 0 ..< inputRows {
                let x = UnsafeRawPointer(input + token * columns)
                var acc = SIMD8<Float>()
                var c = 0
                while c < vectorEnd {
                    acc += w.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
                        * x.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
                    c += 8
                }
                var tail: Float = 0
                while c < columns {
                    tail += w.load(fromByteOffset: c * 4, as: Float.self) * x.load(fromByteOffset: c * 4, as: Float.self)
                    c += 1
                }
                output[token * outputStride + row] = reduce(acc) + tail
            }
        }
    }

    static func dotF16F16(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: UnsafePointer<Float>, _ inputRows: Int,
                          _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        let columns = weights.columns
        let vectorEnd = columns & ~7
        let table = HalfPrecision.table
        for row in rows {
            let w = weights.row(row)
            for token in 0 ..< inputRows {
                let x = UnsafeRawPointer(input + token * columns)
                var acc = SIMD8<Float>()
                var c = 0
                while c < vectorEnd {
                    let h = w.loadUnaligned(fromByteOffset: c * 2, as: SIMD8<UInt16>.self)
                    let weights = SIMD8<Float>(table[Int(h[0])], table[Int(h[1])], table[Int(h[2])], table[Int(h[3])],
                                               table[Int(h[4])], table[Int(h[5])], table[Int(h[6])], table[Int(h[7])])
                    acc += weights * x.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self)
                    c += 8
                }
                var tail: Float = 0
                while c < columns {
                    tail += table[Int(w.loadUnaligned(fromByteOffset: c * 2, as: UInt16.self))]
                        * x.load(fromByteOffset: c * 4, as: Float.self)
                    c += 1
                }
                output[token * outputStride + row] = reduce(acc) + tail
            }
        }
    }

    @inline(__always)  // the fixed reduction order, shared by both kernels
    private static func reduce(_ v: SIMD8<Float>) -> Float {
        let half = v.lowHalf + v.highHalf
        return (half[0] + half[2]) + (half[1] + half[3])
    }

    // MARK: Scalar twins

    static func dotF32F32Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: UnsafePointer<Float>, _ inputRows: Int,
                                   _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        referenceProduct(weights, rows, input, inputRows, output, outputStride) { row, c in
            row.load(fromByteOffset: c * 4, as: Float.self)
        }
    }

    static func dotF16F16Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: UnsafePointer<Float>, _ inputRows: Int,
                                   _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        referenceProduct(weights, rows, input, inputRows, output, outputStride) { row, c in
            HalfPrecision.floatReference(row.loadUnaligned(fromByteOffset: c * 2, as: UInt16.self))
        }
    }

    private static func referenceProduct(
        _ weights: WeightMatrix, _ rows: Range<Int>, _ input: UnsafePointer<Float>, _ inputRows: Int,
        _ output: UnsafeMutablePointer<Float>, _ outputStride: Int, weight: (UnsafeRawPointer, Int) -> Float
    ) {
        for row in rows {
            for token in 0 ..< inputRows {
                var sum: Float = 0
                for c in 0 ..< weights.columns { sum += weight(weights.row(row), c) * input[token * weights.columns + c] }
                output[token * outputStride + row] = sum
            }
        }
    }
}
