/// Matrix products of block-quantised weights (Q4_0, Q4_1, Q8_0) with
/// activations quantised to 8 bits (`Q8Activations`), as ggml's
/// `ggml_vec_dot_q4_0_q8_0`, `ggml_vec_dot_q4_1_q8_1` and
/// `ggml_vec_dot_q8_0_q8_0`: per block an exact integer dot product of the
/// quants, scaled by both blocks' d (plus, for Q4_1, m·s).
///
/// Portable Swift SIMD (SSE2 on baseline x86-64, NEON on arm64). Each
/// block's quants are widened to 16 bits and multiplied in 16-bit lanes,
/// the lanes summed pairwise into four 32-bit lanes (`pmaddwd` against
/// ones), converted exactly to float and accumulated in four float lanes:
/// 36 instructions a Q4_1 block, 31 a Q8_0 block on SSE2. The float order
/// is fixed, so a row's result is the same whichever thread computes it and
/// however many tokens share the call.
///
/// Every kernel has a scalar twin (`…Reference`, ggml's `_generic` formula)
/// with the same signature; tests compare them.
enum QuantizedDotProducts {
    /// `output[t · outputStride + r] = Σ_c W[r, c] · x[t, c]` for each row `r`
    /// in `rows` and each activation row `t`.
    typealias Kernel = @Sendable (_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
                        _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) -> Void

    static func dotQ4_0Q8_0(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
                            _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        product(Q4_0Block.self, weights, rows, input, output, outputStride)
    }

    static func dotQ4_1Q8_1(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
                            _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        product(Q4_1Block.self, weights, rows, input, output, outputStride)
    }

    static func dotQ8_0Q8_0(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
                            _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        product(Q8_0Block.self, weights, rows, input, output, outputStride)
    }

    // MARK: The shared row loop

    /// One weight row against up to four activation rows at a time: the
    /// weight block is decoded once and used for each of them. The
    /// arithmetic for one (row, token) pair is the same in both loops, so
    /// results do not depend on the batch size or on how rows are chunked.
    ///
    /// (Two weight rows per iteration for a single token was tried: LLVM
    /// keeps it at 44 instructions a block and it ran 15 % slower.)
    @inline(__always)  // specialised per block type; the helpers must inline into the loops
    private static func product<Block: Q8WeightBlock>(
        _: Block.Type, _ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
        _ output: UnsafeMutablePointer<Float>, _ outputStride: Int
    ) {
        let blocks = weights.columns / 32
        precondition(weights.type.bytesPerBlock == Block.bytes && blocks == input.blocksPerRow)
        let table = HalfPrecision.table
        let ones = BlockArithmetic.ones.pointee
        let values = UnsafeRawPointer(input.values)
        let rowValueBytes = blocks * 64
        for row in rows {
            let w = weights.row(row)
            var token = 0
            while token + 4 <= input.rowCount {
                var acc0 = SIMD4<Float>(), acc1 = SIMD4<Float>(), acc2 = SIMD4<Float>(), acc3 = SIMD4<Float>()
                var off0: Float = 0, off1: Float = 0, off2: Float = 0, off3: Float = 0
                let s0 = input.scales + token * blocks, s1 = s0 + blocks, s2 = s1 + blocks, s3 = s2 + blocks
                let m0 = input.sums + token * blocks, m1 = m0 + blocks, m2 = m1 + blocks, m3 = m2 + blocks
                let y0 = values + token * rowValueBytes, y1 = y0 + rowValueBytes
                let y2 = y1 + rowValueBytes, y3 = y2 + rowValueBytes
                for b in 0 ..< blocks {
                    let block = Block.decode(w + b * Block.bytes, table, ones)
                    acc0 += (block.d * s0[b]) * Block.products(block, y0 + b * 64)
                    acc1 += (block.d * s1[b]) * Block.products(block, y1 + b * 64)
                    acc2 += (block.d * s2[b]) * Block.products(block, y2 + b * 64)
                    acc3 += (block.d * s3[b]) * Block.products(block, y3 + b * 64)
                    if Block.hasMinimum {
                        off0 += block.m * m0[b]
                        off1 += block.m * m1[b]
                        off2 += block.m * m2[b]
                        off3 += block.m * m3[b]
                    }
                }
                output[token * outputStride + row] = total(acc0, off0)
                output[(token + 1) * outputStride + row] = total(acc1, off1)
                output[(token + 2) * outputStride + row] = total(acc2, off2)
                output[(token + 3) * outputStride + row] = total(acc3, off3)
                token += 4
            }
            while token < input.rowCount {
                var acc = SIMD4<Float>()
                var off: Float = 0
                let s = input.scales + token * blocks, m = input.sums + token * blocks
                let y = values + token * rowValueBytes
                for b in 0 ..< blocks {
                    let block = Block.decode(w + b * Block.bytes, table, ones)
                    acc += (block.d * s[b]) * Block.products(block, y + b * 64)
                    if Block.hasMinimum { off += block.m * m[b] }
                }
                output[token * outputStride + row] = total(acc, off)
                token += 1
            }
        }
    }

