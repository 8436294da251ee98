import Foundation
internal import CSodium

/// A private key file: the Ed25519 seed sealed with XSalsa20-Poly1305
/// (libsodium secretbox) under a key derived from a passphrase by Argon2id.
///
/// The public key and key id are stored in clear so that `key show` needs
/// no passphrase; on opening, the public key is re-derived from the seed and
/// must match, so an edited public key is caught too.
public struct EncryptedPrivateKey: Codable, Sendable, Equatable {
    public static let schema = "sovereign.private-key/v1"

    public struct KDF: Codable, Sendable, Equatable {
        public var algorithm: String      // "argon2id13"
        public var opsLimit: UInt64
        public var memLimit: UInt64
        public var salt: String           // base64, 16 bytes
    }
    public struct Cipher: Codable, Sendable, Equatable {
        public var algorithm: String      // "xsalsa20poly1305"
        public var nonce: String          // base64, 24 bytes
        public var ciphertext: String     // base64, 32-byte seed + 16-byte MAC
    }

    public var schema: String
    public var algorithm: String          // "ed25519"
    public var keyid: String
    public var publicKey: String          // base64 raw 32 bytes
    public var kdf: KDF
    public var cipher: Cipher

    /// Argon2id cost presets (libsodium's named limits).
    public enum Strength: String, Sendable, CaseIterable {
        /// 2 passes, 64 MiB: for tests and throw-away keys.
        case interactive
        /// 3 passes, 256 MiB: the default.
        case moderate
        /// 4 passes, 1 GiB: for offline release keys.
        case sensitive

