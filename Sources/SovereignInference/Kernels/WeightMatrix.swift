/// A weight matrix as a kernel sees it: `rows` output features, each a row
/// of `columns` input weights stored contiguously in ggml's encoding for
/// `type` (a GGUF tensor of dimensions `[columns, rows]`).
///
/// The bytes are borrowed, usually from a model file's read-only mapping;
/// whoever makes the value keeps them alive (`LlamaModel` holds its
/// `GGUFFile`). Sendable because nothing ever writes through `base`.
struct WeightMatrix: @unchecked Sendable {
    let name: String
    let type: GGMLType
    let rows: Int
    let columns: Int
    let base: UnsafeRawPointer
    /// Bytes from one row to the next.
    let rowBytes: Int

    init(name: String, type: GGMLType, rows: Int, columns: Int, base: UnsafeRawPointer) {
        precondition(columns % type.blockSize == 0, "\(name): \(columns) columns is not a whole number of \(type) blocks")
        self.name = name
        self.type = type
        self.rows = rows
        self.columns = columns
        self.base = base
        self.rowBytes = columns / type.blockSize * type.bytesPerBlock
    }

    /// Reads `tensor` (dimensions `[columns, rows]`) of `file`.
    init(tensor: GGUFTensorInfo, in file: GGUFFile) {
        precondition(tensor.dimensions.count <= 2, "\(tensor.name) is not a matrix")
        let data = file.data(for: tensor)
        let columns = tensor.dimensions.first ?? 1
        let rows = tensor.dimensions.count == 2 ? tensor.dimensions[1] : 1
        // Callers check shapes first (LlamaHyperParameters), so every
        // matrix here has at least one weight and so an address.
        guard let base = data.baseAddress else { preconditionFailure("\(tensor.name) is empty") }
        self.init(name: tensor.name, type: tensor.type, rows: rows, columns: columns, base: base)
        precondition(rowBytes * rows == data.count, "\(tensor.name): size disagrees with its shape")
    }

    @inline(__always)  // address arithmetic in kernels' row loops
    func row(_ index: Int) -> UnsafeRawPointer { base + index * rowBytes }
}
