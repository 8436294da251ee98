import SovereignCrypto

/// An Ed25519 key as C2SP signed notes name it (signed-note.md, and Go's
/// golang.org/x/mod/sumdb/note): a name, a 4-byte key ID, the public key.
///
/// Its text form, the "verifier key" an auditor pins, is
/// `<name>+<8 lowercase hex of the key ID>+<base64(0x01 ‖ public key)>`,
/// and the key ID is the first 4 bytes, big-endian, of
/// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key).
public struct NoteVerifierKey: Sendable, Hashable, CustomStringConvertible {
    /// The signature-type byte of Ed25519 keys in notes.
    public static let ed25519Type: UInt8 = 0x01
    /// Longest verifier key string read (a name is short; a key is 45 characters).
    public static let maxEncodedLength = 1024

    public let name: String
    public let keyID: UInt32
    public let publicKey: Ed25519.PublicKey

    public init(name: String, publicKey: Ed25519.PublicKey) throws(LogError) {
        guard Self.isValidName(name) else {
            throw LogError("key name '\(name)'", "must be non-empty, with no spaces, '+' or control characters")
        }
        self.name = name
        self.publicKey = publicKey
        keyID = Self.keyID(name: name, publicKey: publicKey)
    }

    /// Parses `<name>+<hex id>+<base64 key>`, checking the ID against the key.
    public init(parsing text: String, source: String) throws(LogError) {
        guard text.utf8.count <= Self.maxEncodedLength else {
            throw LogError(source, "a verifier key is at most \(Self.maxEncodedLength) bytes")
        }
        // The name has no '+', the ID is 8 hex digits; base64 may hold '+'.
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw LogError(source, "not a verifier key: expected <name>+<8 hex digits>+<base64 key>")
        }
        let name = String(parts[0]), idText = String(parts[1]), keyText = String(parts[2])
        guard Self.isValidName(name) else {
            throw LogError(source, "key name '\(name)' must be non-empty, with no spaces, '+' or control characters")
        }
        guard Hex.isLowercaseHex(idText, length: 8), let id = UInt32(idText, radix: 16) else {
            throw LogError(source, "key ID '\(idText)' must be 8 lowercase hex digits")
        }
        guard let key = Base64.decodeStrict(keyText) else {
            throw LogError(source, "the key is not canonical padded base64")
        }
        guard key.count == 1 + Ed25519.publicKeyByteCount, key[0] == Self.ed25519Type else {
            throw LogError(source, "not an Ed25519 note key (type 0x01 and 32 bytes expected)")
        }
        let publicKey: Ed25519.PublicKey
        do { publicKey = try Ed25519.PublicKey(rawRepresentation: Array(key[1...])) } catch {
            throw LogError(source, error.reason)
        }
        try self.init(name: name, publicKey: publicKey)
        guard keyID == id else {
            throw LogError(source, "key ID \(idText) does not match the key (it hashes to \(Self.hex(keyID)))")
        }
    }

    /// `<name>+<hex id>+<base64(0x01 ‖ key)>`.
    public var encoded: String {
        "\(name)+\(Self.hex(keyID))+\(Base64.encode([Self.ed25519Type] + publicKey.rawRepresentation))"
    }

    public var description: String { encoded }

    /// The key ID as 8 lowercase hex digits.
    public var keyIDHex: String { Self.hex(keyID) }

    /// Whether `signature` (64 bytes, without the key ID) signs `text`.
    public func isValidSignature(_ signature: [UInt8], for text: [UInt8]) -> Bool {
        publicKey.isValidSignature(signature, for: text)
    }

    /// First 4 bytes (big-endian) of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key).
    public static func keyID(name: String, publicKey: Ed25519.PublicKey) -> UInt32 {
        let digest = SHA256.hash(Array(name.utf8) + [0x0A, ed25519Type] + publicKey.rawRepresentation).bytes
        return UInt32(digest[0]) << 24 | UInt32(digest[1]) << 16 | UInt32(digest[2]) << 8 | UInt32(digest[3])
    }

    /// Key names: non-empty, no Unicode white space, no '+', no control characters.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains {
            $0.properties.isWhitespace || $0 == "+" || $0.value < 0x20 || $0.value == 0x7F
        }
    }

    static func hex(_ id: UInt32) -> String {
        let text = String(id, radix: 16)
        return String(repeating: "0", count: 8 - text.count) + text
    }

    static func bytes(_ id: UInt32) -> [UInt8] {
        [UInt8(id >> 24), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)]
    }
}
