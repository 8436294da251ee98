/// Per weight type, what the CPU needs to compute with it (ggml's
/// `type_traits_cpu`): the activation type its dot product takes
/// (`vec_dot_type`), how to decode a row, and the matrix product with its
/// scalar twin. One table; a type without an entry has no kernels.
struct KernelTraits: Sendable {
    /// How activations are prepared for this weight type's dot product.
    enum Activation: Sendable, Equatable {
        /// As they are (F32 weights).
        case float32
        /// Rounded to fp16 (F16 weights; ggml converts activations to F16).
        case float16
        /// Quantised to 8 bits in `Q8Blocks` of this type (Q8_0, or Q8_1 with its sums).
        case q8(GGMLType)
    }

    /// A matrix product over rows of the weight matrix.
    enum Product: Sendable {
        case float(FloatDotProducts.Kernel)
        case quantized(QuantizedDotProducts.Kernel)
    }

    let type: GGMLType
    let activation: Activation
    let dequantizeRow: Dequantization.Kernel
    let product: Product
    let productReference: Product

    /// The traits of `type`, or nil when there are no kernels for it.
    static func of(_ type: GGMLType) -> KernelTraits? {
        switch type {
        case .f32: return f32
        case .f16: return f16
        case .q4_0: return q4_0
        case .q4_1: return q4_1
        case .q8_0: return q8_0
        default: return nil
        }
    }

    static let f32 = KernelTraits(
        type: .f32, activation: .float32, dequantizeRow: Dequantization.dequantizeRowF32,
        product: .float(FloatDotProducts.dotF32F32), productReference: .float(FloatDotProducts.dotF32F32Reference))
    static let f16 = KernelTraits(
        type: .f16, activation: .float16, dequantizeRow: Dequantization.dequantizeRowF16,
        product: .float(FloatDotProducts.dotF16F16), productReference: .float(FloatDotProducts.dotF16F16Reference))
    static let q4_0 = KernelTraits(
        type: .q4_0, activation: .q8(.q8_0), dequantizeRow: Dequantization.dequantizeRowQ4_0,
        product: .quantized(QuantizedDotProducts.dotQ4_0Q8_0),
        productReference: .quantized(QuantizedDotProducts.dotQ4_0Q8_0Reference))
    static let q4_1 = KernelTraits(
        type: .q4_1, activation: .q8(.q8_1), dequantizeRow: Dequantization.dequantizeRowQ4_1,
        product: .quantized(QuantizedDotProducts.dotQ4_1Q8_1),
        productReference: .quantized(QuantizedDotProducts.dotQ4_1Q8_1Reference))
    static let q8_0 = KernelTraits(
        type: .q8_0, activation: .q8(.q8_0), dequantizeRow: Dequantization.dequantizeRowQ8_0,
        product: .quantized(QuantizedDotProducts.dotQ8_0Q8_0),
        productReference: .quantized(QuantizedDotProducts.dotQ8_0Q8_0Reference))
}
