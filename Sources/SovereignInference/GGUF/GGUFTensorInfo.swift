/// One tensor as the GGUF header describes it, after validation: its shape
/// fits the type's block size, its byte size did not overflow, and its bytes
/// lie inside the file's data section without overlapping another tensor.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in ggml order: `dimensions[0]` is the row length (the
    /// contiguous one), so a weight matrix of `out × in` is `[in, out]`.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset of the first byte from the start of the data section.
    public let relativeOffset: Int
    /// Offset of the first byte from the start of the file.
    public let fileOffset: Int
    /// Size in bytes (whole blocks).
    public let byteCount: Int

    public var elementCount: Int { dimensions.reduce(1, *) }

    /// The shape as ggml tools print it: `[576, 49152]`.
    public var shapeDescription: String {
        "[" + dimensions.map(String.init).joined(separator: ", ") + "]"
    }
}
