import Foundation
@testable import SovereignInference

/// Test data for the kernels: deterministic floats, ggml's reference
/// quantisers (ggml-quants.c, `quantize_row_*_ref`) written out here so
/// the kernels are checked against an independent encoder, and weight
/// matrices that own their bytes.
enum QuantizedTestData {
    /// ggml's test-quantize-fns data: 0.1 + 2·cos(i + offset).
    static func synthetic(count: Int, offset: Float = 0) -> [Float] {
        (0 ..< count).map { 0.1 + 2 * cos(Float($0) + offset) }
    }

    /// Uniform in [-scale, scale), from a seeded generator.
    static func random(count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0 ..< count).map { _ in Float(generator.nextUnitInterval() * 2 - 1) * scale }
    }

    static let quantisedTypes: [GGMLType] = [.q4_0, .q4_1, .q8_0]
    static let allTypes: [GGMLType] = [.f32, .f16, .q4_0, .q4_1, .q8_0]

    /// `x` (a whole number of blocks) encoded as `type`.
    static func encode(_ x: [Float], as type: GGMLType) -> [UInt8] {
        var out: [UInt8] = []
        func half(_ value: Float) {
            let bits = Float16(value).bitPattern
            out += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
        }
        switch type {
        case .f32:
            for value in x { withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 } }
        case .f16:
            for value in x { half(value) }
        case .q8_0:
            for block in stride(from: 0, to: x.count, by: 32) {
                let values = x[block ..< block + 32]
                let amax = values.map(abs).max() ?? 0
                let d = amax / 127
                let inverse: Float = d != 0 ? 1 / d : 0
                half(d)
                for value in values { out.append(UInt8(bitPattern: Int8((value * inverse).rounded()))) }
            }
        case .q4_0:
            for block in stride(from: 0, to: x.count, by: 32) {
                let values = Array(x[block ..< block + 32])
                var amax: Float = 0, maximum: Float = 0
                for value in values where abs(value) > amax {
                    amax = abs(value)
                    maximum = value
                }
                let d = maximum / -8
                let inverse: Float = d != 0 ? 1 / d : 0
                half(d)
                for j in 0 ..< 16 {
                    let low = min(15, Int8(truncatingIfNeeded: Int(values[j] * inverse + 8.5)))
                    let high = min(15, Int8(truncatingIfNeeded: Int(values[j + 16] * inverse + 8.5)))
                    out.append(UInt8(low) | UInt8(high) << 4)
                }
            }
        case .q4_1:
            for block in stride(from: 0, to: x.count, by: 32) {
                let values = Array(x[block ..< block + 32])
                let minimum = values.min() ?? 0, maximum = values.max() ?? 0
                let d = (maximum - minimum) / 15
                let inverse: Float = d != 0 ? 1 / d : 0
                half(d)
                half(minimum)
                for j in 0 ..< 16 {
                    let low = min(15, Int8(truncatingIfNeeded: Int((values[j] - minimum) * inverse + 0.5)))
                    let high = min(15, Int8(truncatingIfNeeded: Int((values[j + 16] - minimum) * inverse + 0.5)))
                    out.append(UInt8(low) | UInt8(high) << 4)
                }
            }
        default:
            preconditionFailure("no test encoder for \(type)")
        }
        return out
    }

    /// Decodes `count` weights of `type` with the module's dequantiser.
    static func decode(_ bytes: [UInt8], as type: GGMLType, count: Int) -> [Float] {
        guard let traits = KernelTraits.of(type) else { preconditionFailure("no kernels for \(type)") }
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { source in
            out.withUnsafeMutableBufferPointer { traits.dequantizeRow(source.baseAddress!, $0.baseAddress!, count) }
        }
        return out
    }
}

/// A weight matrix whose bytes the test owns (the kernels borrow them).
final class OwnedMatrix {
    let bytes: UnsafeMutableRawBufferPointer
    let matrix: WeightMatrix
    let traits: KernelTraits
    /// The weights as encoded, decoded again (what the kernels multiply by).
    let decoded: [Float]

    init(type: GGMLType, rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns)
        let encoded = QuantizedTestData.encode(values, as: type)
        bytes = .allocate(byteCount: max(encoded.count, 1), alignment: 64)
        bytes.copyBytes(from: encoded)
        matrix = WeightMatrix(name: "test", type: type, rows: rows, columns: columns, base: UnsafeRawPointer(bytes.baseAddress!))
        traits = KernelTraits.of(type)!
        decoded = QuantizedTestData.decode(encoded, as: type, count: values.count)
    }

    deinit { bytes.deallocate() }
}
