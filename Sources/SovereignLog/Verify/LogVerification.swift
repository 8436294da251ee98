import SovereignCrypto
import SovereignFormats

/// What `LogVerifier` found, and the tree it rebuilt: the ground for
/// inclusion and consistency proofs.
public struct LogVerification: Sendable {
    public let directory: String
    /// The key the log was checked against.
    public let key: NoteVerifierKey
    /// "pinned", or the path of the `appliance.pub` it was read from.
    public let keySource: String
    /// Entries that verified, from the first, in order.
    public let entryCount: UInt64
    /// The tree of those entries.
    public let tree: MerkleTree
    /// The newest signed checkpoint the verified entries match: the one the
    /// last entry's signature signs (the `checkpoint` file, when it is current).
    public let latest: SignedCheckpoint?
    /// Checkpoints (file and history) whose signature verified.
    public let checkpointCount: Int
    /// What is wrong, the first departure from the signed history first.
    public let findings: [LogFinding]
    /// Facts worth knowing that are not wrong.
    public let notes: [String]
    public let purgedEntries: Int
    /// Indices of recovery entries (a crash interrupted an append before each).
    public let recoveries: [UInt64]

    public var isIntact: Bool { findings.isEmpty }

    /// An inclusion proof of entry `index` against the latest signed checkpoint.
    public func inclusionProof(for index: UInt64) throws(LogError) -> LogInclusionProof {
        try requireIntact()
        guard let latest else { throw LogError(directory, "has no signed checkpoint") }
        let size = latest.checkpoint.size
        guard index < size else {
            throw LogError("entry \(index)", "not in the log (the latest checkpoint covers \(size) entries)")
        }
        let path = try tree.inclusionProof(leafIndex: index, treeSize: size)
        guard let leafHash = tree.leafHash(at: index),
              MerkleProof.verifyInclusion(leafIndex: index, treeSize: size, leafHash: leafHash, proof: path, root: latest.checkpoint.root) else {
            throw LogError("entry \(index)", "the proof built does not verify (a bug)")
        }
        return LogInclusionProof(index: index, leafHash: leafHash, path: path, checkpoint: latest)
    }

    /// Proves the latest signed checkpoint extends `old` (one an auditor
    /// saved), which must be this log's and signed by its key.
    public func consistencyProof(from old: SignedCheckpoint) throws(LogError) -> LogConsistencyProof {
        try requireIntact()
        guard let latest else { throw LogError(directory, "has no signed checkpoint") }
        let oldSize = old.checkpoint.size, newSize = latest.checkpoint.size
        guard old.checkpoint.origin == latest.checkpoint.origin else {
            throw LogError("checkpoint", "is for log '\(old.checkpoint.origin)', not '\(latest.checkpoint.origin)'")
        }
        guard oldSize <= newSize else {
            throw LogError("checkpoint", "covers \(oldSize) entries, but the log now holds \(newSize): entries were removed since it was signed")
        }
        let recomputed = try tree.root(ofSize: oldSize)
        guard recomputed == old.checkpoint.root else {
            throw LogError("checkpoint", "signs root \(Base64.encode(old.checkpoint.root.bytes)) at size \(oldSize), but the log's first \(oldSize) entries give \(Base64.encode(recomputed.bytes)): the history was rewritten")
        }
        let path = oldSize == 0 ? [] : try tree.consistencyProof(from: oldSize, to: newSize)
        if oldSize > 0, !MerkleProof.verifyConsistency(oldSize: oldSize, newSize: newSize, oldRoot: old.checkpoint.root,
                                                       newRoot: latest.checkpoint.root, proof: path) {
            throw LogError("checkpoint", "the consistency proof built does not verify (a bug)")
        }
        return LogConsistencyProof(old: old, new: latest, path: path)
    }

    private func requireIntact() throws(LogError) {
        if let first = findings.first { throw LogError(first.location, first.message) }
    }
}

/// An entry's inclusion in a signed checkpoint.
public struct LogInclusionProof: Sendable {
    public let index: UInt64
    public let leafHash: SHA256Digest
    /// Sibling hashes, the leaf's first.
    public let path: [SHA256Digest]
    public let checkpoint: SignedCheckpoint

    /// The C2SP tlog-proof@v1 bundle, with the entry's leaf bytes as its extra data.
    public func bundle(leaf: [UInt8]) -> TLogProof {
        precondition(RFC6962.leafHash(leaf) == leafHash, "the bundle carries this entry's leaf")
        return TLogProof(extra: leaf, index: index, path: path, checkpoint: checkpoint.note)
    }
}

/// That one signed checkpoint extends another.
public struct LogConsistencyProof: Sendable {
    public let old: SignedCheckpoint
    public let new: SignedCheckpoint
    /// PROOF(old size, new tree); empty when the sizes are equal or the old tree is empty.
    public let path: [SHA256Digest]
}
