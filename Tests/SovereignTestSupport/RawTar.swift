/// A byte-level tar writer for hostile test archives: names are raw bytes
/// (any byte but NUL, any length: a pax `path` record carries what a ustar
/// header cannot), any entry type, any mode. Nothing is checked, on purpose.
public enum RawTar {
    public static let regular = UInt8(ascii: "0"), hardLink = UInt8(ascii: "1"), symbolicLink = UInt8(ascii: "2")
    public static let fifo = UInt8(ascii: "6"), directory = UInt8(ascii: "5")

    /// One entry: a pax header first when the name does not fit ustar's 100 bytes or is not ASCII.
    public static func entry(_ name: [UInt8], type: UInt8 = regular, body: [UInt8] = [], mode: Int = 0o644,
                             linkName: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        var headerName = name
        if name.count > 100 || name.contains(where: { $0 >= 0x80 }) {
            out += header(Array("PaxHeader/x".utf8), type: UInt8(ascii: "x"), size: 0, mode: 0o644, linkName: [], bodySize: paxRecord("path", name).count)
            out += padded(paxRecord("path", name))
            headerName = Array(name.prefix(100))
        }
        out += header(headerName, type: type, size: type == regular ? body.count : 0, mode: mode, linkName: linkName, bodySize: nil)
        if type == regular { out += padded(body) }
        return out
    }

    /// The two zero blocks that end an archive.
    public static let end = [UInt8](repeating: 0, count: 1024)

    static func paxRecord(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let payload = Array(" \(key)=".utf8) + value + [0x0A]
        var length = payload.count + 1
        while String(length).utf8.count + payload.count != length { length = String(length).utf8.count + payload.count }
        return Array(String(length).utf8) + payload
    }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
    }

    static func header(_ name: [UInt8], type: UInt8, size: Int, mode: Int, linkName: [UInt8], bodySize: Int?) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (i, byte) in bytes.prefix(width).enumerated() { block[offset + i] = byte }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(name, at: 0, width: 100)
        put(octal(mode, width: 8), at: 100, width: 8)
        put(octal(0, width: 8), at: 108, width: 8)
        put(octal(0, width: 8), at: 116, width: 8)
        put(octal(bodySize ?? size, width: 12), at: 124, width: 12)
        put(octal(1_700_000_000, width: 12), at: 136, width: 12)
        block[156] = type
        put(linkName, at: 157, width: 100)
        put(Array("ustar".utf8) + [0], at: 257, width: 6)
        put(Array("00".utf8), at: 263, width: 2)
        for i in 148..<156 { block[i] = 0x20 }
        let sum = block.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [0x20], at: 148, width: 8)
        return block + (bodySize.map { _ in [] } ?? [])
    }
}
