import CInferenceKernels

/// Matrix products of block-quantised weights (Q4_0, Q4_1, Q8_0) with
/// activations quantised to 8 bits (`Q8Blocks`), with ggml's arithmetic:
/// per block an exact integer dot product of the quants, scaled by both
/// blocks' d (plus, for Q4_1, m·s).
///
/// The kernels are C (`CInferenceKernels`): to agree with llama.cpp to the
/// last bit they accumulate in ggml's eight float lanes with fused
/// multiply-adds, which Swift built for baseline x86-64 reaches only through
/// a library call per lane (tried in attention and RoPE alone: prompt speed
/// fell to 0.46× of the Swift SIMD engine's). Each has a scalar Swift twin
/// (`…Reference`, ggml's generic formula straight from the bytes) that
/// tests compare with it.
enum QuantizedDotProducts {
    /// `output[t · outputStride + r] = Σ_c W[r, c] · x[t, c]` for each row `r`
    /// in `rows` and each activation row `t`.
    typealias Kernel = @Sendable (_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
                                  _ output: UnsafeMutablePointer<Float>, _ outputStride: Int,
                                  _ kernels: KernelSelection) -> Void

    static func dotQ4_0Q8_0(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
                            _ output: UnsafeMutablePointer<Float>, _ outputStride: Int, _ kernels: KernelSelection) {
        precondition(input.type == .q8_0 && input.blocksPerRow * 32 == weights.columns)
        sov_matmul_q4_0(weights.base, weights.rowBytes, Int64(rows.lowerBound), Int64(rows.upperBound), input.q8_0,
                        Int64(weights.columns), Int64(input.rowCount), output, Int64(outputStride), kernels.c)
    }

    static func dotQ4_1Q8_1(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
                            _ output: UnsafeMutablePointer<Float>, _ outputStride: Int, _ kernels: KernelSelection) {
        precondition(input.type == .q8_1 && input.blocksPerRow * 32 == weights.columns)
        sov_matmul_q4_1(weights.base, weights.rowBytes, Int64(rows.lowerBound), Int64(rows.upperBound), input.q8_1,
                        Int64(weights.columns), Int64(input.rowCount), output, Int64(outputStride), kernels.c)
    }

    static func dotQ8_0Q8_0(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
                            _ output: UnsafeMutablePointer<Float>, _ outputStride: Int, _ kernels: KernelSelection) {
        precondition(input.type == .q8_0 && input.blocksPerRow * 32 == weights.columns)
        sov_matmul_q8_0(weights.base, weights.rowBytes, Int64(rows.lowerBound), Int64(rows.upperBound), input.q8_0,
                        Int64(weights.columns), Int64(input.rowCount), output, Int64(outputStride), kernels.c)
    }

    // MARK: Scalar twins (ggml's generic formulas, straight from the bytes)

    static func dotQ4_0Q8_0Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
                                     _ output: UnsafeMutablePointer<Float>, _ outputStride: Int, _: KernelSelection) {
        referenceProduct(weights, rows, input, output, outputStride) { block, j in
            let byte = block.load(fromByteOffset: 2 + (j & 15), as: UInt8.self)
            return Int32(j < 16 ? byte & 0x0F : byte >> 4) - 8
        } scales: { block in
            (HalfPrecision.floatReference(block.loadUnaligned(as: UInt16.self)), 0)
        }
    }

    static func dotQ4_1Q8_1Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
                                     _ output: UnsafeMutablePointer<Float>, _ outputStride: Int, _: KernelSelection) {
        referenceProduct(weights, rows, input, output, outputStride) { block, j in
            let byte = block.load(fromByteOffset: 4 + (j & 15), as: UInt8.self)
            return Int32(j < 16 ? byte & 0x0F : byte >> 4)
        } scales: { block in
            (HalfPrecision.floatReference(block.loadUnaligned(as: UInt16.self)),
             HalfPrecision.floatReference(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        }
    }

    static func dotQ8_0Q8_0Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
                                     _ output: UnsafeMutablePointer<Float>, _ outputStride: Int, _: KernelSelection) {
        referenceProduct(weights, rows, input, output, outputStride) { block, j in
            Int32(block.load(fromByteOffset: 2 + j, as: Int8.self))
        } scales: { block in
            (HalfPrecision.floatReference(block.loadUnaligned(as: UInt16.self)), 0)
        }
    }

    /// Σ_b (d_x·d_y)·Σ_j q_x·q_y + m_x·s_y, block by block in float.
    private static func referenceProduct(
        _ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Blocks,
        _ output: UnsafeMutablePointer<Float>, _ outputStride: Int,
        quant: (UnsafeRawPointer, Int) -> Int32, scales: (UnsafeRawPointer) -> (d: Float, m: Float)
    ) {
        let blocks = weights.columns / 32
        precondition(blocks == input.blocksPerRow)
        let bytes = weights.type.bytesPerBlock
        let activationBytes = input.type == .q8_1 ? 36 : 34, header = input.type == .q8_1 ? 4 : 2
        for row in rows {
            for token in 0 ..< input.rowCount {
                var sum: Float = 0
                for b in 0 ..< blocks {
                    let block = weights.row(row) + b * bytes
                    let y = input.base + (token * blocks + b) * activationBytes
                    var integer: Int32 = 0
                    for j in 0 ..< 32 { integer += quant(block, j) * Int32(y.load(fromByteOffset: header + j, as: Int8.self)) }
                    let (d, m) = scales(block)
                    let dy = HalfPrecision.floatReference(y.loadUnaligned(as: UInt16.self))
                    let sy = input.type == .q8_1 ? HalfPrecision.floatReference(y.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : 0
                    sum += (d * dy) * Float(integer) + m * sy
                }
                output[token * outputStride + row] = sum
            }
        }
    }
}
