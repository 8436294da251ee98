import Testing
@testable import SovereignInference

/// The 8-bit activation quantiser against ggml's x86 formula, and its SIMD
/// form against its scalar twin.
@Suite struct ActivationQuantizationTests {
    static let rows: [[Float]] = [
        QuantizedTestData.synthetic(count: 576),
        QuantizedTestData.random(count: 1536, seed: 1, scale: 3),
        QuantizedTestData.random(count: 64, seed: 2, scale: 1e-4),
        [Float](repeating: 0, count: 32) + (0 ..< 32).map { Float($0) - 16 },     // an all-zero block
        (0 ..< 64).map { $0 % 7 == 0 ? 300 : Float($0) / 10 },                    // outliers, as SmolLM2 has
        (0 ..< 32).map { Float($0) * 127 / 31 - 63.5 },                           // exact halves: ties to even
    ]

    private func quantize(_ x: [Float], _ quantize: QuantizeRowQ8) -> (scales: [Float], sums: [Float], values: [Int16]) {
        let blocks = x.count / 32
        var scales = [Float](repeating: .nan, count: blocks), sums = scales
        var values = [Int16](repeating: 0x7FFF, count: x.count)
        x.withUnsafeBufferPointer { x in
            quantize(x.baseAddress!, x.count, &scales, &sums, &values)
        }
        return (scales, sums, values)
    }

    @Test(arguments: 0 ..< rows.count)
    func simdMatchesScalarTwinBitForBit(row: Int) {
        let x = Self.rows[row]
        let fast = quantize(x, ActivationQuantization.quantizeRowQ8_1)
        let reference = quantize(x, ActivationQuantization.quantizeRowQ8_1Reference)
        #expect(fast.scales.map(\.bitPattern) == reference.scales.map(\.bitPattern))
        #expect(fast.sums.map(\.bitPattern) == reference.sums.map(\.bitPattern))
        #expect(fast.values == reference.values)
    }

    /// d = fp16(amax/127), q = rint(x·127/amax) (ties to even, ggml's x86
    /// quantiser), s = fp16(d·Σq); values stored in the kernels' order.
    @Test(arguments: 0 ..< rows.count)
    func followsGgmlFormula(row: Int) {
        let x = Self.rows[row]
        let result = quantize(x, ActivationQuantization.quantizeRowQ8_1)
        for block in 0 ..< x.count / 32 {
            let values = x[block * 32 ..< block * 32 + 32]
            let amax = values.map(abs).max() ?? 0
            let inverse: Float = amax != 0 ? 127 / amax : 0
            let q = values.map { Int16(($0 * inverse).rounded(.toNearestOrEven)) }
            #expect(result.scales[block] == Float(Float16(amax / 127)))
            #expect(result.sums[block] == Float(Float16(amax / 127 * Float(q.reduce(0) { $0 + Int32($1) }))))
            for j in 0 ..< 32 {
                #expect(result.values[block * 32 + Q8Activations.splitIndex(j)] == q[j], "block \(block) weight \(j)")
            }
        }
    }

    @Test func splitIndexIsAPermutationOfEachBlock() {
        #expect(Set((0 ..< 32).map(Q8Activations.splitIndex)) == Set(0 ..< 32))
        #expect((0 ..< 8).map { Q8Activations.splitIndex(2 * $0) } == Array(0 ..< 8))
        #expect((0 ..< 8).map { Q8Activations.splitIndex(2 * $0 + 1) } == Array(8 ..< 16))
        #expect((0 ..< 8).map { Q8Activations.splitIndex(16 + 2 * $0) } == Array(16 ..< 24))
    }

    /// The ggml `block_q8_1` bytes rebuilt from our layout: fp16 d, fp16 s, 32 int8.
    @Test func exportsGgmlBlockLayout() {
        let x = (0 ..< 32).map { Float($0) - 8 }  // amax 23
        let buffer = Q8ActivationBuffer(capacity: 32)
        let activations = x.withUnsafeBufferPointer {
            buffer.fill(from: $0.baseAddress!, rows: 1, columns: 32, using: ActivationQuantization.quantizeRowQ8_1)
        }
        let bytes = ActivationQuantization.ggmlBlocksQ8_1(activations, row: 0)
        #expect(bytes.count == 36)
        let d = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        #expect(d == Float16(Float(23) / 127).bitPattern)
        #expect(Int8(bitPattern: bytes[4]) == -44)    // rint(-8 · 127/23) = rint(-44.17)
        #expect(Int8(bitPattern: bytes[35]) == 127)
    }
}
