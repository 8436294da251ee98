/// A ggml tensor element type, numbered as in ggml's `enum ggml_type` (the
/// number is what a GGUF tensor info stores). Every type a current GGUF may
/// carry is named so that the reader can check any tensor's byte size; only
/// those in `isSupportedForCompute` have kernels here. Numbers ggml removed
/// (4, 5, 31–33, 36–38) are not cases: a file using them is rejected.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39
    case nvfp4 = 40
    case q1_0 = 41
    case q2_0 = 42

    /// Weights per block: a row length must be a multiple of it.
    public var blockSize: Int { layout.weights }

    /// Bytes per block.
    public var bytesPerBlock: Int { layout.bytes }

    /// Whether this module has kernels for weights of the type (see
    /// `KernelTraits`). Others can be read and size-checked but not
    /// computed with. (Q8_1 is only ever an activation type, as in ggml.)
    public var isSupportedForCompute: Bool {
        KernelTraits.of(self) != nil
    }

    /// ggml's name for the type (`q4_1`, `q4_K`, `f32`, …).
    public var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q4_0: return "q4_0"
        case .q4_1: return "q4_1"
        case .q5_0: return "q5_0"
        case .q5_1: return "q5_1"
        case .q8_0: return "q8_0"
        case .q8_1: return "q8_1"
        case .q2_K: return "q2_K"
        case .q3_K: return "q3_K"
        case .q4_K: return "q4_K"
        case .q5_K: return "q5_K"
        case .q6_K: return "q6_K"
        case .q8_K: return "q8_K"
        case .iq2_xxs: return "iq2_xxs"
        case .iq2_xs: return "iq2_xs"
        case .iq3_xxs: return "iq3_xxs"
        case .iq1_s: return "iq1_s"
        case .iq4_nl: return "iq4_nl"
        case .iq3_s: return "iq3_s"
        case .iq2_s: return "iq2_s"
        case .iq4_xs: return "iq4_xs"
        case .i8: return "i8"
        case .i16: return "i16"
        case .i32: return "i32"
        case .i64: return "i64"
        case .f64: return "f64"
        case .iq1_m: return "iq1_m"
        case .bf16: return "bf16"
        case .tq1_0: return "tq1_0"
        case .tq2_0: return "tq2_0"
        case .mxfp4: return "mxfp4"
        case .nvfp4: return "nvfp4"
        case .q1_0: return "q1_0"
        case .q2_0: return "q2_0"
        }
    }

    public var description: String { name }

    // The block layouts, from ggml-common.h (`sizeof(block_q4_1)` etc.).
    private var layout: (weights: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16: return (1, 2)
        case .q4_0: return (32, 18)   // fp16 d, 16 bytes of nibbles
        case .q4_1: return (32, 20)   // fp16 d, fp16 m, 16 bytes of nibbles
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)   // fp16 d, 32 int8
        case .q8_1: return (32, 36)   // fp16 d, fp16 s, 32 int8
        case .q2_K: return (256, 84)
        case .q3_K: return (256, 110)
        case .q4_K: return (256, 144)
        case .q5_K: return (256, 176)
        case .q6_K: return (256, 210)
        case .q8_K: return (256, 292)
        case .iq2_xxs: return (256, 66)
        case .iq2_xs: return (256, 74)
        case .iq3_xxs: return (256, 98)
        case .iq1_s: return (256, 50)
        case .iq4_nl: return (32, 18)
        case .iq3_s: return (256, 110)
        case .iq2_s: return (256, 82)
        case .iq4_xs: return (256, 136)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64: return (1, 8)
        case .f64: return (1, 8)
        case .iq1_m: return (256, 56)
        case .bf16: return (1, 2)
        case .tq1_0: return (256, 54)
        case .tq2_0: return (256, 66)
        case .mxfp4: return (32, 17)
        case .nvfp4: return (64, 36)
        case .q1_0: return (128, 18)
        case .q2_0: return (64, 18)
        }
    }

    /// Bytes for a row of `count` weights, or nil when `count` is not a whole
    /// number of blocks or the size overflows.
    public func rowBytes(weights count: UInt64) -> UInt64? {
        let block = UInt64(blockSize)
        guard count % block == 0 else { return nil }
        let (bytes, overflow) = (count / block).multipliedReportingOverflow(by: UInt64(bytesPerBlock))
        return overflow ? nil : bytes
    }
}
