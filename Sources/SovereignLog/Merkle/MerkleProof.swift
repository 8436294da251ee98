import SovereignCrypto

/// Checks inclusion and consistency proofs exactly as RFC 9162 §2.1.3.2
/// and §2.1.4.2 say. Expected failures are `false`, never a throw.
///
/// Two properties callers must respect:
/// - An inclusion proof does not bind the tree size: some proofs for a
///   tree of n leaves also verify at n+1 against the same root. Take the
///   size and the root together from a signed checkpoint, never the size
///   from whoever sent the proof.
/// - A consistency proof from size 0 is refused (every tree extends the
///   empty one, so it proves nothing); equal sizes need an empty proof and
///   equal roots.
public enum MerkleProof {
    /// No valid proof in a tree of fewer than 2^64 leaves is longer.
    public static let maxLength = 64

    /// The root that `proof` makes for `leafHash` at `leafIndex` in a tree
    /// of `treeSize` leaves, or nil if the proof's shape does not fit that
    /// tree (RFC 9162 §2.1.3.2 steps 1–4, without the final comparison).
    public static func rootFromInclusionProof(leafIndex: UInt64, treeSize: UInt64, leafHash: SHA256Digest,
                                              proof: [SHA256Digest]) -> SHA256Digest? {
        guard leafIndex < treeSize, proof.count <= maxLength else { return nil }
        var fn = leafIndex
        var sn = treeSize - 1
        var r = leafHash
        for p in proof {
            if sn == 0 { return nil }
            if fn & 1 == 1 || fn == sn {
                r = RFC6962.nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = RFC6962.nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }

    /// Whether `proof` shows `leafHash` is leaf `leafIndex` of the tree of
    /// `treeSize` leaves whose root is `root`.
    public static func verifyInclusion(leafIndex: UInt64, treeSize: UInt64, leafHash: SHA256Digest,
                                       proof: [SHA256Digest], root: SHA256Digest) -> Bool {
        rootFromInclusionProof(leafIndex: leafIndex, treeSize: treeSize, leafHash: leafHash, proof: proof) == root
    }

    /// The same over raw bytes (proofs read from files and the network):
    /// false if any hash is not exactly 32 bytes.
    public static func verifyInclusion(leafIndex: UInt64, treeSize: UInt64, leafHash: [UInt8],
                                       proof: [[UInt8]], root: [UInt8]) -> Bool {
        guard let leaf = SHA256Digest(bytes: leafHash), let root = SHA256Digest(bytes: root),
              let path = digests(proof) else { return false }
        return verifyInclusion(leafIndex: leafIndex, treeSize: treeSize, leafHash: leaf, proof: path, root: root)
    }

    /// Whether `proof` shows the tree of `newSize` leaves with root `newRoot`
    /// extends the tree of `oldSize` leaves with root `oldRoot`.
    public static func verifyConsistency(oldSize: UInt64, newSize: UInt64, oldRoot: SHA256Digest, newRoot: SHA256Digest,
                                         proof: [SHA256Digest]) -> Bool {
        guard oldSize > 0, oldSize <= newSize, proof.count <= maxLength else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        // Step 1: an empty path fails.
        guard !proof.isEmpty else { return false }
        // Step 2: when the old tree is a complete subtree, its root starts the path.
        var path = proof
        if oldSize.nonzeroBitCount == 1 { path.insert(oldRoot, at: 0) }
        // Steps 3–4.
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        // Steps 5–6.
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = RFC6962.nodeHash(c, fr)
                sr = RFC6962.nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = RFC6962.nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        // Step 7.
        return fr == oldRoot && sr == newRoot && sn == 0
    }

    /// The same over raw bytes: false if any hash is not exactly 32 bytes.
    public static func verifyConsistency(oldSize: UInt64, newSize: UInt64, oldRoot: [UInt8], newRoot: [UInt8],
                                         proof: [[UInt8]]) -> Bool {
        guard let old = SHA256Digest(bytes: oldRoot), let new = SHA256Digest(bytes: newRoot),
              let path = digests(proof) else { return false }
        return verifyConsistency(oldSize: oldSize, newSize: newSize, oldRoot: old, newRoot: new, proof: path)
    }

    private static func digests(_ hashes: [[UInt8]]) -> [SHA256Digest]? {
        guard hashes.count <= maxLength else { return nil }
        var result: [SHA256Digest] = []
        for bytes in hashes {
            guard let digest = SHA256Digest(bytes: bytes) else { return nil }
            result.append(digest)
        }
        return result
    }
}
