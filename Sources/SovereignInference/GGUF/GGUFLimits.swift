/// Upper bounds the parser enforces before allocating, so that a hostile
/// header claiming 2^60 entries fails fast with a clear error instead of
/// exhausting memory. Every count is also bounded by the bytes that remain
/// in the file (each entry has a minimum encoded size); these caps bound
/// what even a large, well-formed-looking file can make us build.
public struct GGUFLimits: Sendable, Equatable {
    /// Tensors in one file (real models: hundreds to a few thousand).
    public var maxTensorCount: UInt64
    /// Metadata entries in one file (real models: a few dozen).
    public var maxMetadataCount: UInt64
    /// Bytes in one string (chat templates are the longest: tens of KB).
    public var maxStringLength: UInt64
    /// Elements in one metadata array (vocabularies: up to a few hundred thousand).
    public var maxArrayLength: UInt64
    /// Nesting of arrays inside arrays.
    public var maxArrayDepth: Int
    /// Bytes in a tensor name; ggml's GGML_MAX_NAME is 64 including the NUL.
    public var maxTensorNameLength: UInt64

    public init(
        maxTensorCount: UInt64 = 1 << 16,
        maxMetadataCount: UInt64 = 1 << 16,
        maxStringLength: UInt64 = 1 << 24,
        maxArrayLength: UInt64 = 1 << 24,
        maxArrayDepth: Int = 4,
        maxTensorNameLength: UInt64 = 63
    ) {
        self.maxTensorCount = maxTensorCount
        self.maxMetadataCount = maxMetadataCount
        self.maxStringLength = maxStringLength
        self.maxArrayLength = maxArrayLength
        self.maxArrayDepth = maxArrayDepth
        self.maxTensorNameLength = maxTensorNameLength
    }

    public static let standard = GGUFLimits()
}
