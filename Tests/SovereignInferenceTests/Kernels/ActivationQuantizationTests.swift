import Testing
@testable import SovereignInference

/// The 8-bit activation quantiser (C) against ggml's x86 formula, byte for
/// byte against its Swift twin, and in ggml's block layout.
@Suite struct ActivationQuantizationTests {
    static let rows: [[Float]] = [
        QuantizedTestData.synthetic(count: 576),
        QuantizedTestData.random(count: 1536, seed: 1, scale: 3),
        QuantizedTestData.random(count: 64, seed: 2, scale: 1e-4),
        [Float](repeating: 0, count: 32) + (0 ..< 32).map { Float($0) - 16 },     // an all-zero block
        (0 ..< 64).map { $0 % 7 == 0 ? 300 : Float($0) / 10 },                    // outliers, as SmolLM2 has
        (0 ..< 32).map { Float($0) * 127 / 31 - 63.5 },                           // exact halves: ties to even
    ]

    /// The bytes of `x` quantised to `type` blocks (one row).
    static func bytes(_ x: [Float], _ type: GGMLType, reference: Bool = false) -> [UInt8] {
        let buffer = Q8BlockBuffer(capacity: x.count)
        let blocks = x.withUnsafeBufferPointer {
            buffer.fill(type, from: $0.baseAddress!, rows: 1, columns: x.count, reference: reference)
        }
        let size = (type == .q8_1 ? 36 : 34) * blocks.blocksPerRow
        return Array(UnsafeRawBufferPointer(start: blocks.base, count: size))
    }

    @Test(arguments: 0 ..< rows.count, [GGMLType.q8_0, .q8_1])
    func cKernelMatchesSwiftTwinByteForByte(row: Int, type: GGMLType) {
        #expect(Self.bytes(Self.rows[row], type) == Self.bytes(Self.rows[row], type, reference: true))
    }

    /// d = fp16(amax/127), q = rint(x·127/amax) (ties to even, ggml's x86
    /// quantiser), s = fp16(d·Σq); ggml's block_q8_1: d, s, 32 int8.
    @Test(arguments: 0 ..< rows.count)
    func followsGgmlFormula(row: Int) {
        let x = Self.rows[row]
        let bytes = Self.bytes(x, .q8_1)
        for block in 0 ..< x.count / 32 {
            let values = x[block * 32 ..< block * 32 + 32]
            let amax = values.map(abs).max() ?? 0
            let inverse: Float = amax != 0 ? 127 / amax : 0
            let q = values.map { Int8(($0 * inverse).rounded(.toNearestOrEven)) }
            let b = Array(bytes[block * 36 ..< block * 36 + 36])
            #expect(UInt16(b[0]) | UInt16(b[1]) << 8 == Float16(amax / 127).bitPattern)
            let total = Float(q.reduce(0) { $0 + Int32($1) })
            #expect(UInt16(b[2]) | UInt16(b[3]) << 8 == Float16(amax / 127 * total).bitPattern)
            #expect(b[4...].map { Int8(bitPattern: $0) } == q, "block \(block)")
        }
    }

    @Test func q8_0HasNoSum() {
        let x = (0 ..< 32).map { Float($0) - 8 }  // amax 23
        let bytes = Self.bytes(x, .q8_0)
        #expect(bytes.count == 34)
        #expect(UInt16(bytes[0]) | UInt16(bytes[1]) << 8 == Float16(Float(23) / 127).bitPattern)
        #expect(Int8(bitPattern: bytes[2]) == -44)    // rint(-8 · 127/23) = rint(-44.17)
        #expect(Int8(bitPattern: bytes[33]) == 127)
    }
}
