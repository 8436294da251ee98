import SovereignCrypto

/// The right edge of an append-only Merkle tree (a "compact range" over
/// [0, size)): the roots of its perfect subtrees, left to right, one per
/// set bit of `size`. Enough to append a leaf and to compute the root in
/// O(log n), which is all a log writer needs; it never holds the leaves.
public struct MerkleFrontier: Sendable, Equatable {
    public private(set) var size: UInt64
    /// Subtree roots, largest (leftmost) first; their heights are the set bits of `size`, high to low.
    public private(set) var hashes: [SHA256Digest]

    /// The frontier of the empty tree.
    public init() {
        size = 0
        hashes = []
    }

    /// A frontier saved earlier (`hashes` as listed by `hashes`); nil when the
    /// count does not match the set bits of `size`.
    public init?(size: UInt64, hashes: [SHA256Digest]) {
        guard hashes.count == size.nonzeroBitCount else { return nil }
        self.size = size
        self.hashes = hashes
    }

    /// Adds the next leaf: merges equal-height subtrees as a binary counter carries.
    public mutating func append(leafHash: SHA256Digest) {
        var carry = leafHash
        var position = size
        while position & 1 == 1 {
            carry = RFC6962.nodeHash(hashes.removeLast(), carry)
            position >>= 1
        }
        hashes.append(carry)
        size += 1
    }

    /// MTH of the leaves so far: the subtree roots folded from the right.
    public var root: SHA256Digest {
        guard var result = hashes.last else { return RFC6962.emptyRoot }
        for hash in hashes.dropLast().reversed() {
            result = RFC6962.nodeHash(hash, result)
        }
        return result
    }
}
