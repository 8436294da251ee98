import Testing
@testable import SovereignInference

@Suite struct HalfPrecisionTests {
    /// The table and the field-by-field conversion against Swift's
    /// `Float16`, on all 65 536 bit patterns. (NaNs need only stay NaNs:
    /// F16C quiets signalling NaNs, a bit-by-bit conversion keeps them.)
    @Test func conversionIsExactForEveryBitPattern() {
        var mismatches: [UInt16] = []
        for bits in 0 ... UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            for value in [HalfPrecision.float(bits), HalfPrecision.floatReference(bits)] {
                let same = expected.isNaN ? value.isNaN : value.bitPattern == expected.bitPattern
                if !same { mismatches.append(bits) }
            }
        }
        #expect(mismatches.count == 0, "first mismatches: \(mismatches.prefix(8))")
    }

    @Test func roundingToHalfIsToNearestEven() {
        #expect(HalfPrecision.bits(1) == 0x3C00)
        #expect(HalfPrecision.bits(65504) == 0x7BFF)
        #expect(HalfPrecision.bits(65520) == 0x7C00)       // rounds up to infinity
        #expect(HalfPrecision.bits(1 + 0x1p-11) == 0x3C00)  // tie: to even (down)
        #expect(HalfPrecision.bits(1 + 3 * 0x1p-11) == 0x3C02)  // tie: to even (up)
        #expect(HalfPrecision.rounded(0x1p-25) == 0)        // below half the smallest subnormal
        #expect(HalfPrecision.rounded(-0x1p-24) == -0x1p-24)
    }
}
