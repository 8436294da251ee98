/// Rows of weights decoded to `Float` (ggml's `to_float` / `dequantize_row_*`):
/// the input embedding lookup, norms stored in a quantised type, and tests.
enum Dequantization {
    /// Decodes `count` weights (a whole number of blocks) starting at `source`.
    typealias Kernel = @Sendable (_ source: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) -> Void

    static func dequantizeRowF32(_ source: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0 ..< count { output[i] = source.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
    }

    static func dequantizeRowF16(_ source: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) {
        for i in 0 ..< count { output[i] = HalfPrecision.float(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
    }

    /// block_q4_0: weight j < 16 is `qs[j] & 0xF`, weight j + 16 is `qs[j] >> 4`; value d·(q − 8).
    static func dequantizeRowQ4_0(_ source: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) {
        for block in 0 ..< count / 32 {
            let base = source + block * 18
            let d = HalfPrecision.float(base.loadUnaligned(as: UInt16.self))
            let out = output + block * 32
            for j in 0 ..< 16 {
                let byte = base.load(fromByteOffset: 2 + j, as: UInt8.self)
                out[j] = Float(Int32(byte & 0x0F) - 8) * d
                out[j + 16] = Float(Int32(byte >> 4) - 8) * d
            }
        }
    }

    /// block_q4_1: as Q4_0 without the offset; value d·q + m.
    static func dequantizeRowQ4_1(_ source: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) {
        for block in 0 ..< count / 32 {
            let base = source + block * 20
            let d = HalfPrecision.float(base.loadUnaligned(as: UInt16.self))
            let m = HalfPrecision.float(base.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            let out = output + block * 32
            for j in 0 ..< 16 {
                let byte = base.load(fromByteOffset: 4 + j, as: UInt8.self)
                out[j] = Float(byte & 0x0F) * d + m
                out[j + 16] = Float(byte >> 4) * d + m
            }
        }
    }

    /// block_q8_0: value d·q.
    static func dequantizeRowQ8_0(_ source: UnsafeRawPointer, _ output: UnsafeMutablePointer<Float>, _ count: Int) {
        for block in 0 ..< count / 32 {
            let base = source + block * 34
            let d = HalfPrecision.float(base.loadUnaligned(as: UInt16.self))
            let out = output + block * 32
            for j in 0 ..< 32 { out[j] = Float(base.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        }
    }
}
