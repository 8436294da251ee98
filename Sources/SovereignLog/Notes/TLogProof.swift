import SovereignCrypto

/// An offline inclusion proof in the C2SP tlog-proof@v1 form
/// (c2sp.org/tlog-proof):
///
///     c2sp.org/tlog-proof@v1
///     extra <base64>             (optional; we put the entry's leaf bytes here)
///     index <n>
///     <base64 hash>              (the inclusion path, leaf's sibling first)
///     …
///                                (a blank line)
///     <the signed checkpoint, verbatim>
///
/// The extra data is not authenticated by itself: it is trusted only once
/// its leaf hash, the path and the signed checkpoint's root agree.
public struct TLogProof: Sendable, Hashable {
    public static let header = "c2sp.org/tlog-proof@v1"
    public static let maxBytes = 4 << 20

    public let extra: [UInt8]?
    public let index: UInt64
    public let path: [SHA256Digest]
    public let checkpoint: SignedNote

    public init(extra: [UInt8]?, index: UInt64, path: [SHA256Digest], checkpoint: SignedNote) {
        self.extra = extra
        self.index = index
        self.path = path
        self.checkpoint = checkpoint
    }

    public var bytes: [UInt8] {
        var out = Self.header + "\n"
        if let extra { out += "extra \(Base64.encode(extra))\n" }
        out += "index \(index)\n"
        for hash in path { out += Base64.encode(hash.bytes) + "\n" }
        out += "\n"
        return Array(out.utf8) + checkpoint.bytes
    }

    public init(parsing bytes: [UInt8], source: String) throws(LogError) {
        guard bytes.count <= Self.maxBytes else {
            throw LogError(source, "a proof is at most \(Self.maxBytes) bytes, this is \(bytes.count)")
        }
        // The proof lines end at the first blank line; the checkpoint follows verbatim.
        var lines: [String] = []
        var start = 0
        var body: Int?
        while start < bytes.count {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else {
                throw LogError(source, "line \(lines.count + 1) does not end with a newline")
            }
            if newline == start { body = newline + 1; break }
            lines.append(String(decoding: bytes[start..<newline], as: UTF8.self))
            start = newline + 1
        }
        guard let body else { throw LogError(source, "no blank line before the checkpoint") }
        guard lines.first == Self.header else { throw LogError(source, "line 1 must be '\(Self.header)'") }
        var next = 1
        var extra: [UInt8]?
        if next < lines.count, lines[next].hasPrefix("extra ") {
            guard let decoded = Base64.decodeStrict(String(lines[next].dropFirst(6))) else {
                throw LogError(source, "line \(next + 1): the extra data is not canonical base64")
            }
            extra = decoded
            next += 1
        }
        guard next < lines.count, lines[next].hasPrefix("index ") else {
            throw LogError(source, "line \(next + 1) must be 'index <n>'")
        }
        let indexText = String(lines[next].dropFirst(6))
        guard let index = UInt64(indexText), indexText.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              indexText == "0" || !indexText.hasPrefix("0") else {
            throw LogError(source, "line \(next + 1): '\(indexText)' is not an index (a decimal with no leading zeros)")
        }
        next += 1
        var path: [SHA256Digest] = []
        for (offset, line) in lines[next...].enumerated() {
            guard let hash = Base64.decodeStrict(line).flatMap({ SHA256Digest(bytes: $0) }) else {
                throw LogError(source, "line \(next + offset + 1): not canonical base64 of a 32-byte hash")
            }
            path.append(hash)
        }
        guard path.count <= MerkleProof.maxLength else {
            throw LogError(source, "an inclusion path has at most \(MerkleProof.maxLength) hashes, this has \(path.count)")
        }
        self.init(extra: extra, index: index, path: path, checkpoint: try SignedNote(parsing: Array(bytes[body...]), source: source))
    }

    /// Checks the whole bundle against the log's `key`: the checkpoint's
    /// signature, then the path from `leafHash` (by default the RFC 6962
    /// hash of the extra data) to the checkpoint's root at its size.
    public func verify(trusting key: NoteVerifierKey, leafHash: SHA256Digest? = nil, source: String) throws(LogError) -> Checkpoint {
        let signed = try SignedCheckpoint.open(checkpoint.bytes, source: source, trusting: key)
        guard let leaf = leafHash ?? extra.map({ RFC6962.leafHash($0) }) else {
            throw LogError(source, "no extra data and no leaf hash given: nothing to prove")
        }
        let tree = signed.checkpoint
        guard index < tree.size else {
            throw LogError(source, "entry \(index) is not in the checkpoint's tree of \(tree.size) entries")
        }
        guard MerkleProof.verifyInclusion(leafIndex: index, treeSize: tree.size, leafHash: leaf, proof: path, root: tree.root) else {
            throw LogError(source, "the inclusion path does not lead from entry \(index) to the checkpoint's root")
        }
        return tree
    }
}
