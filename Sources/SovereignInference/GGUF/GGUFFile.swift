/// A validated GGUF model file: its metadata, its tensor descriptions, and
/// its bytes (memory-mapped read-only, so loading a 100 MB model costs page
/// faults, not copies).
///
/// Everything is checked when the value is made (see `GGUFParser`): after
/// `init` returns, every tensor's bytes lie inside the file and can be read
/// through `data(for:)` without further checks.
public struct GGUFFile: Sendable {
    /// The path or name the file was opened as; errors are prefixed with it.
    public let source: String
    /// GGUF version (2 or 3).
    public let version: UInt32
    public let metadata: GGUFMetadata
    /// Tensors in header order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of tensor data (`general.alignment`, 32 by default).
    public let alignment: Int
    /// Offset of the data section from the start of the file.
    public let dataOffset: Int

    private let bytes: ModelBytes
    private let tensorIndex: [String: Int]

    /// Maps and validates the GGUF file at `path`.
    public init(contentsOf path: String, limits: GGUFLimits = .standard) throws(GGUFError) {
        try self.init(bytes: ModelBytes(mapping: path), source: path, limits: limits)
    }

    /// Validates a GGUF image held in memory (tests, or a file already read).
    public init(bytes: [UInt8], source: String = "<memory>", limits: GGUFLimits = .standard) throws(GGUFError) {
        try self.init(bytes: ModelBytes(copying: bytes), source: source, limits: limits)
    }

    private init(bytes: ModelBytes, source: String, limits: GGUFLimits) throws(GGUFError) {
        var parser = GGUFParser(bytes: bytes.buffer, source: source, limits: limits)
        let header = try parser.parse()
        self.source = source
        self.version = header.version
        self.metadata = header.metadata
        self.tensors = header.tensors
        self.alignment = header.alignment
        self.dataOffset = header.dataOffset
        self.bytes = bytes
        var index: [String: Int] = [:]
        for (position, tensor) in header.tensors.enumerated() { index[tensor.name] = position }
        self.tensorIndex = index
    }

    /// Size of the whole file in bytes.
    public var fileSize: Int { bytes.count }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor, or `.missingTensor` naming it.
    public func requireTensor(_ name: String) throws(GGUFError) -> GGUFTensorInfo {
        guard let tensor = tensor(named: name) else { throw GGUFError.missingTensor(source: source, tensor: name) }
        return tensor
    }

    /// The bytes of `tensor`, which must come from this file's `tensors`.
    /// The buffer points into the mapping: it stays valid while this value
    /// (or a copy of it) is alive, so keep the `GGUFFile` alive while using
    /// it (`withExtendedLifetime`), or use `withTensorData`.
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(tensorIndex[tensor.name].map { tensors[$0] == tensor } ?? false,
                     "tensor '\(tensor.name)' does not belong to \(source)")
        return UnsafeRawBufferPointer(rebasing: bytes.buffer[tensor.fileOffset ..< tensor.fileOffset + tensor.byteCount])
    }

    /// Runs `body` with the bytes of `tensor`, keeping the mapping alive.
    public func withTensorData<R, E: Error>(
        _ tensor: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        defer { withExtendedLifetime(bytes) {} }
        return try body(data(for: tensor))
    }
}
