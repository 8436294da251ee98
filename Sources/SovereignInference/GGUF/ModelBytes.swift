/// The bytes of one model file: a read-only memory mapping, or (for tests and
/// in-memory sources) a private heap copy. Owned by a final class so the
/// mapping lives exactly as long as the last `GGUFFile` that shares it.
///
/// Sendable because the bytes are never written after construction.
final class ModelBytes: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let count: Int
    private let isMapped: Bool

    /// Maps `path` read-only.
    init(mapping path: String) throws(GGUFError) {
        (base, count) = try SystemCalls.mapReadOnly(path: path)
        isMapped = true
    }

    /// Copies `bytes` into memory this object owns.
    init(copying bytes: [UInt8]) {
        if bytes.isEmpty {
            base = nil
        } else {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 64)
            buffer.copyBytes(from: bytes)
            base = UnsafeRawPointer(buffer.baseAddress)
        }
        count = bytes.count
        isMapped = false
    }

    deinit {
        guard let base else { return }
        if isMapped {
            SystemCalls.unmap(base, count: count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
