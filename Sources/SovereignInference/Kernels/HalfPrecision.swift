/// IEEE 754 binary16 ("fp16", ggml's `ggml_fp16_t`) conversions.
///
/// Without F16C (Swift code here is compiled for the baseline CPU), a
/// `Float16 → Float` conversion is a library call; the kernels instead look
/// the 65 536 possible values up in a table built once (256 KiB), as ggml
/// does on CPUs without hardware conversion (`ggml_table_f32_f16`).
enum HalfPrecision {
    /// `table[bits]` is the `Float` value of the binary16 number `bits`.
    /// Written once, when first used, and never again: safe to share.
    nonisolated(unsafe) static let table: UnsafePointer<Float> = {
        let table = UnsafeMutablePointer<Float>.allocate(capacity: 1 << 16)
        for bits in 0 ..< (1 << 16) { table[bits] = floatReference(UInt16(bits)) }
        return UnsafePointer(table)
    }()

    /// The value of the binary16 number `bits` (table lookup).
    @inline(__always)  // one load in kernels' inner loops; a call would cost more than the work
    static func float(_ bits: UInt16) -> Float {
        table[Int(bits)]
    }

    /// The value of the binary16 number `bits`, computed from its fields:
    /// exact for zeros, subnormals, normals, infinities and NaNs (the
    /// payload is kept). Builds the table; tests compare it with `Float16`.
    static func floatReference(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let magnitude = UInt32(bits & 0x7FFF)
        if magnitude >= 0x7C00 {  // infinity or NaN
            return Float(bitPattern: sign | 0x7F80_0000 | (magnitude & 0x03FF) << 13)
        }
        // Shifting the exponent and mantissa into place gives the value
        // scaled by 2^-112; multiplying by 2^112 is exact, subnormals included.
        let scaled = Float(bitPattern: magnitude << 13) * Float(bitPattern: 0x7780_0000)
        return Float(bitPattern: scaled.bitPattern | sign)
    }

    /// `value` rounded to the nearest binary16 number (ties to even), as
    /// ggml's `GGML_FP32_TO_FP16` (F16C `vcvtps2ph` with rounding mode 0).
    static func bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// `value` rounded to binary16 precision and back.
    static func rounded(_ value: Float) -> Float {
        float(bits(value))
    }
}