    @inline(__always)  // a handful of adds at the end of every row
    private static func total(_ lanes: SIMD4<Float>, _ offset: Float) -> Float {
        ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + offset
    }

    // MARK: Scalar twins (ggml's generic formulas, straight from the bytes)

    static func dotQ4_0Q8_0Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
                                     _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        referenceProduct(weights, rows, input, output, outputStride) { block, j in
            let byte = block.load(fromByteOffset: 2 + (j & 15), as: UInt8.self)
            return Int32(j < 16 ? byte & 0x0F : byte >> 4) - 8
        } scales: { block in
            (HalfPrecision.floatReference(block.loadUnaligned(as: UInt16.self)), 0)
        }
    }

    static func dotQ4_1Q8_1Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
                                     _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        referenceProduct(weights, rows, input, output, outputStride) { block, j in
            let byte = block.load(fromByteOffset: 4 + (j & 15), as: UInt8.self)
            return Int32(j < 16 ? byte & 0x0F : byte >> 4)
        } scales: { block in
            (HalfPrecision.floatReference(block.loadUnaligned(as: UInt16.self)),
             HalfPrecision.floatReference(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        }
    }

    static func dotQ8_0Q8_0Reference(_ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
                                     _ output: UnsafeMutablePointer<Float>, _ outputStride: Int) {
        referenceProduct(weights, rows, input, output, outputStride) { block, j in
            Int32(block.load(fromByteOffset: 2 + j, as: Int8.self))
        } scales: { block in
            (HalfPrecision.floatReference(block.loadUnaligned(as: UInt16.self)), 0)
        }
    }

    /// Σ_b (d_x·d_y)·Σ_j q_x·q_y + m_x·s_y, block by block in float.
    private static func referenceProduct(
        _ weights: WeightMatrix, _ rows: Range<Int>, _ input: Q8Activations,
        _ output: UnsafeMutablePointer<Float>, _ outputStride: Int,
        quant: (UnsafeRawPointer, Int) -> Int32, scales: (UnsafeRawPointer) -> (d: Float, m: Float)
    ) {
        let blocks = weights.columns / 32
        precondition(blocks == input.blocksPerRow)
        let bytes = weights.type.bytesPerBlock
        for row in rows {
            for token in 0 ..< input.rowCount {
                var sum: Float = 0
                for b in 0 ..< blocks {
                    let block = weights.row(row) + b * bytes
                    let y = input.values + (token * blocks + b) * 32
                    var integer: Int32 = 0
                    for j in 0 ..< 32 { integer += quant(block, j) * Int32(y[Q8Activations.splitIndex(j)]) }
                    let (d, m) = scales(block)
                    let index = token * blocks + b
                    sum += (d * input.scales[index]) * Float(integer) + m * input.sums[index]
                }
                output[token * outputStride + row] = sum
            }
        }
    }
}

// MARK: Block formats

/// A decoded weight block: its 32 quants as four groups of eight 16-bit
/// lanes in `Q8Activations.splitIndex` order, and its scales.
struct DecodedBlock {
    var evenLow: SIMD8<Int16>
    var oddLow: SIMD8<Int16>
    var evenHigh: SIMD8<Int16>
    var oddHigh: SIMD8<Int16>
    var d: Float
    var m: Float
    /// `BlockArithmetic.ones`, carried along so the loop loads it once.
    var ones: SIMD8<Int16>
}

