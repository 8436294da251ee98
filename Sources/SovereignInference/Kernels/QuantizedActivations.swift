/// Activation rows quantised to 8 bits in blocks of 32, with exactly the
/// numbers llama.cpp's CPU backend computes on x86 before a quantised dot
/// product (`quantize_row_q8_1` / `quantize_row_q8_0` in
/// ggml-cpu/arch/x86/quants.c), so that integer dot products agree with it:
///
///     amax = max |x|,  d = amax / 127,  q = round-half-even(x · (127 / amax)),
///     stored d = fp16(d),  s = fp16(d · Σq)   (s is Q8_1's; Q8_0 has no s)
///
/// (ggml's portable `_ref` quantiser rounds half away from zero and scales
/// by 1/d; x86 builds, the reference peer here, use the above.)
///
/// The layout is ours, not ggml's bytes: per row, `scales` holds each
/// block's d and `sums` its s (both as `Float`, already rounded through
/// fp16), and `values` the 32 q of each block widened to `Int16` and
/// permuted the way the kernels consume them (see `splitIndex`).
struct Q8Activations {
    let scales: UnsafePointer<Float>
    let sums: UnsafePointer<Float>
    let values: UnsafePointer<Int16>
    /// Rows of activations (tokens).
    let rowCount: Int
    /// Blocks in one row (columns / 32).
    let blocksPerRow: Int

    static let blockSize = 32

    /// Where weight position `j` (0..<32) of a block sits among the block's
    /// 32 values: even positions of the first half, odd positions of the
    /// first half, then the same for the second half. A 4-bit block's byte
    /// `i` holds positions `i` and `i + 16`, so loading 16 bytes as eight
    /// 16-bit lanes and masking/shifting yields exactly these four groups.
    @inline(__always)  // index arithmetic in reference kernels' inner loops
    static func splitIndex(_ j: Int) -> Int {
        let half = j >> 4, k = j & 15
        return half * 16 + (k & 1) * 8 + (k >> 1)
    }
}

/// Storage for `Q8Activations`: room for `capacity` values (rows × columns).
final class Q8ActivationBuffer {
    let capacity: Int
    let scales: UnsafeMutablePointer<Float>
    let sums: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Int16>

    init(capacity: Int) {
        precondition(capacity % Q8Activations.blockSize == 0 && capacity > 0)
        self.capacity = capacity
        scales = .allocate(capacity: capacity / Q8Activations.blockSize)
        sums = .allocate(capacity: capacity / Q8Activations.blockSize)
        // 64-byte aligned: each block's values are one cache line.
        values = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
            .bindMemory(to: Int16.self, capacity: capacity)
    }

    deinit {
        scales.deallocate()
        sums.deallocate()
        values.deallocate()
    }

    /// Quantises `rows` rows of `columns` values of `x` with `quantize`.
    func fill(from x: UnsafePointer<Float>, rows: Int, columns: Int, using quantize: QuantizeRowQ8) -> Q8Activations {
        precondition(rows * columns <= capacity && columns % Q8Activations.blockSize == 0)
        let blocksPerRow = columns / Q8Activations.blockSize
        for row in 0 ..< rows {
            quantize(x + row * columns, columns, scales + row * blocksPerRow,
                     sums + row * blocksPerRow, values + row * columns)
        }
        return Q8Activations(scales: scales, sums: sums, values: values, rowCount: rows, blocksPerRow: blocksPerRow)
    }
}

/// Quantises one row: `(x, count, scales, sums, values)`.
typealias QuantizeRowQ8 = (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>,
                           UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int16>) -> Void

enum ActivationQuantization {
    /// 1.5 · 2^23: adding it to a float of magnitude below 2^22 leaves the
    /// value rounded to an integer (ties to even, the default rounding) in
    /// the low mantissa bits — `_mm256_round_ps(_MM_ROUND_NEAREST)` without
    /// SSE4.1.
    static let roundingMagic: Float = 12_582_912
    static let roundingMagicBits: Int32 = 0x4B40_0000

    @inline(__always)  // a compare and a blend
    private static func larger4(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>) -> SIMD4<Int32> {
        a.replacing(with: b, where: b .> a)
    }

