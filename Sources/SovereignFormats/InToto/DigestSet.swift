import SovereignCrypto

/// An in-toto DigestSet: algorithm name → lowercase hex digest.
public enum DigestSet {
    /// Hex lengths of the algorithms the in-toto spec names; a digest under
    /// one of these names must have exactly this many lowercase hex digits.
    public static let knownHexLengths: [String: Int] = [
        "sha256": 64, "sha224": 56, "sha384": 96, "sha512": 128,
        "sha512_224": 56, "sha512_256": 64,
        "sha3_224": 56, "sha3_256": 64, "sha3_384": 96, "sha3_512": 128,
        "blake2b": 128, "blake2s": 64, "ripemd160": 40, "sm3": 64, "gost3411": 64,
        "sha1": 40, "md5": 32, "gitCommit": 40, "gitTree": 40, "gitBlob": 40,
    ]

    /// Nil when every entry is well formed; otherwise why not.
    public static func problem(in digests: [String: String]) -> String? {
        guard !digests.isEmpty else { return "digest is empty" }
        for (algorithm, value) in digests.sorted(by: { $0.key < $1.key }) {
            guard !algorithm.isEmpty else { return "digest has an empty algorithm name" }
            if let length = knownHexLengths[algorithm] {
                // gitCommit etc. may also be SHA-256 object ids (64 hex).
                let lengths = algorithm.hasPrefix("git") ? [40, 64] : [length]
                guard lengths.contains(value.utf8.count), Hex.isLowercaseHex(value) else {
                    return "digest '\(algorithm)' must be \(lengths.map(String.init).joined(separator: " or ")) lowercase hex characters, got '\(value)'"
                }
            } else if !Hex.isLowercaseHex(value) {
                return "digest '\(algorithm)' must be lowercase hex, got '\(value)'"
            }
        }
        return nil
    }
}