/// What the shared row loop needs from a weight block type.
protocol Q8WeightBlock {
    static var bytes: Int { get }
    /// Whether the block has an additive minimum (Q4_1's m, dotted with the activation's s).
    static var hasMinimum: Bool { get }
    /// The block's quants (as signed values) and scales.
    static func decode(_ block: UnsafeRawPointer, _ halfTable: UnsafePointer<Float>, _ ones: SIMD8<Int16>) -> DecodedBlock
    /// Σ_j q_x·q_y over the block, as four partial sums converted to float.
    static func products(_ block: DecodedBlock, _ y: UnsafeRawPointer) -> SIMD4<Float>
}

enum BlockArithmetic {
    /// Sums of adjacent 16-bit lanes, as 32-bit lanes: `p · 1` with SSE2's
    /// `pmaddwd`, which multiplies 16-bit lanes and adds adjacent products.
    /// The ones come from memory written at run time, so LLVM cannot see
    /// them, fold the multiply away and fall back to shifts (4 more
    /// instructions a block).
    @inline(__always)  // must inline for the instruction to be matched
    static func pairSums(_ p: SIMD8<Int16>, ones: SIMD8<Int16>) -> SIMD4<Int32> {
        let products = SIMD8<Int32>(truncatingIfNeeded: p) &* SIMD8<Int32>(truncatingIfNeeded: ones)
        return SIMD4(products[0], products[2], products[4], products[6])
            &+ SIMD4(products[1], products[3], products[5], products[7])
    }

    /// Eight 16-bit ones in memory written at run time (see `pairSums`).
    nonisolated(unsafe) static let ones: UnsafePointer<SIMD8<Int16>> = {
        let ones = UnsafeMutablePointer<SIMD8<Int16>>.allocate(capacity: 1)
        ones.initialize(to: SIMD8(repeating: 1))
        return UnsafePointer(ones)
    }()

    /// Four 4-bit groups from 16 packed bytes: lane i of the 16-bit view
    /// holds bytes 2i (weights 2i, 2i+16) and 2i+1 (weights 2i+1, 2i+17).
    @inline(__always)  // part of every 4-bit block's decode
    static func nibbles(_ packed: SIMD8<UInt16>, minus offset: Int16) -> (SIMD8<Int16>, SIMD8<Int16>, SIMD8<Int16>, SIMD8<Int16>) {
        let mask = SIMD8<UInt16>(repeating: 0x000F)
        return (unsafeBitCast(packed & mask, to: SIMD8<Int16>.self) &- offset,
                unsafeBitCast((packed &>> 8) & mask, to: SIMD8<Int16>.self) &- offset,
                unsafeBitCast((packed &>> 4) & mask, to: SIMD8<Int16>.self) &- offset,
                unsafeBitCast(packed &>> 12, to: SIMD8<Int16>.self) &- offset)
    }

    /// Σ_j q_x·q_y of a decoded block against one activation block, as
    /// four 32-bit partial sums converted to float (exact). Products are
    /// formed in 16-bit lanes: |q_x·q_y| ≤ 128·127, so two fit in a lane;
    /// the halves are widened before they are added.
    @inline(__always)  // the innermost work of every quantised kernel
    static func products(_ block: DecodedBlock, _ y: UnsafeRawPointer) -> SIMD4<Float> {
        let low = block.evenLow &* y.load(as: SIMD8<Int16>.self)
            &+ block.oddLow &* y.load(fromByteOffset: 16, as: SIMD8<Int16>.self)
        let high = block.evenHigh &* y.load(fromByteOffset: 32, as: SIMD8<Int16>.self)
            &+ block.oddHigh &* y.load(fromByteOffset: 48, as: SIMD8<Int16>.self)
        return SIMD4<Float>(pairSums(low, ones: block.ones) &+ pairSums(high, ones: block.ones))
    }

