import SovereignCrypto

/// A name-based UUID from SHA-256, as RFC 9562 Appendix B.2 builds one: the
/// first 16 bytes of the hash with the version nibble set to 8 (custom,
/// since versions 3 and 5 are fixed to MD5 and SHA-1) and the RFC 4122
/// variant bits `10`. The same name always gives the same UUID, so a BOM's
/// serial number is reproducible.
enum NameBasedUUID {
    static func version8(sha256 digest: SHA256Digest) -> String {
        var bytes = Array(digest.bytes.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Hex.encode(bytes)
        let utf8 = Array(hex.utf8)
        func part(_ range: Range<Int>) -> String { String(decoding: utf8[range], as: UTF8.self) }
        return [part(0..<8), part(8..<12), part(12..<16), part(16..<20), part(20..<32)].joined(separator: "-")
    }
}
