import SovereignCrypto
import SovereignFormats

/// What the tree commits to: one leaf, `SHA-256(0x00 ‖ JCS(entry))`.
///
///     {"contentDigest":"sha256:<hex>","index":41,"metadata":{…},
///      "time":"2026-12-01T10:00:00Z","type":"record"}
///
/// `contentDigest` is SHA-256(salt ‖ JCS(content)) with a fresh 32-byte
/// salt: the leaf commits to the content without holding it, and once the
/// salt is deleted nobody can test a guess against the digest. Entries the
/// log writes itself (`recovery`, `purge`) have no content.
public struct LogEntry: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Appended by the runtime (an exchange) or an operator.
        case record
        /// Written by `open` after a crash left a torn line.
        case recovery
        /// Written by `purge` before it deletes content.
        case purge
    }

    public let index: UInt64
    /// Unix seconds, written as RFC 3339 UTC.
    public let time: Int64
    public let kind: Kind
    public let metadata: [String: JSONValue]
    public let contentDigest: SHA256Digest?

    public init(index: UInt64, time: Int64, kind: Kind, metadata: [String: JSONValue], contentDigest: SHA256Digest?) {
        self.index = index
        self.time = time
        self.kind = kind
        self.metadata = metadata
        self.contentDigest = contentDigest
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "index": .integer(Int64(index)), "metadata": .object(metadata),
            "time": .string(Timestamp.format(time)), "type": .string(kind.rawValue),
        ]
        if let contentDigest { object["contentDigest"] = .string(contentDigest.prefixed) }
        return .object(object)
    }

    /// The leaf's bytes: the entry in RFC 8785 canonical JSON.
    public var leafBytes: [UInt8] { CanonicalJSON.serialize(json) }
    public var leafHash: SHA256Digest { RFC6962.leafHash(leafBytes) }

    init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        let index = try reader.integer("index", in: 0...Int64.max)
        let timeText = try reader.string("time")
        guard let time = Timestamp.parse(timeText) else {
            throw reader.error("time", "must be an RFC 3339 UTC time like 2026-12-01T10:00:00Z, got '\(timeText)'")
        }
        let kindText = try reader.string("type")
        guard let kind = Kind(rawValue: kindText) else {
            throw reader.error("type", "must be record, recovery or purge, got '\(kindText)'")
        }
        let metadata = try reader.rawObject("metadata")
        var digest: SHA256Digest?
        if let text = try reader.optionalString("contentDigest") {
            guard text.hasPrefix("sha256:"), let parsed = SHA256Digest(hex: String(text.dropFirst(7))) else {
                throw reader.error("contentDigest", "must be sha256:<64 lowercase hex digits>")
            }
            digest = parsed
        }
        guard (kind == .record) == (digest != nil) else {
            throw reader.error("contentDigest", kind == .record ? "a record commits to its content" : "a \(kind.rawValue) entry has no content")
        }
        self.init(index: UInt64(index), time: time, kind: kind, metadata: metadata, contentDigest: digest)
    }

    /// SHA-256(salt ‖ JCS(content)).
    public static func contentDigest(salt: [UInt8], content: [String: JSONValue]) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(salt)
        hasher.update(CanonicalJSON.serialize(.object(content)))
        return hasher.finalize()
    }
}

/// One line of a segment: the entry (the leaf), its content and salt until
/// they are purged, and what makes the line authentic on its own: the root
/// of the tree that ends with this entry and the appliance's signature of
/// the checkpoint for it.
///
///     {"content":{…},"entry":{…},"root":"<base64>","salt":"<base64>",
///      "signature":"<base64(key ID ‖ Ed25519 signature)>"}
///
/// The signature is exactly a C2SP note signature of the checkpoint
/// `<origin>\n<index + 1>\n<root>\n`, so every line carries a standard
/// signed checkpoint. After a purge, `content` and `salt` are gone and
/// `purgedBy` names the purge entry. The line is the RFC 8785 form of this
/// object: any byte changed, even to an equivalent JSON spelling, shows.
public struct LogRecord: Sendable, Equatable {
    public static let saltByteCount = 32

    public let entry: LogEntry
    public let content: [String: JSONValue]?
    public let salt: [UInt8]?
    public let purgedBy: UInt64?
    /// MTH of entries 0…index.
    public let root: SHA256Digest
    /// base64-decoded: 4-byte key ID ‖ signature.
    public let signature: [UInt8]

    init(entry: LogEntry, content: [String: JSONValue]?, salt: [UInt8]?, purgedBy: UInt64?, root: SHA256Digest, signature: [UInt8]) {
        self.entry = entry
        self.content = content
        self.salt = salt
        self.purgedBy = purgedBy
        self.root = root
        self.signature = signature
    }