    /// The same for 4-bit weights, whose four products per lane stay below
    /// 2^13 (|q_x| ≤ 15): all are summed before widening.
    ///
    /// (`pmaddwd` on the nibbles and activations directly would save one
    /// more instruction, but LLVM can bound masked nibbles, then narrows the
    /// multiply and splits the loads around it: 50 instructions a block
    /// against these 36, measured.)
    @inline(__always)  // the innermost work of the 4-bit kernels
    static func smallProducts(_ block: DecodedBlock, _ y: UnsafeRawPointer) -> SIMD4<Float> {
        let p = block.evenLow &* y.load(as: SIMD8<Int16>.self)
            &+ block.oddLow &* y.load(fromByteOffset: 16, as: SIMD8<Int16>.self)
            &+ block.evenHigh &* y.load(fromByteOffset: 32, as: SIMD8<Int16>.self)
            &+ block.oddHigh &* y.load(fromByteOffset: 48, as: SIMD8<Int16>.self)
        return SIMD4<Float>(pairSums(p, ones: block.ones))
    }
}

enum Q4_0Block: Q8WeightBlock {
    // block_q4_0: fp16 d, 16 bytes of nibbles; weight = d · (q − 8)
    static let bytes = 18
    static let hasMinimum = false

    @inline(__always)  // see QuantizedDotProducts.product
    static func decode(_ block: UnsafeRawPointer, _ halfTable: UnsafePointer<Float>, _ ones: SIMD8<Int16>) -> DecodedBlock {
        let (a, b, c, e) = BlockArithmetic.nibbles(
            block.loadUnaligned(fromByteOffset: 2, as: SIMD8<UInt16>.self), minus: 8)
        return DecodedBlock(evenLow: a, oddLow: b, evenHigh: c, oddHigh: e,
                            d: halfTable[Int(block.loadUnaligned(as: UInt16.self))], m: 0, ones: ones)
    }

    @inline(__always)  // see QuantizedDotProducts.product
    static func products(_ block: DecodedBlock, _ y: UnsafeRawPointer) -> SIMD4<Float> {
        BlockArithmetic.smallProducts(block, y)
    }
}

enum Q4_1Block: Q8WeightBlock {
    // block_q4_1: fp16 d, fp16 m, 16 bytes of nibbles; weight = d · q + m
    static let bytes = 20
    static let hasMinimum = true

    @inline(__always)  // see QuantizedDotProducts.product
    static func decode(_ block: UnsafeRawPointer, _ halfTable: UnsafePointer<Float>, _ ones: SIMD8<Int16>) -> DecodedBlock {
        let (a, b, c, e) = BlockArithmetic.nibbles(
            block.loadUnaligned(fromByteOffset: 4, as: SIMD8<UInt16>.self), minus: 0)
        let dm = block.loadUnaligned(as: UInt32.self)
        return DecodedBlock(evenLow: a, oddLow: b, evenHigh: c, oddHigh: e,
                            d: halfTable[Int(dm & 0xFFFF)], m: halfTable[Int(dm >> 16)], ones: ones)
    }

    @inline(__always)  // see QuantizedDotProducts.product
    static func products(_ block: DecodedBlock, _ y: UnsafeRawPointer) -> SIMD4<Float> {
        BlockArithmetic.smallProducts(block, y)
    }
}

enum Q8_0Block: Q8WeightBlock {
    // block_q8_0: fp16 d, 32 int8; weight = d · q
    static let bytes = 34
    static let hasMinimum = false

    @inline(__always)  // see QuantizedDotProducts.product
    static func decode(_ block: UnsafeRawPointer, _ halfTable: UnsafePointer<Float>, _ ones: SIMD8<Int16>) -> DecodedBlock {
        // Sign-extend even bytes by shifting up and back, odd bytes by shifting down.
        let low = block.loadUnaligned(fromByteOffset: 2, as: SIMD8<Int16>.self)
        let high = block.loadUnaligned(fromByteOffset: 18, as: SIMD8<Int16>.self)
        return DecodedBlock(evenLow: (low &<< 8) &>> 8, oddLow: low &>> 8,
                            evenHigh: (high &<< 8) &>> 8, oddHigh: high &>> 8,
                            d: halfTable[Int(block.loadUnaligned(as: UInt16.self))], m: 0, ones: ones)
    }

    @inline(__always)  // see QuantizedDotProducts.product
    static func products(_ block: DecodedBlock, _ y: UnsafeRawPointer) -> SIMD4<Float> {
        BlockArithmetic.products(block, y)
    }
}
