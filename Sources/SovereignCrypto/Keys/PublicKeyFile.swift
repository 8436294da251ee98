/// Public keys as files: PEM SubjectPublicKeyInfo (RFC 8410), the form
/// OpenSSL, securesystemslib and sigstore tools read; and minisign's form.
public enum PublicKeyFile {
    /// DER prefix of an Ed25519 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE {
    /// OID 1.3.101.112 }, BIT STRING (0 unused bits) … }, followed by 32 bytes.
    static let ed25519SPKIPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    /// `-----BEGIN PUBLIC KEY-----` PEM of an Ed25519 key.
    public static func pem(_ key: Ed25519.PublicKey) -> String {
        PEM.encode(label: "PUBLIC KEY", der: ed25519SPKIPrefix + key.rawRepresentation)
    }

    /// Reads a public key from PEM (SubjectPublicKeyInfo) or minisign's
    /// public-key file, whichever `text` is.
    public static func parse(_ text: String, source: String) throws(CryptoError) -> ParsedPublicKey {
        if text.contains("-----BEGIN") {
            let der = try PEM.decode(text, label: "PUBLIC KEY", source: source)
            guard der.count == ed25519SPKIPrefix.count + 32, Array(der.prefix(ed25519SPKIPrefix.count)) == ed25519SPKIPrefix else {
                throw .malformedKey(source: source, reason: "not an Ed25519 SubjectPublicKeyInfo (only Ed25519 keys are accepted)")
            }
            let key = try Ed25519.PublicKey(rawRepresentation: Array(der.suffix(32)))
            return ParsedPublicKey(key: key, minisignKeyID: MinisignPublicKey.derivedKeyID(for: key), format: .pem)
        }
        let minisign = try MinisignPublicKey(parsing: text, source: source)
        return ParsedPublicKey(key: minisign.key, minisignKeyID: minisign.keyID, format: .minisign)
    }
}

/// A public key read from a file, with the minisign key id that goes with it.
public struct ParsedPublicKey: Sendable {
    public enum Format: String, Sendable { case pem, minisign }
    public let key: Ed25519.PublicKey
    /// minisign's 8-byte key id (random for keys minisign made; derived from
    /// the SHA-256 key id for ours).
    public let minisignKeyID: [UInt8]
    public let format: Format
}

/// RFC 7468 textual encoding.
enum PEM {
    static func encode(label: String, der: [UInt8]) -> String {
        let body = Base64.encode(der)
        var lines: [Substring] = []
        var rest = Substring(body)
        while !rest.isEmpty {
            lines.append(rest.prefix(64))
            rest = rest.dropFirst(64)
        }
        return "-----BEGIN \(label)-----\n" + lines.joined(separator: "\n") + "\n-----END \(label)-----\n"
    }

    static func decode(_ text: String, label: String, source: String) throws(CryptoError) -> [UInt8] {
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end), start.upperBound <= stop.lowerBound else {
            throw .malformedKey(source: source, reason: "expected a PEM '\(label)' block")
        }
        let body = text[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        guard let der = Base64.decodeStrict(String(body)) else {
            throw .malformedKey(source: source, reason: "PEM body is not valid base64")
        }
        return der
    }
}
