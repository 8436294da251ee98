import CInferenceKernels

/// Activation rows quantised to 8 bits in ggml's own blocks (`block_q8_0`,
/// or `block_q8_1` with its sums), as llama.cpp's CPU backend quantises
/// them on x86 before a quantised dot product (`quantize_row_q8_0` /
/// `quantize_row_q8_1` in ggml-cpu/arch/x86/quants.c):
///
///     amax = max |x|,  d = amax / 127,  q = round-half-even(x · (127 / amax)),
///     stored d = fp16(d),  s = fp16(d · Σq)   (s is Q8_1's; Q8_0 has no s)
///
/// (ggml's portable `_ref` quantiser rounds half away from zero and scales
/// by 1/d; x86 builds, the reference peer here, use the above.)
struct Q8Blocks {
    /// The block type: `.q8_0` or `.q8_1`.
    let type: GGMLType
    /// Row 0's first block; row `t` starts `t · blocksPerRow` blocks on.
    let base: UnsafeRawPointer
    /// Rows of activations (tokens).
    let rowCount: Int
    /// Blocks in one row (columns / 32).
    let blocksPerRow: Int

    var q8_0: UnsafePointer<sov_block_q8_0> { base.assumingMemoryBound(to: sov_block_q8_0.self) }
    var q8_1: UnsafePointer<sov_block_q8_1> { base.assumingMemoryBound(to: sov_block_q8_1.self) }
}

/// Storage for `Q8Blocks` of either type: room for `capacity` values (rows × columns).
final class Q8BlockBuffer {
    let capacity: Int
    private let storage: UnsafeMutableRawPointer

    init(capacity: Int) {
        precondition(capacity % 32 == 0 && capacity > 0)
        self.capacity = capacity
        storage = .allocate(byteCount: capacity / 32 * MemoryLayout<sov_block_q8_1>.stride, alignment: 64)
    }

    deinit { storage.deallocate() }

    /// Quantises `rows` rows of `columns` values of `x` into blocks of `type`
    /// (`.q8_0` or `.q8_1`), with the C kernel or, for `reference`, the
    /// Swift formula (tests compare the two byte for byte).
    func fill(_ type: GGMLType, from x: UnsafePointer<Float>, rows: Int, columns: Int, reference: Bool = false) -> Q8Blocks {
        precondition(rows * columns <= capacity && columns % 32 == 0 && (type == .q8_0 || type == .q8_1))
        let blocks = Q8Blocks(type: type, base: storage, rowCount: rows, blocksPerRow: columns / 32)
        if reference {
            ActivationQuantization.quantizeReference(x, count: rows * columns, type: type, into: storage)
        } else if type == .q8_1 {
            sov_quantize_q8_1(x, storage.assumingMemoryBound(to: sov_block_q8_1.self), Int64(columns), Int64(rows))
        } else {
            sov_quantize_q8_0(x, storage.assumingMemoryBound(to: sov_block_q8_0.self), Int64(columns), Int64(rows))
        }
        return blocks
    }
}

enum ActivationQuantization {
    /// The formula above in Swift, block by block, written straight into
    /// ggml's bytes: the C quantiser's independent twin.
    static func quantizeReference(_ x: UnsafePointer<Float>, count: Int, type: GGMLType, into output: UnsafeMutableRawPointer) {
        let bytes = type == .q8_1 ? 36 : 34
        let header = type == .q8_1 ? 4 : 2
        for block in 0 ..< count / 32 {
            let start = block * 32, out = output + block * bytes
            var amax: Float = 0
            for j in 0 ..< 32 { amax = max(amax, abs(x[start + j])) }
            let d = amax / 127
            let inverse: Float = amax != 0 ? 127 / amax : 0
            var total: Int32 = 0
            for j in 0 ..< 32 {
                let q = Int32((x[start + j] * inverse).rounded(.toNearestOrEven))
                total += q
                out.storeBytes(of: Int8(q), toByteOffset: header + j, as: Int8.self)
            }
            out.storeBytes(of: HalfPrecision.bits(d), as: UInt16.self)
            if type == .q8_1 {
                out.storeBytes(of: HalfPrecision.bits(d * Float(total)), toByteOffset: 2, as: UInt16.self)
            }
        }
    }
}
