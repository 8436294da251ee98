/// One 512-byte ustar header block, read field by field under the layer
/// profile's rules (`TarProfile`). Parsing only: the validator decides
/// what the fields may hold together.
struct TarHeaderBlock {
    static let size = 512

    let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        precondition(bytes.count == Self.size, "a tar header is 512 bytes")
        self.bytes = bytes
    }

    var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    // MARK: Fields (offset, width) as POSIX ustar lays them out

    static let name = (0, 100), mode = (100, 8), uid = (108, 8), gid = (116, 8)
    static let sizeField = (124, 12), mtime = (136, 12), checksum = (148, 8)
    static let typeflagOffset = 156
    static let linkname = (157, 100), magic = (257, 6), version = (263, 2)
    static let uname = (265, 32), gname = (297, 32), devmajor = (329, 8), devminor = (337, 8)
    static let prefix = (345, 155), padding = (500, 12)

    func field(_ layout: (Int, Int)) -> ArraySlice<UInt8> { bytes[layout.0..<(layout.0 + layout.1)] }

    var typeflag: UInt8 { bytes[Self.typeflagOffset] }

    /// A text field: its bytes up to the first NUL; nil if anything but
    /// NULs follows that NUL (bytes no reader shows but some might keep).
    func text(_ layout: (Int, Int)) -> [UInt8]? {
        let all = field(layout)
        guard let end = all.firstIndex(of: 0) else { return Array(all) }
        guard all[end...].allSatisfy({ $0 == 0 }) else { return nil }
        return Array(all[..<end])
    }

    /// The name every reader joins from the prefix and name fields:
    /// `prefix/name`, or `name` alone when the prefix is empty.
    func joinedName(prefix: [UInt8], name: [UInt8]) -> [UInt8] {
        prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
    }

    /// The unsigned sum of the block with the checksum field as spaces,
    /// as POSIX defines it.
    var computedChecksum: Int {
        var sum = 0
        for (index, byte) in bytes.enumerated() {
            sum += (Self.checksum.0..<(Self.checksum.0 + Self.checksum.1)).contains(index) ? 0x20 : Int(byte)
        }
        return sum
    }

    /// How a numeric field was written.
    enum Numeric: Equatable {
        /// Octal digits followed by at least one NUL or space: every reader's form.
        case octal(Int64)
        /// Octal digits filling the whole field: libarchive's writer for
        /// sizes and times that need one more digit.
        case octalFullWidth(Int64)
        /// GNU base-256 (first byte 0x80): the writer's form for sizes of 64 GiB and more.
        case base256(Int64)

        var value: Int64 {
            switch self {
            case .octal(let value), .octalFullWidth(let value), .base256(let value): return value
            }
        }
    }

    /// A numeric field, or nil if it is in no form the profile reads the
    /// same way everywhere (leading spaces, signs, stray characters,
    /// negative or overflowing base-256).
    func numeric(_ layout: (Int, Int)) -> Numeric? {
        let all = field(layout)
        if all.first == 0x80 {
            var value: Int64 = 0
            for byte in all.dropFirst() {
                guard value <= (Int64.max >> 8) else { return nil }
                value = value << 8 | Int64(byte)
            }
            return .base256(value)
        }
        var value: Int64 = 0
        var index = all.startIndex
        while index < all.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(all[index]) {
            guard value <= (Int64.max >> 3) else { return nil }
            value = value << 3 | Int64(all[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index > all.startIndex else { return nil }
        if index == all.endIndex { return .octalFullWidth(value) }
        guard all[index...].allSatisfy({ $0 == 0 || $0 == 0x20 }) else { return nil }
        return .octal(value)
    }

    /// A field a writer may leave all NUL or fill with a terminated octal number.
    func isEmptyOrZero(_ layout: (Int, Int)) -> Bool {
        if field(layout).allSatisfy({ $0 == 0 }) { return true }
        return numeric(layout) == .octal(0)
    }

    /// A field shown in a message: without its trailing NULs, printable
    /// text as is, the rest escaped.
    func shown(_ layout: (Int, Int)) -> String {
        let all = field(layout)
        let end = all.lastIndex(where: { $0 != 0 }).map { $0 + 1 } ?? all.startIndex
        return SafeTarPath.display(Array(all[..<end]))
    }
}
