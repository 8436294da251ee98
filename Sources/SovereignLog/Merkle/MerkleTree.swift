import SovereignCrypto

/// A whole RFC 6962 tree in memory: every leaf hash and every complete
/// subtree above them, so any root, inclusion proof or consistency proof
/// over any prefix is O(log n) hash lookups (plus O(log n) hashing for the
/// ragged right edge). About 64 bytes a leaf: a million entries take 64 MiB.
///
/// Proofs follow RFC 6962 §2.1.1 (PATH) and §2.1.2 (PROOF/SUBPROOF), which
/// RFC 9162 §2.1.3.1 and §2.1.4.1 restate; `MerkleProof` checks them.
public struct MerkleTree: Sendable {
    /// `levels[h]` holds the roots of the complete subtrees of 2^h leaves,
    /// left to right, 32 bytes each; `levels[0]` holds the leaf hashes.
    private var levels: [[UInt8]] = [[]]
    public private(set) var size: UInt64 = 0

    public init() {}

    public init<Hashes: Sequence>(leafHashes: Hashes) where Hashes.Element == SHA256Digest {
        for hash in leafHashes { append(leafHash: hash) }
    }

    /// Adds a leaf, and every subtree it completes.
    public mutating func append(leafHash: SHA256Digest) {
        var hash = leafHash
        var height = 0
        var position = size
        while true {
            if levels.count == height { levels.append([]) }
            levels[height] += hash.bytes
            guard position & 1 == 1 else { break }
            let end = levels[height].count
            hash = RFC6962.nodeHash(levels[height][(end - 64)..<(end - 32)], levels[height][(end - 32)..<end])
            position >>= 1
            height += 1
        }
        size += 1
    }

    /// The hash of leaf `index`.
    public func leafHash(at index: UInt64) -> SHA256Digest? {
        index < size ? node(height: 0, index: index) : nil
    }

    /// MTH of the whole tree.
    public var root: SHA256Digest { size == 0 ? RFC6962.emptyRoot : subtreeHash(0, size) }

    /// MTH of the first `treeSize` leaves (the tree as it was at that size).
    public func root(ofSize treeSize: UInt64) throws(LogError) -> SHA256Digest {
        guard treeSize <= size else {
            throw LogError("tree size \(treeSize)", "beyond the \(size) leaves the log holds")
        }
        return treeSize == 0 ? RFC6962.emptyRoot : subtreeHash(0, treeSize)
    }

    /// PATH(index, D[0:treeSize]): sibling hashes from the leaf's up to the root's child.
    public func inclusionProof(leafIndex index: UInt64, treeSize: UInt64) throws(LogError) -> [SHA256Digest] {
        guard treeSize <= size else {
            throw LogError("tree size \(treeSize)", "beyond the \(size) leaves the log holds")
        }
        guard index < treeSize else {
            throw LogError("entry \(index)", "not in a tree of \(treeSize) entries")
        }
        var path: [SHA256Digest] = []
        appendPath(index, 0, treeSize, into: &path)
        return path
    }

    /// PROOF(oldSize, D[0:newSize]): what proves the tree of `newSize` leaves
    /// extends the one of `oldSize`. Empty when the sizes are equal.
    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64) throws(LogError) -> [SHA256Digest] {
        guard newSize <= size else {
            throw LogError("tree size \(newSize)", "beyond the \(size) leaves the log holds")
        }
        guard oldSize > 0 else {
            throw LogError("tree size 0", "a consistency proof from the empty tree is meaningless (every tree extends it)")
        }
        guard oldSize <= newSize else {
            throw LogError("tree size \(oldSize)", "larger than the newer tree's \(newSize)")
        }
        var proof: [SHA256Digest] = []
        appendSubproof(oldSize, 0, newSize, complete: true, into: &proof)
        return proof
    }

    // MARK: - The RFC's recursions over [start, end)

    private func node(height: Int, index: UInt64) -> SHA256Digest {
        let offset = Int(index) * 32
        // Every stored hash came from SHA-256: 32 bytes by construction.
        return SHA256Digest(bytes: Array(levels[height][offset..<(offset + 32)]))!
    }

    /// MTH(D[start:end]) for the ranges the RFC recursions visit: the left
    /// part of every split is a complete subtree aligned to its size, so it
    /// is stored; only the right edge is hashed.
    private func subtreeHash(_ start: UInt64, _ end: UInt64) -> SHA256Digest {
        let count = end - start
        if count.nonzeroBitCount == 1 {
            precondition(start % count == 0, "complete subtrees visited by the RFC recursion are aligned")
            let height = count.trailingZeroBitCount
            return node(height: height, index: start >> UInt64(height))
        }
        let k = RFC6962.split(count)
        return RFC6962.nodeHash(subtreeHash(start, start + k), subtreeHash(start + k, end))
    }

    private func appendPath(_ index: UInt64, _ start: UInt64, _ end: UInt64, into path: inout [SHA256Digest]) {
        let count = end - start
        guard count > 1 else { return }
        let k = RFC6962.split(count)
        if index < k {
            appendPath(index, start, start + k, into: &path)
            path.append(subtreeHash(start + k, end))
        } else {
            appendPath(index - k, start + k, end, into: &path)
            path.append(subtreeHash(start, start + k))
        }
    }

    private func appendSubproof(_ m: UInt64, _ start: UInt64, _ end: UInt64, complete: Bool, into proof: inout [SHA256Digest]) {
        let count = end - start
        if m == count {
            if !complete { proof.append(subtreeHash(start, end)) }
            return
        }
        let k = RFC6962.split(count)
        if m <= k {
            appendSubproof(m, start, start + k, complete: complete, into: &proof)
            proof.append(subtreeHash(start + k, end))
        } else {
            appendSubproof(m - k, start + k, end, complete: false, into: &proof)
            proof.append(subtreeHash(start, start + k))
        }
    }
}