    /// ggml's x86 `quantize_row_q8_1` (and, ignoring `sums`, `quantize_row_q8_0`),
    /// eight lanes at a time.
    static func quantizeRowQ8_1(
        _ x: UnsafePointer<Float>, _ count: Int, _ scales: UnsafeMutablePointer<Float>,
        _ sums: UnsafeMutablePointer<Float>, _ values: UnsafeMutablePointer<Int16>
    ) {
        precondition(count % 32 == 0)
        let raw = UnsafeRawPointer(x)
        let signMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        for block in 0 ..< count / 32 {
            let base = raw + block * 128
            let v0 = base.loadUnaligned(as: SIMD8<Float>.self)
            let v1 = base.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            let v2 = base.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
            let v3 = base.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
            // |x| as bit patterns: for non-negative floats the integer
            // order is the numeric order, and SSE2 compares 32-bit integers.
            func magnitude(_ v: SIMD8<Float>) -> SIMD8<Int32> {
                unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & signMask, to: SIMD8<Int32>.self)
            }
            func larger(_ a: SIMD8<Int32>, _ b: SIMD8<Int32>) -> SIMD8<Int32> {
                a.replacing(with: b, where: b .> a)
            }
            let lanes = larger(larger(magnitude(v0), magnitude(v1)), larger(magnitude(v2), magnitude(v3)))
            let half = larger4(lanes.lowHalf, lanes.highHalf)
            let amax = Float(bitPattern: UInt32(bitPattern: max(max(half[0], half[1]), max(half[2], half[3]))))
            let d = amax / 127
            let inverse: Float = amax != 0 ? 127 / amax : 0
            func quantized(_ v: SIMD8<Float>) -> SIMD8<Int32> {
                let shifted = v * inverse + roundingMagic
                return unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- roundingMagicBits
            }
            let q0 = quantized(v0), q1 = quantized(v1), q2 = quantized(v2), q3 = quantized(v3)
            let total = (q0 &+ q1 &+ q2 &+ q3).wrappedSum()
            scales[block] = HalfPrecision.rounded(d)
            sums[block] = HalfPrecision.rounded(d * Float(total))
            // Scatter into the kernels' order (see Q8Activations.splitIndex).
            let out = values + block * 32
            for k in 0 ..< 4 {
                out[k] = Int16(truncatingIfNeeded: q0[2 * k])
                out[4 + k] = Int16(truncatingIfNeeded: q1[2 * k])
                out[8 + k] = Int16(truncatingIfNeeded: q0[2 * k + 1])
                out[12 + k] = Int16(truncatingIfNeeded: q1[2 * k + 1])
                out[16 + k] = Int16(truncatingIfNeeded: q2[2 * k])
                out[20 + k] = Int16(truncatingIfNeeded: q3[2 * k])
                out[24 + k] = Int16(truncatingIfNeeded: q2[2 * k + 1])
                out[28 + k] = Int16(truncatingIfNeeded: q3[2 * k + 1])
            }
        }
    }

    /// Scalar twin of `quantizeRowQ8_1`: the formula element by element.
    static func quantizeRowQ8_1Reference(
        _ x: UnsafePointer<Float>, _ count: Int, _ scales: UnsafeMutablePointer<Float>,
        _ sums: UnsafeMutablePointer<Float>, _ values: UnsafeMutablePointer<Int16>
    ) {
        precondition(count % 32 == 0)
        for block in 0 ..< count / 32 {
            let start = block * 32
            var amax: Float = 0
            for j in 0 ..< 32 { amax = max(amax, abs(x[start + j])) }
            let d = amax / 127
            let inverse: Float = amax != 0 ? 127 / amax : 0
            var total: Int32 = 0
            for j in 0 ..< 32 {
                let q = Int32((x[start + j] * inverse).rounded(.toNearestOrEven))
                total += q
                values[start + Q8Activations.splitIndex(j)] = Int16(q)
            }
            scales[block] = HalfPrecision.rounded(d)
            sums[block] = HalfPrecision.rounded(d * Float(total))
        }
    }

    /// ggml's `block_q8_1` bytes for one quantised row (tests compare them
    /// with ggml's layout): per block fp16 d, fp16 s, 32 int8.
    static func ggmlBlocksQ8_1(_ activations: Q8Activations, row: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for block in 0 ..< activations.blocksPerRow {
            let index = row * activations.blocksPerRow + block
            let d = HalfPrecision.bits(activations.scales[index])
            let s = HalfPrecision.bits(activations.sums[index])
            bytes += [UInt8(d & 0xFF), UInt8(d >> 8), UInt8(s & 0xFF), UInt8(s >> 8)]
            let values = activations.values + (row * activations.blocksPerRow + block) * 32
            for j in 0 ..< 32 {
                bytes.append(UInt8(bitPattern: Int8(truncatingIfNeeded: values[Q8Activations.splitIndex(j)])))
            }
        }
        return bytes
    }
}