        var limits: (ops: UInt64, mem: UInt64) {
            switch self {
            case .interactive: return (UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE), UInt64(crypto_pwhash_MEMLIMIT_INTERACTIVE))
            case .moderate: return (UInt64(crypto_pwhash_OPSLIMIT_MODERATE), UInt64(crypto_pwhash_MEMLIMIT_MODERATE))
            case .sensitive: return (UInt64(crypto_pwhash_OPSLIMIT_SENSITIVE), UInt64(crypto_pwhash_MEMLIMIT_SENSITIVE))
            }
        }
    }

    /// Upper bounds on what a file may ask of us, so a hostile key file
    /// cannot make opening it take hours or all memory.
    static let maxOpsLimit: UInt64 = 16
    static let maxMemLimit: UInt64 = 4 << 30

    /// Seals `key` under `passphrase`.
    public init(sealing key: Ed25519.PrivateKey, passphrase: [UInt8], strength: Strength = .moderate) throws(CryptoError) {
        try Self.checkUsable(passphrase)
        let (ops, mem) = strength.limits
        let salt = SecureRandom.bytes(Int(crypto_pwhash_SALTBYTES))
        let nonce = SecureRandom.bytes(Int(crypto_secretbox_NONCEBYTES))
        var boxKey = try Self.deriveKey(passphrase: passphrase, salt: salt, ops: ops, mem: mem)
        defer { wipe(&boxKey) }
        let seed = key.seed
        var sealed = [UInt8](repeating: 0, count: seed.count + Int(crypto_secretbox_MACBYTES))
        guard crypto_secretbox_easy(&sealed, seed, UInt64(seed.count), nonce, boxKey) == 0 else {
            throw .library(operation: "crypto_secretbox_easy", reason: "encryption failed")
        }
        let publicKey = key.publicKey
        self.schema = Self.schema
        self.algorithm = "ed25519"
        self.keyid = publicKey.keyID
        self.publicKey = Base64.encode(publicKey.rawRepresentation)
        self.kdf = KDF(algorithm: "argon2id13", opsLimit: ops, memLimit: mem, salt: Base64.encode(salt))
        self.cipher = Cipher(algorithm: "xsalsa20poly1305", nonce: Base64.encode(nonce), ciphertext: Base64.encode(sealed))
    }

    /// Parses a key file's JSON, checking every field's form.
    public init(json: [UInt8], source: String) throws(CryptoError) {
        do {
            self = try JSONDecoder().decode(EncryptedPrivateKey.self, from: Data(json))
        } catch {
            throw .malformedKey(source: source, reason: "not a Sovereign private key file (\(Self.describe(error)))")
        }
        guard schema == Self.schema else {
            throw .malformedKey(source: source, reason: "schema is '\(schema)', expected '\(Self.schema)'")
        }
        guard algorithm == "ed25519" else { throw .malformedKey(source: source, reason: "algorithm '\(algorithm)' is not supported") }
        guard kdf.algorithm == "argon2id13" else { throw .malformedKey(source: source, reason: "kdf '\(kdf.algorithm)' is not supported") }
        guard cipher.algorithm == "xsalsa20poly1305" else {
            throw .malformedKey(source: source, reason: "cipher '\(cipher.algorithm)' is not supported")
        }
        guard kdf.opsLimit >= UInt64(crypto_pwhash_OPSLIMIT_MIN), kdf.opsLimit <= Self.maxOpsLimit,
              kdf.memLimit >= UInt64(crypto_pwhash_MEMLIMIT_MIN), kdf.memLimit <= Self.maxMemLimit else {
            throw .malformedKey(source: source, reason: "Argon2id limits (ops \(kdf.opsLimit), memory \(kdf.memLimit)) are out of range")
        }
        guard Base64.decodeStrict(kdf.salt)?.count == Int(crypto_pwhash_SALTBYTES),
              Base64.decodeStrict(cipher.nonce)?.count == Int(crypto_secretbox_NONCEBYTES),
              Base64.decodeStrict(cipher.ciphertext)?.count == Ed25519.seedByteCount + Int(crypto_secretbox_MACBYTES) else {
            throw .malformedKey(source: source, reason: "salt, nonce or ciphertext has the wrong length")
        }
        guard let raw = Base64.decodeStrict(publicKey), raw.count == Ed25519.publicKeyByteCount else {
            throw .malformedKey(source: source, reason: "publicKey is not 32 bytes of base64")
        }
        guard SHA256.hash(raw).hex == keyid else {
            throw .malformedKey(source: source, reason: "keyid does not match the public key")
        }
    }

    /// The public key stored in clear (checked against the seed on opening).
    public var storedPublicKey: Ed25519.PublicKey {
        get throws(CryptoError) {
            try Ed25519.PublicKey(rawRepresentation: Base64.decodeStrict(publicKey) ?? [])
        }
    }

    /// Opens the key with `passphrase`.
    public func open(passphrase: [UInt8], source: String) throws(CryptoError) -> Ed25519.PrivateKey {
        guard let salt = Base64.decodeStrict(kdf.salt), let nonce = Base64.decodeStrict(cipher.nonce),
              let sealed = Base64.decodeStrict(cipher.ciphertext) else {
            throw .malformedKey(source: source, reason: "salt, nonce or ciphertext is not base64")
        }
        try Self.checkUsable(passphrase)
        var boxKey = try Self.deriveKey(passphrase: passphrase, salt: salt, ops: kdf.opsLimit, mem: kdf.memLimit)
        defer { wipe(&boxKey) }
        var seed = [UInt8](repeating: 0, count: sealed.count - Int(crypto_secretbox_MACBYTES))
        defer { wipe(&seed) }
        guard crypto_secretbox_open_easy(&seed, sealed, UInt64(sealed.count), nonce, boxKey) == 0 else {
            throw .wrongPassphrase(source: source)
        }
        let key = try Ed25519.PrivateKey(seed: seed)
        guard key.publicKey == (try storedPublicKey) else {
            throw .malformedKey(source: source, reason: "stored public key does not belong to the sealed private key")
        }
        return key
    }

    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Encoding plain strings and integers cannot fail.
        return Array((try? encoder.encode(self)) ?? Data()) + [0x0A]
    }

    static func checkUsable(_ passphrase: [UInt8]) throws(CryptoError) {
        guard !passphrase.isEmpty else { throw .unusablePassphrase(reason: "is empty") }
        guard passphrase.count <= 4096 else { throw .unusablePassphrase(reason: "is longer than 4096 bytes") }
    }

    static func deriveKey(passphrase: [UInt8], salt: [UInt8], ops: UInt64, mem: UInt64) throws(CryptoError) -> [UInt8] {
        requireSodium()
        var key = [UInt8](repeating: 0, count: Int(crypto_secretbox_KEYBYTES))
        // checkUsable guarantees a non-empty passphrase, so the base address exists.
        let status = passphrase.withUnsafeBytes { pass -> Int32 in
            guard let base = pass.baseAddress else { return -1 }
            return crypto_pwhash(&key, UInt64(key.count), base.assumingMemoryBound(to: CChar.self), UInt64(pass.count), salt,
                                 ops, Int(mem), crypto_pwhash_ALG_ARGON2ID13)
        }
        guard status == 0 else {
            throw .library(operation: "Argon2id", reason: "key derivation failed (out of memory for \(mem) bytes?)")
        }
        return key
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "\(error)"
        }
    }
}
