internal import CSodium

/// Ed25519 signatures (RFC 8032) through libsodium.
public enum Ed25519 {
    public static let publicKeyByteCount = 32
    public static let seedByteCount = 32
    public static let signatureByteCount = 64

    /// A public key: 32 raw bytes.
    public struct PublicKey: Hashable, Sendable {
        public let rawRepresentation: [UInt8]

        public init(rawRepresentation: [UInt8]) throws(CryptoError) {
            guard rawRepresentation.count == Ed25519.publicKeyByteCount else {
                throw .malformedKey(source: "public key", reason: "Ed25519 public keys are 32 bytes, got \(rawRepresentation.count)")
            }
            self.rawRepresentation = rawRepresentation
        }

        /// For bytes whose length libsodium already guarantees.
        init(trusted bytes: [UInt8]) {
            rawRepresentation = bytes
        }

        /// Key id: lowercase hex SHA-256 of the raw 32-byte public key.
        public var keyID: String { SHA256.hash(rawRepresentation).hex }

        /// Whether `signature` is a valid Ed25519 signature of `message`.
        public func isValidSignature<S: ContiguousBytes, M: ContiguousBytes>(_ signature: S, for message: M) -> Bool {
            requireSodium()
            return signature.withUnsafeBytes { sig in
                guard sig.count == Ed25519.signatureByteCount else { return false }
                return message.withUnsafeBytes { msg in
                    rawRepresentation.withUnsafeBufferPointer { pk in
                        crypto_sign_verify_detached(
                            sig.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            msg.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(msg.count),
                            pk.baseAddress!) == 0
                    }
                }
            }
        }
    }

    /// A private key. Holds the 32-byte seed and libsodium's expanded
    /// 64-byte secret key, both wiped when the last copy goes away.
    public struct PrivateKey: Sendable {
        private final class Secret: @unchecked Sendable {
            var seed: [UInt8]
            var expanded: [UInt8]
            let publicKey: [UInt8]
            init(seed: [UInt8]) {
                requireSodium()
                var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
                var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
                let ok = crypto_sign_seed_keypair(&pk, &sk, seed)
                precondition(ok == 0, "crypto_sign_seed_keypair failed")
                self.seed = seed
                self.expanded = sk
                self.publicKey = pk
            }
            deinit {
                wipe(&seed)
                wipe(&expanded)
            }
        }
        private let secret: Secret

        /// A fresh random key.
        public init() {
            var seed = SecureRandom.bytes(Ed25519.seedByteCount)
            secret = Secret(seed: seed)
            wipe(&seed)
        }

        /// The key for a 32-byte seed (RFC 8032 private key).
        public init(seed: [UInt8]) throws(CryptoError) {
            guard seed.count == Ed25519.seedByteCount else {
                throw .malformedKey(source: "private key", reason: "Ed25519 seeds are 32 bytes, got \(seed.count)")
            }
            secret = Secret(seed: seed)
        }

        public var seed: [UInt8] { secret.seed }

        public var publicKey: PublicKey {
            PublicKey(trusted: secret.publicKey)
        }

        /// A deterministic Ed25519 signature of `message`.
        public func signature<M: ContiguousBytes>(for message: M) -> [UInt8] {
            var sig = [UInt8](repeating: 0, count: Ed25519.signatureByteCount)
            let ok = message.withUnsafeBytes { msg in
                crypto_sign_detached(&sig, nil, msg.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(msg.count), secret.expanded)
            }
            precondition(ok == 0, "crypto_sign_detached failed")
            return sig
        }
    }
}
