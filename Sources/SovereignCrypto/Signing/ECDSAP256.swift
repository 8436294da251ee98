/// ECDSA over NIST P-256 with SHA-256 (FIPS 186-4, SEC 1), the key type of
/// OpenSSF model-signing's `sign key` / `verify key`.
///
/// Signatures are DER `ECDSA-Sig-Value`s with deterministic nonces
/// (RFC 6979 §3.2, HMAC-SHA-256), so one key and one message always give
/// the same bytes. `s` is not normalised to the lower half of the order:
/// signatures are exactly RFC 6979's (its Appendix A vectors check that),
/// and ECDSA verifiers (OpenSSL, `cryptography`, sigstore) accept both halves.
public enum ECDSAP256 {
    /// A P-256 public key, kept as its SubjectPublicKeyInfo with the named
    /// curve and an uncompressed point (what `openssl ec -pubout` writes).
    public struct PublicKey: Sendable, Equatable {
        /// DER SubjectPublicKeyInfo, 91 bytes.
        public let derRepresentation: [UInt8]
        private let backing: P256PublicKeyBacking

        /// Reads a DER SubjectPublicKeyInfo. Compressed points are accepted
        /// and stored uncompressed; other curves and algorithms are refused.
        public init(derRepresentation: [UInt8], source: String = "public key") throws(CryptoError) {
            (backing, self.derRepresentation) = try P256OpenSSL.decodePublicKey(der: derRepresentation, source: source)
        }

        /// Reads a `-----BEGIN PUBLIC KEY-----` PEM block.
        public init(pem: String, source: String) throws(CryptoError) {
            let der = try PEM.decode(pem, label: "PUBLIC KEY", source: source)
            try self.init(derRepresentation: der, source: source)
        }

        /// `-----BEGIN PUBLIC KEY-----` PEM, 64-character lines, final newline:
        /// byte for byte what `openssl ec -pubout` and Python's `cryptography`
        /// (SubjectPublicKeyInfo, PEM) write.
        public var pem: String { PEM.encode(label: "PUBLIC KEY", der: derRepresentation) }

        /// Whether `der` is a valid strict-DER ECDSA-with-SHA-256 signature of
        /// `message` by this key. Either half of `s` is accepted.
        public func isValidSignature(_ der: [UInt8], for message: [UInt8]) -> Bool {
            // An ECDSA-Sig-Value for P-256 is at most 72 bytes; refuse
            // anything absurd before it reaches the ASN.1 parser.
            guard !der.isEmpty, der.count <= 80 else { return false }
            return P256OpenSSL.verify(signature: der, message: message, key: backing)
        }

        public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
            lhs.derRepresentation == rhs.derRepresentation
        }
    }

    /// A P-256 private key. The scalar lives in OpenSSL memory that is
    /// cleared when the last copy of the key goes away.
    public struct PrivateKey: Sendable {
        private let backing: P256PrivateKeyBacking
        public let publicKey: PublicKey

        /// A fresh random key (OpenSSL's DRBG).
        public init() {
            let (backing, publicDER) = P256OpenSSL.generatePrivateKey()
            self.backing = backing
            do {
                publicKey = try PublicKey(derRepresentation: publicDER, source: "generated key")
            } catch {
                preconditionFailure("OpenSSL generated an unreadable P-256 public key: \(error)")
            }
        }

        /// Reads an unencrypted PEM private key: PKCS#8 (`-----BEGIN PRIVATE
        /// KEY-----`, as `openssl genpkey -algorithm EC -pkeyopt
        /// ec_paramgen_curve:P-256` writes) or SEC1 (`-----BEGIN EC PRIVATE
        /// KEY-----`, as `openssl ecparam -genkey -name prime256v1` writes,
        /// with or without its `EC PARAMETERS` block). Encrypted keys, other
        /// curves and other algorithms are refused.
        public init(pem: String, source: String) throws(CryptoError) {
            var block = try Self.privateKeyDER(pem: pem, source: source)
            defer { wipe(&block.der) }
            let (backing, publicDER) = try P256OpenSSL.decodePrivateKey(der: block.der, pkcs8: block.pkcs8, source: source)
            self.backing = backing
            publicKey = try PublicKey(derRepresentation: publicDER, source: source)
        }

        /// A deterministic (RFC 6979) ECDSA signature of SHA-256(`message`),
        /// DER-encoded (70–72 bytes, fewer in rare cases).
        public func signature(for message: [UInt8]) -> [UInt8] {
            let digest = SHA256.hash(message).bytes
            // One reference to the scalar's buffer, so wipe() clears it in place.
            var scalar = P256OpenSSL.scalar(of: backing)
            let nonces = RFC6979Nonces(privateKey: scalar, digest: digest, order: P256OpenSSL.order)
            wipe(&scalar)
            // r = 0 or s = 0 happens with probability ~2⁻²⁵⁵ per nonce;
            // a few retries already mean the library is broken.
            for _ in 0..<8 {
                var k = nonces.next()
                defer { wipe(&k) }
                if let der = P256OpenSSL.sign(digest: digest, nonce: k, key: backing) { return der }
            }
            preconditionFailure("ECDSA signing produced r = 0 or s = 0 eight times in a row")
        }

        /// The DER body of the PEM block and whether it is PKCS#8 (else SEC1).
        private static func privateKeyDER(pem: String, source: String) throws(CryptoError) -> (der: [UInt8], pkcs8: Bool) {
            // `openssl ecparam -genkey` without -noout writes an EC PARAMETERS
            // block first; the key is the first block that is not parameters.
            let labels = pemLabels(in: pem)
            guard let label = labels.first(where: { $0 != "EC PARAMETERS" }) else {
                throw .malformedKey(source: source, reason: "not a PEM private key (no '-----BEGIN … PRIVATE KEY-----' line)")
            }
            switch label {
            case "PRIVATE KEY":
                return (try PEM.decode(pem, label: label, source: source), true)
            case "EC PRIVATE KEY":
                // RFC 1421 headers mark a legacy encrypted SEC1 key.
                if pem.firstRange(of: "Proc-Type:") != nil || pem.firstRange(of: "DEK-Info:") != nil {
                    throw .malformedKey(source: source, reason: "the EC private key is encrypted; give an unencrypted key (openssl ec -in KEY -out PLAIN)")
                }
                return (try PEM.decode(pem, label: label, source: source), false)
            case "ENCRYPTED PRIVATE KEY":
                throw .malformedKey(source: source, reason: "the private key is encrypted (PKCS#8 EncryptedPrivateKeyInfo); give an unencrypted key (openssl pkey -in KEY -out PLAIN)")
            default:
                throw .malformedKey(source: source, reason: "expected a PEM 'PRIVATE KEY' or 'EC PRIVATE KEY' block (ECDSA P-256), found '\(label)'")
            }
        }

        /// The labels of the `-----BEGIN <label>-----` lines, in order.
        private static func pemLabels(in text: String) -> [String] {
            var labels: [String] = []
            var rest = Substring(text)
            while let begin = rest.firstRange(of: "-----BEGIN ") {
                rest = rest[begin.upperBound...]
                guard let end = rest.firstRange(of: "-----") else { break }
                labels.append(String(rest[..<end.lowerBound]))
                rest = rest[end.upperBound...]
            }
            return labels
        }
    }
}
