import SovereignCrypto

/// The body of a C2SP tlog checkpoint (c2sp.org/tlog-checkpoint):
///
///     <origin>
///     <tree size, decimal, no leading zeros>
///     <base64 of the 32-byte root hash>
///     [extension lines, each non-empty]
///
/// every line ending in a newline.
public struct Checkpoint: Sendable, Hashable {
    public let origin: String
    public let size: UInt64
    public let root: SHA256Digest
    public let extensions: [String]

    public init(origin: String, size: UInt64, root: SHA256Digest, extensions: [String] = []) {
        self.origin = origin
        self.size = size
        self.root = root
        self.extensions = extensions
    }

    /// Parses a checkpoint body (a signed note's text).
    public init(parsing text: [UInt8], source: String) throws(LogError) {
        guard text.last == 0x0A else { throw LogError(source, "a checkpoint ends with a newline") }
        let lines = text.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard lines.count >= 3 else {
            throw LogError(source, "a checkpoint has at least three lines (origin, size, root), this has \(lines.count)")
        }
        guard !lines[0].isEmpty else { throw LogError(source, "line 1: the origin is empty") }
        let sizeText = lines[1]
        guard let size = UInt64(sizeText), size <= UInt64(Int64.max), sizeText.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              sizeText == "0" || !sizeText.hasPrefix("0") else {
            throw LogError(source, "line 2: '\(sizeText)' is not a tree size (a decimal with no leading zeros)")
        }
        guard let rootBytes = Base64.decodeStrict(lines[2]), let root = SHA256Digest(bytes: rootBytes) else {
            throw LogError(source, "line 3: the root hash is not canonical base64 of 32 bytes")
        }
        if let empty = lines.dropFirst(3).firstIndex(where: \.isEmpty) {
            throw LogError(source, "line \(empty + 1): extension lines must not be empty")
        }
        self.init(origin: lines[0], size: size, root: root, extensions: Array(lines.dropFirst(3)))
    }

    /// The body as signed.
    public var text: [UInt8] {
        var out = "\(origin)\n\(size)\n\(Base64.encode(root.bytes))\n"
        for line in extensions { out += line + "\n" }
        return Array(out.utf8)
    }
}

/// A checkpoint and the signed note that carries it.
public struct SignedCheckpoint: Sendable, Hashable {
    public let checkpoint: Checkpoint
    public let note: SignedNote

    init(checkpoint: Checkpoint, note: SignedNote) {
        self.checkpoint = checkpoint
        self.note = note
    }

    /// Parses a signed checkpoint and checks it against `key`: the note
    /// must verify (see `SignedNote.verify`) and its origin must be the
    /// key's name, as c2sp.org/tlog-checkpoint asks of a log's own key.
    public static func open(_ bytes: [UInt8], source: String, trusting key: NoteVerifierKey) throws(LogError) -> SignedCheckpoint {
        let note = try SignedNote(parsing: bytes, source: source)
        let checkpoint = try Checkpoint(parsing: note.text, source: source)
        guard checkpoint.origin == key.name else {
            throw LogError(source, "the checkpoint is for log '\(checkpoint.origin)', not '\(key.name)'")
        }
        if case .rejected(let reason) = note.verify(trusting: [key]) { throw LogError(source, reason) }
        return SignedCheckpoint(checkpoint: checkpoint, note: note)
    }

    /// The note's bytes (what `checkpoint` files hold).
    public var bytes: [UInt8] { note.bytes }
}
