import SovereignCrypto

/// The hashing of RFC 6962 §2.1 (unchanged in RFC 9162 §2.1.1), with the
/// domain-separation prefixes that keep a leaf from passing for a node:
///
///     MTH({})      = SHA-256()
///     leaf hash    = SHA-256(0x00 ‖ entry)
///     node hash    = SHA-256(0x01 ‖ left ‖ right)
///
/// Every hash is a `SHA256Digest`, so a hash of any other length cannot
/// reach the tree code: it is refused where bytes become a digest.
public enum RFC6962 {
    /// The root of the empty tree, SHA-256 of nothing (e3b0c442…b855).
    public static let emptyRoot: SHA256Digest = SHA256.hash([UInt8]())

    /// SHA-256(0x00 ‖ data).
    public static func leafHash<Bytes: ContiguousBytes>(_ data: Bytes) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update([0x00] as [UInt8])
        hasher.update(data)
        return hasher.finalize()
    }

    /// SHA-256(0x01 ‖ left ‖ right).
    public static func nodeHash(_ left: SHA256Digest, _ right: SHA256Digest) -> SHA256Digest {
        nodeHash(left.bytes[...], right.bytes[...])
    }

    static func nodeHash(_ left: ArraySlice<UInt8>, _ right: ArraySlice<UInt8>) -> SHA256Digest {
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 + 2 * SHA256Digest.byteCount)
        buffer.append(0x01)
        buffer += left
        buffer += right
        return SHA256.hash(buffer)
    }

    /// The largest power of two strictly below `n` (n ≥ 2): where RFC 6962
    /// splits a tree of n leaves into a left subtree and the rest.
    static func split(_ n: UInt64) -> UInt64 {
        precondition(n >= 2, "only a tree of two leaves or more is split")
        return 1 << (63 - UInt64((n - 1).leadingZeroBitCount))
    }
}
