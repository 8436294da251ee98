/// A minisign signature file (`.minisig`), four lines:
///
///     untrusted comment: <text>
///     base64(alg[2] ‖ keyid[8] ‖ signature[64])
///     trusted comment: <text>
///     base64(global signature[64])
///
/// `alg` is "ED" (Ed25519 over BLAKE2b-512 of the file, minisign's default
/// since 0.8) or "Ed" (Ed25519 over the file itself, legacy). The global
/// signature covers signature ‖ trusted comment, which binds the comment.
public struct MinisignSignature: Sendable, Equatable {
    public enum Algorithm: String, Sendable {
        case prehashed = "ED"
        case legacy = "Ed"
    }

    public var algorithm: Algorithm
    public var keyID: [UInt8]
    public var signature: [UInt8]
    public var untrustedComment: String
    public var trustedComment: String
    public var globalSignature: [UInt8]

    /// Signs a file's BLAKE2b-512 digest, as `minisign -S` does.
    public init(signingPrehash blake2b: [UInt8], with key: Ed25519.PrivateKey, trustedComment: String,
                untrustedComment: String = "signature from sovereign secret key") throws(CryptoError) {
        guard !trustedComment.contains(where: \.isNewline), !untrustedComment.contains(where: \.isNewline) else {
            throw .malformedSignature(source: "comment", reason: "comments must be a single line")
        }
        precondition(blake2b.count == BLAKE2b512.byteCount)
        self.algorithm = .prehashed
        self.keyID = MinisignPublicKey.derivedKeyID(for: key.publicKey)
        self.signature = key.signature(for: blake2b)
        self.untrustedComment = untrustedComment
        self.trustedComment = trustedComment
        self.globalSignature = key.signature(for: signature + Array(trustedComment.utf8))
    }

    /// Parses a `.minisig` file.
    public init(parsing text: String, source: String) throws(CryptoError) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        while lines.last == "" { lines.removeLast() }
        guard lines.count == 4 else {
            throw .malformedSignature(source: source, reason: "a minisign signature has 4 lines, found \(lines.count)")
        }
        let untrustedPrefix = "untrusted comment: ", trustedPrefix = "trusted comment: "
        guard lines[0].hasPrefix(untrustedPrefix) else {
            throw .malformedSignature(source: source, reason: "line 1 does not start with '\(untrustedPrefix)'")
        }
        guard lines[2].hasPrefix(trustedPrefix) else {
            throw .malformedSignature(source: source, reason: "line 3 does not start with '\(trustedPrefix)'")
        }
        guard let raw = Base64.decodeStrict(lines[1]), raw.count == 74 else {
            throw .malformedSignature(source: source, reason: "line 2 is not 74 bytes of base64")
        }
        guard let algorithm = Algorithm(rawValue: String(decoding: raw[0..<2], as: UTF8.self)) else {
            throw .malformedSignature(source: source, reason: "unknown signature algorithm (expected 'ED' or 'Ed')")
        }
        guard let global = Base64.decodeStrict(lines[3]), global.count == 64 else {
            throw .malformedSignature(source: source, reason: "line 4 is not 64 bytes of base64")
        }
        self.algorithm = algorithm
        self.keyID = Array(raw[2..<10])
        self.signature = Array(raw[10..<74])
        self.untrustedComment = String(lines[0].dropFirst(untrustedPrefix.count))
        self.trustedComment = String(lines[2].dropFirst(trustedPrefix.count))
        self.globalSignature = global
    }

    public var fileContents: String {
        "untrusted comment: \(untrustedComment)\n"
            + Base64.encode(Array(algorithm.rawValue.utf8) + keyID + signature) + "\n"
            + "trusted comment: \(trustedComment)\n"
            + Base64.encode(globalSignature) + "\n"
    }

    /// Verifies against `key` (with its minisign id). `fileBytes` is
    /// asked for only for legacy signatures; `blake2b` is the file's digest.
    /// Returns nil when valid, else the reason.
    public func failureReason(key: ParsedPublicKey, blake2b: [UInt8], fileBytes: () throws(CryptoError) -> [UInt8]) throws(CryptoError) -> String? {
        guard keyID == key.minisignKeyID else {
            return "signed by key \(MinisignPublicKey.displayKeyID(keyID)), not by the given key \(MinisignPublicKey.displayKeyID(key.minisignKeyID))"
        }
        let message = algorithm == .prehashed ? blake2b : try fileBytes()
        guard key.key.isValidSignature(signature, for: message) else {
            return "signature does not verify (file altered, or wrong key)"
        }
        guard key.key.isValidSignature(globalSignature, for: signature + Array(trustedComment.utf8)) else {
            return "trusted comment signature does not verify (comment altered)"
        }
        return nil
    }
}
