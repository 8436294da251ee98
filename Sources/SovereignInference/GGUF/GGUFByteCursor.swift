/// A bounds-checked little-endian reader over the file's bytes. Every read
/// first checks that the bytes exist and throws `.truncated` naming the field
/// otherwise; nothing here can read past the end or trap on hostile input.
struct GGUFByteCursor {
    let bytes: UnsafeRawBufferPointer
    let source: String
    private(set) var position: Int = 0

    init(bytes: UnsafeRawBufferPointer, source: String) {
        self.bytes = bytes
        self.source = source
    }

    var remaining: Int { bytes.count - position }

    /// Throws unless `count` more bytes exist.
    func require(_ count: UInt64, for what: @autoclosure () -> String) throws(GGUFError) {
        if count > UInt64(remaining) {
            throw GGUFError.truncated(
                source: source, what: what(), offset: UInt64(position),
                needed: count, available: UInt64(remaining))
        }
    }

    mutating func readBytes(_ count: Int, for what: @autoclosure () -> String) throws(GGUFError) -> UnsafeRawBufferPointer {
        try require(UInt64(count), for: what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + count])
        position += count
        return slice
    }

    mutating func readUInt8(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt8 {
        try require(1, for: what())
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readUInt16(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt16 {
        try require(2, for: what())
        defer { position += 2 }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt16.self))
    }

    mutating func readUInt32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try require(4, for: what())
        defer { position += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }

    mutating func readUInt64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try require(8, for: what())
        defer { position += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    /// A GGUF string: a u64 byte length, then that many bytes of UTF-8.
    /// The length is checked against `maxLength` and the remaining bytes
    /// before anything is read; invalid UTF-8 is rejected, not repaired, so
    /// that what we hash, compare and print is what the file holds.
    mutating func readString(
        maxLength: UInt64, _ what: @autoclosure () -> String
    ) throws(GGUFError) -> String {
        let length = try readUInt64("length of \(what())")
        if length > maxLength {
            throw GGUFError.limitExceeded(
                source: source, what: "length of \(what())", value: length, limit: maxLength)
        }
        let raw = try readBytes(Int(length), for: what())
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw GGUFError.invalidMetadata(source: source, key: what(), reason: "not valid UTF-8")
        }
        return string
    }
}