    public var isPurged: Bool { purgedBy != nil }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "entry": entry.json, "root": .string(Base64.encode(root.bytes)), "signature": .string(Base64.encode(signature)),
        ]
        if let content { object["content"] = .object(content) }
        if let salt { object["salt"] = .string(Base64.encode(salt)) }
        if let purgedBy { object["purgedBy"] = .integer(Int64(purgedBy)) }
        return .object(object)
    }

    /// The line as written, with its newline.
    var lineBytes: [UInt8] { CanonicalJSON.serialize(json) + [0x0A] }

    /// This line without its content and salt, naming the purge entry.
    func purged(by purgeIndex: UInt64) -> LogRecord {
        LogRecord(entry: entry, content: nil, salt: nil, purgedBy: purgeIndex, root: root, signature: signature)
    }

    /// The checkpoint this line's signature signs.
    public func checkpoint(origin: String) -> Checkpoint {
        Checkpoint(origin: origin, size: entry.index + 1, root: root)
    }

    /// The signed checkpoint this line carries, as a note.
    public func signedCheckpoint(origin: String) -> SignedCheckpoint? {
        guard let signature = NoteSignature(name: origin, base64: Base64.encode(signature)) else { return nil }
        let checkpoint = checkpoint(origin: origin)
        return SignedCheckpoint(checkpoint: checkpoint, note: SignedNote(text: checkpoint.text, signatures: [signature]))
    }

    /// Whether `key` signed this line's checkpoint.
    public func isSigned(by key: NoteVerifierKey) -> Bool {
        guard signature.count == 4 + 64, Array(signature.prefix(4)) == NoteVerifierKey.bytes(key.keyID) else { return false }
        return key.isValidSignature(Array(signature.dropFirst(4)), for: checkpoint(origin: key.name).text)
    }

    /// Whether the content (when still present) matches the entry's digest.
    public var contentMatchesDigest: Bool {
        guard let content, let salt, let digest = entry.contentDigest else { return true }
        return LogEntry.contentDigest(salt: salt, content: content) == digest
    }

    /// Parses one line (without its newline). Strict: canonical JSON, no
    /// unknown field, content and salt together or not at all.
    public init(parsing line: [UInt8], source: String) throws(LogError) {
        do {
            let value = try JSONParser.parse(line, source: source)
            guard CanonicalJSON.serialize(value) == line else {
                throw LogError(source, "not in RFC 8785 canonical form, as every line is written")
            }
            self = try JSONObjectReader.read(value, source: source, mode: .strict, what: "a log line") { reader throws(FormatsError) in
                let entry = try reader.object("entry") { entry throws(FormatsError) in try LogEntry(reading: &entry) }
                let content = try reader.optionalRawObject("content")
                var salt: [UInt8]?
                if let text = try reader.optionalString("salt") {
                    guard let bytes = Base64.decodeStrict(text), bytes.count == Self.saltByteCount else {
                        throw reader.error("salt", "must be canonical base64 of \(Self.saltByteCount) bytes")
                    }
                    salt = bytes
                }
                let purgedBy = try reader.optionalInteger("purgedBy", in: 0...Int64.max).map(UInt64.init)
                let rootText = try reader.string("root")
                guard let rootBytes = Base64.decodeStrict(rootText), let root = SHA256Digest(bytes: rootBytes) else {
                    throw reader.error("root", "must be canonical base64 of 32 bytes")
                }
                let signatureText = try reader.string("signature")
                guard let signature = Base64.decodeStrict(signatureText), signature.count >= 5 else {
                    throw reader.error("signature", "must be canonical base64 of a key ID and a signature")
                }
                guard (content == nil) == (salt == nil) else {
                    throw reader.error("salt", "content and salt are kept or purged together")
                }
                if entry.kind == .record {
                    guard (content != nil) != (purgedBy != nil) else {
                        throw reader.error("purgedBy", content == nil ? "a record without content must name the purge that removed it" : "a purged record keeps no content")
                    }
                } else {
                    guard content == nil, purgedBy == nil else {
                        throw reader.error("content", "a \(entry.kind.rawValue) entry has no content")
                    }
                }
                return LogRecord(entry: entry, content: content, salt: salt, purgedBy: purgedBy, root: root, signature: signature)
            }
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError.from(error)
        }
    }
}

/// One line of checkpoints.jsonl: a signed checkpoint and the right edge of
/// the tree at its size, so a writer resumes without re-reading the log.
struct CheckpointRecord: Sendable, Equatable {
    let note: SignedNote
    let frontier: [SHA256Digest]

    var json: JSONValue {
        .object([
            "frontier": .array(frontier.map { .string(Base64.encode($0.bytes)) }),
            "note": .string(String(decoding: note.bytes, as: UTF8.self)),
        ])
    }

    var lineBytes: [UInt8] { CanonicalJSON.serialize(json) + [0x0A] }

    init(note: SignedNote, frontier: [SHA256Digest]) {
        self.note = note
        self.frontier = frontier
    }

    init(parsing line: [UInt8], source: String) throws(LogError) {
        do {
            self = try JSONObjectReader.read(parsing: line, source: source, mode: .strict, what: "a checkpoint record") { reader throws(FormatsError) in
                let noteText = try reader.string("note")
                var frontier: [SHA256Digest] = []
                for (i, text) in try reader.strings("frontier").enumerated() {
                    guard let bytes = Base64.decodeStrict(text), let hash = SHA256Digest(bytes: bytes) else {
                        throw reader.error("frontier[\(i)]", "must be canonical base64 of 32 bytes")
                    }
                    frontier.append(hash)
                }
                guard frontier.count <= 64 else { throw reader.error("frontier", "holds at most 64 hashes") }
                let parsed = Result { () throws(LogError) in try SignedNote(parsing: Array(noteText.utf8), source: source) }
                guard case .success(let note) = parsed else {
                    if case .failure(let error) = parsed { throw reader.error("note", error.reason) }
                    preconditionFailure()
                }
                return CheckpointRecord(note: note, frontier: frontier)
            }
        } catch {
            throw LogError.from(error)
        }
    }
}
