/// minisign's public key: base64("Ed" ‖ keyid[8] ‖ pk[32]) under an
/// untrusted comment line.
public struct MinisignPublicKey: Sendable, Equatable {
    public let keyID: [UInt8]
    public let key: Ed25519.PublicKey

    public init(key: Ed25519.PublicKey) {
        self.key = key
        self.keyID = Self.derivedKeyID(for: key)
    }

    /// Our keys' minisign id: the first 8 bytes of the SHA-256 key id, so
    /// both ids name the same key and neither needs storing.
    public static func derivedKeyID(for key: Ed25519.PublicKey) -> [UInt8] {
        Array(SHA256.hash(key.rawRepresentation).bytes.prefix(8))
    }

    /// minisign prints the id as the little-endian 64-bit number in upper-case hex.
    public static func displayKeyID(_ id: [UInt8]) -> String {
        Hex.encode(id.reversed()).uppercased()
    }

    /// The file minisign -G would write for this key.
    public var fileContents: String {
        "untrusted comment: minisign public key \(Self.displayKeyID(keyID))\n"
            + Base64.encode(Array("Ed".utf8) + keyID + key.rawRepresentation) + "\n"
    }

    /// Parses a minisign public key file, or the bare base64 line.
    public init(parsing text: String, source: String) throws(CryptoError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        let keyLines = lines.filter { !$0.hasPrefix("untrusted comment:") }
        guard keyLines.count == 1 else {
            throw .malformedKey(source: source, reason: "expected a PEM public key or a minisign public key (one base64 line)")
        }
        guard let raw = Base64.decodeStrict(keyLines[0]), raw.count == 42 else {
            throw .malformedKey(source: source, reason: "minisign public key is not 42 bytes of base64")
        }
        guard raw[0] == UInt8(ascii: "E"), raw[1] == UInt8(ascii: "d") else {
            throw .malformedKey(source: source, reason: "minisign public key algorithm is not Ed25519 ('Ed')")
        }
        keyID = Array(raw[2..<10])
        key = try Ed25519.PublicKey(rawRepresentation: Array(raw[10..<42]))
    }
}
