@testable import SovereignArchive

/// Writes tar layers in the layer profile byte for byte as
/// `DeterministicTarWriter` (libarchive's pax-restricted writer) does, so
/// a hostile layer can depart from a real one in exactly one thing: a
/// field edited before the checksum, an extra pax record, another ustar
/// name, a raw block spliced in. `TarProfileValidatorTests` checks that,
/// left alone, it writes the writer's very bytes. Only where libarchive
/// must shorten a name (a pax `path`) does it shorten it its own way, in
/// the same shape (libarchive's exact lengths differ between versions).
struct ProfileTar {
    static let mtime: Int64 = 1_700_000_000
    static let regular = UInt8(ascii: "0"), directory = UInt8(ascii: "5"), pax = UInt8(ascii: "x")

    private(set) var bytes: [UInt8] = []

    /// The layer with its two end-of-archive blocks.
    var finished: [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

    /// One header block as libarchive's ustar formatter fills it; `edit`
    /// changes the block before its checksum is computed (`breakChecksum`
    /// after, for a damaged header).
    static func header(_ name: [UInt8], type: UInt8, size: Int64, mode: Int, mtime: Int64 = mtime,
                       edit: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ field: [UInt8], at offset: Int) {
            for (index, byte) in field.enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int64, digits: Int) -> [UInt8] {
            let text = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, digits - text.count)) + text).utf8)
        }
        if name.count <= 100 {
            put(name, at: 0)
        } else {
            let split = Self.ustarSplit(name)!
            put(Array(name[..<split]), at: 345)
            put(Array(name[(split + 1)...]), at: 0)
        }
        put(octal(Int64(mode), digits: 6) + [0x20, 0], at: 100)
        put(Array("000000 ".utf8) + [0], at: 108)
        put(Array("000000 ".utf8) + [0], at: 116)
        if size < 1 << 33 {
            put(octal(size, digits: 11) + [0x20], at: 124)
        } else if size < 1 << 36 {
            put(octal(size, digits: 12), at: 124)
        } else {
            var field = [UInt8](repeating: 0, count: 12)
            var value = size
            for index in stride(from: 11, through: 1, by: -1) { field[index] = UInt8(value & 0xFF); value >>= 8 }
            field[0] = 0x80
            put(field, at: 124)
        }
        put(octal(mtime, digits: 11) + [0x20], at: 136)
        block[156] = type
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
        put(Array("000000 ".utf8) + [0], at: 329)
        put(Array("000000 ".utf8) + [0], at: 337)
        edit(&block)
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = block.reduce(0) { $0 + Int64($1) }
        put(octal(sum, digits: 6) + [0], at: 148)
        return block
    }

    /// Where libarchive's ustar formatter splits a name over 100 bytes into
    /// prefix and name: the first '/' from 101 bytes before the end, never
    /// byte 0; nil if the name cannot be split.
    static func ustarSplit(_ path: [UInt8]) -> Int? {
        let slash = UInt8(ascii: "/")
        guard path.count >= 101, var split = path[(path.count - 101)...].firstIndex(of: slash) else { return nil }
        if split == 0 {
            guard let next = path[1...].firstIndex(of: slash) else { return nil }
            split = next
        }
        return split == path.count - 1 || split > 155 ? nil : split
    }

    /// When libarchive's writer stores a path in a pax 'path' record.
    static func needsPaxPath(_ path: [UInt8]) -> Bool {
        path.contains { $0 >= 0x80 } || (path.count > 100 && ustarSplit(path) == nil)
    }

    /// A shortened name in the shape libarchive gives one: leading whole
    /// directories (at most 154 bytes), `insert` as one more directory,
    /// then the start of the last component, and a trailing '/' kept.
    static func truncated(_ name: [UInt8], insert: [UInt8]? = nil, keepSlash: Bool = true) -> [UInt8] {
        let slash = UInt8(ascii: "/")
        var body = name[...]
        while body.last == slash { body = body.dropLast() }
        let trailing = keepSlash && body.count < name.count
        let cut = body.lastIndex(of: slash).map { $0 + 1 } ?? body.startIndex
        var directory = Array(body[..<cut])
        while directory.count > 154, let previous = directory.dropLast().lastIndex(of: slash) { directory = Array(directory[...previous]) }
        if directory.count > 154 { directory = [] }
        let room = 98 - (trailing ? 1 : 0) - (insert.map { $0.count + 1 } ?? 0)
        var out = directory
        if let insert { out += insert + [slash] }
        out += body[cut...].prefix(room)
        if trailing { out.append(slash) }
        return out
    }

    static func record(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let payload = Array(" \(key)=".utf8) + value + [0x0A]
        var length = payload.count + 1
        while String(length).utf8.count + payload.count != length { length = String(length).utf8.count + payload.count }
        return Array(String(length).utf8) + payload
    }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
    }

    /// An entry as the writer makes it: a pax header first when the path,
    /// size or mtime needs one (records in the writer's order: path, mtime,
    /// size), then `records`; then the header and the padded data.
    /// - Parameters:
    ///   - size: the header's size when it is not `data.count` (the data
    ///     written stays `data`, unpadded: a cut layer).
    ///   - ustarName: the ustar name instead of the writer's.
    ///   - paxHeaderName: the `x` header's name instead of the writer's.
    ///   - edit: changes the entry's header block before its checksum.
    mutating func entry(_ path: [UInt8], type: UInt8, data: [UInt8] = [], mode: Int = 0o644, mtime: Int64 = mtime,
                        records extra: [(String, [UInt8])] = [], size: Int64? = nil, ustarName: [UInt8]? = nil,
                        paxHeaderName: [UInt8]? = nil, edit: (inout [UInt8]) -> Void = { _ in }) {
        let size = size ?? Int64(data.count)
        var records: [(String, [UInt8])] = []
        let needsPath = Self.needsPaxPath(path)
        if needsPath { records.append(("path", path)) }
        // From 2038 libarchive 3.6 writes a pax header for the time alone.
        if mtime >= 0x7FFF_FFFF { records.append(("mtime", Array(String(mtime).utf8))) }
        if size >= 1 << 33 { records.append(("size", Array(String(size).utf8))) }
        records += extra
        let stored = ustarName ?? (needsPath ? Self.truncated(path) : path)
        if !records.isEmpty {
            let body = records.flatMap { Self.record($0.0, $0.1) }
            let name = paxHeaderName ?? Self.truncated(stored, insert: Array("PaxHeader".utf8), keepSlash: false)
            bytes += Self.header(name, type: Self.pax, size: Int64(body.count), mode: mode & 0o777, mtime: min(mtime, 0x7FFF_FFFF))
            bytes += Self.padded(body)
        }
        bytes += Self.header(stored, type: type, size: size, mode: mode, mtime: mtime, edit: edit)
        bytes += size == Int64(data.count) ? Self.padded(data) : data
    }

    mutating func file(_ path: String, _ data: [UInt8], mode: Int = 0o644, records: [(String, [UInt8])] = [],
                       ustarName: String? = nil, edit: (inout [UInt8]) -> Void = { _ in }) {
        entry(Array(path.utf8), type: Self.regular, data: data, mode: mode, records: records,
              ustarName: ustarName.map { Array($0.utf8) }, edit: edit)
    }

    mutating func directory(_ path: String) {
        entry(Array((path.hasSuffix("/") ? path : path + "/").utf8), type: Self.directory, mode: 0o755)
    }

    /// Any block (or bytes) as given.
    mutating func raw(_ more: [UInt8]) {
        bytes += more
    }

    /// A header of another type (no data), as the writer would format one.
    mutating func special(_ name: String, type: UInt8, size: Int64 = 0, body: [UInt8] = []) {
        bytes += Self.header(Array(name.utf8), type: type, size: size, mode: 0o644) + Self.padded(body)
    }
}

/// Writes field bytes into a header block being edited.
func put(_ text: String, at offset: Int, width: Int, in block: inout [UInt8]) {
    put(Array(text.utf8), at: offset, width: width, in: &block)
}

func put(_ bytes: [UInt8], at offset: Int, width: Int, in block: inout [UInt8]) {
    precondition(bytes.count <= width)
    for index in 0..<width { block[offset + index] = index < bytes.count ? bytes[index] : 0 }
}
