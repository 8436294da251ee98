import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// The verifier's pass over the lines, in order: accepts each line that
/// carries the next index, is signed by the key and gives the signed root,
/// and says why it stops at the first that does not.
struct EntryWalk {
    enum LineState {
        case accepted
        /// Bytes after the last newline; `parsesWhole` if they are a whole line but for the newline.
        case fragment([UInt8], parsesWhole: Bool)
        /// Not a log line (bad JSON, not canonical, wrong fields, too long).
        case malformed(String)
        /// A well-formed line the trusted key did not sign.
        case unsigned(String)
        /// A signed line in its place whose data, content or root is not what was signed.
        case mismatch(String)
        /// A signed line claiming another index.
        case outOfPlace(UInt64)

        var reason: String {
            switch self {
            case .accepted: return "accepted"
            case .fragment(let bytes, _): return "an incomplete line (\(bytes.count) bytes, no newline)"
            case .malformed(let reason), .unsigned(let reason), .mismatch(let reason): return reason
            case .outOfPlace(let index): return "entry \(index) out of place"
            }
        }
    }

    struct Purged { let index: UInt64; let time: Int64; let purgedBy: UInt64; let location: String }
    struct Recovery { let index: UInt64; let fragments: [TornFragment]; let location: String }

    let key: NoteVerifierKey
    private(set) var count: UInt64 = 0
    private(set) var tree = MerkleTree()
    private(set) var lastRecord: LogRecord?
    private var frontier = MerkleFrontier()
    private var purged: [Purged] = []
    private var purgeCutoffs: [UInt64: Int64] = [:]
    private(set) var recoveries: [Recovery] = []

    init(key: NoteVerifierKey) {
        self.key = key
    }

    var purgedCount: Int { purged.count }

    mutating func accept(_ line: LogReader.ScannedLine) -> LineState {
        let bytes: [UInt8]
        switch line.item {
        case .fragment(let fragment, _):
            return .fragment(fragment, parsesWhole: (try? LogRecord(parsing: fragment, source: line.location)) != nil)
        case .overlong(_, let length, _):
            return .malformed("a line of \(length) bytes, more than the \(LogLayout.maxLineBytes) a log line may hold")
        case .line(let line, _):
            bytes = line
        }
        let record: LogRecord
        do { record = try LogRecord(parsing: bytes, source: line.location) } catch {
            return .malformed("not a log line: \(error.reason)")
        }
        guard record.isSigned(by: key) else {
            return .unsigned("the line claiming entry \(record.entry.index) is not signed by \(key.name)+\(key.keyIDHex)")
        }
        guard record.entry.index == count else { return .outOfPlace(record.entry.index) }
        var next = frontier
        next.append(leafHash: record.entry.leafHash)
        guard next.root == record.root else {
            return .mismatch("its data does not give the root the appliance signed for it")
        }
        guard record.contentMatchesDigest else {
            return .mismatch("its content does not match the salted digest its entry commits to")
        }
        frontier = next
        tree.append(leafHash: record.entry.leafHash)
        count += 1
        lastRecord = record
        if let by = record.purgedBy {
            purged.append(Purged(index: record.entry.index, time: record.entry.time, purgedBy: by, location: line.location))
        }
        switch record.entry.kind {
        case .purge:
            if let text = record.entry.metadata["before"]?.stringValue, let cutoff = Timestamp.parse(text) {
                purgeCutoffs[record.entry.index] = cutoff
            }
        case .recovery:
            let fragments = record.entry.metadata["torn"]?.arrayValue?.compactMap(TornFragment.init) ?? []
            recoveries.append(Recovery(index: record.entry.index, fragments: fragments, location: line.location))
        case .record:
            break
        }
        return .accepted
    }

    /// Content removed must be covered by a later purge entry whose cutoff is after the entry's time.
    func purgeFindings(path: String) throws(LogError) -> [LogFinding] {
        var findings: [LogFinding] = []
        for item in purged where item.purgedBy < count {
            if let cutoff = purgeCutoffs[item.purgedBy], item.purgedBy > item.index, item.time < cutoff { continue }
            findings.append(LogFinding(kind: .edited, index: item.index, location: item.location,
                                       detail: "its content was removed, but entry \(item.purgedBy) is not a purge that covers it"))
        }
        return findings
    }

    /// The torn bytes recovery entries name, where still kept, must be what they recorded.
    func checkFragments(in directory: borrowing DirectoryHandle, path: String) -> (findings: [LogFinding], notes: [String]) {
        var findings: [LogFinding] = []
        var notes: [String] = []
        guard let torn = try? directory.openDirectory(Array(LogLayout.tornDirectory.utf8)) else {
            if !recoveries.isEmpty { notes.append("\(path)/\(LogLayout.tornDirectory): missing; the torn bytes recovery entries name are not kept") }
            return (findings, notes)
        }
        for recovery in recoveries {
            for fragment in recovery.fragments {
                let name = FileSystem.baseName(fragment.savedAs)
                let location = "\(path)/\(fragment.savedAs)"
                guard let bytes = try? LogSegments.readSmallFile(name, in: torn, limit: 2 * LogLayout.maxLineBytes) else {
                    notes.append("\(location): not kept (purged or removed); entry \(recovery.index) recorded its SHA-256 \(fragment.sha256.hex)")
                    continue
                }
                if SHA256.hash(bytes) != fragment.sha256 || Int64(bytes.count) != fragment.length {
                    findings.append(LogFinding(kind: .edited, index: recovery.index, location: location,
                                               detail: "the torn bytes kept here are not the \(fragment.length) bytes (SHA-256 \(fragment.sha256.hex)) the recovery entry recorded"))
                }
            }
        }
        return (findings, notes)
    }
}

/// The checkpoints a log keeps: `checkpoint` and every record of checkpoints.jsonl.
struct CheckpointScan {
    struct Verified {
        let signed: SignedCheckpoint
        let source: String
        let isHistory: Bool
        var checkpoint: Checkpoint { signed.checkpoint }
    }

    let path: String
    let key: NoteVerifierKey
    private(set) var verified: [Verified] = []
    private(set) var findings: [LogFinding] = []
    private(set) var notes: [String] = []

    init(path: String, key: NoteVerifierKey) {
        self.path = path
        self.key = key
    }

    private mutating func forged(_ source: String, _ size: UInt64?, _ detail: String) {
        findings.append(LogFinding(kind: .forgedCheckpoint, index: size, location: source, detail: detail))
    }

    /// The size a checkpoint's text claims, for naming a forged one.
    private static func claimedSize(_ bytes: [UInt8]) -> UInt64? {
        guard let note = try? SignedNote(parsing: bytes, source: "") else { return nil }
        return (try? Checkpoint(parsing: note.text, source: ""))?.size
    }

    mutating func read(_ directory: borrowing DirectoryHandle) throws(LogError) {
        let historyName = LogLayout.checkpointHistory
        if try ApplianceKey.exists(Array(historyName.utf8), in: directory) {
            let file: FileDescriptor, size: Int64
            do { (file, size) = try directory.openRegularFile(Array(historyName.utf8)) } catch { throw LogError.from(error) }
            defer { file.closeIgnoringErrors() }
            var reader = LineReader(file: file, size: size, maxLine: LogLayout.maxCheckpointLineBytes)
            var number = 0
            var previous: UInt64?
            while true {
                let item: LineReader.Item?
                do { item = try reader.next() } catch { throw LogError.from(error) }
                guard let item else { break }
                number += 1
                let source = "\(path)/\(historyName):\(number)"
                switch item {
                case .line(let bytes, _):
                    let record: CheckpointRecord
                    do { record = try CheckpointRecord(parsing: bytes, source: source) } catch {
                        forged(source, nil, "not a checkpoint record: \(error.reason)")
                        continue
                    }
                    let signed: SignedCheckpoint
                    do { signed = try SignedCheckpoint.open(record.note.bytes, source: source, trusting: key) } catch {
                        forged(source, Self.claimedSize(record.note.bytes), error.reason)
                        continue
                    }
                    let checkpoint = signed.checkpoint
                    if MerkleFrontier(size: checkpoint.size, hashes: record.frontier)?.root != checkpoint.root {
                        forged(source, checkpoint.size, "the saved right edge of the tree does not give the signed root")
                    }
                    if let previous, checkpoint.size < previous {
                        forged(source, checkpoint.size, "comes after a checkpoint of size \(previous): checkpoints are out of order")
                    }
                    previous = checkpoint.size
                    verified.append(Verified(signed: signed, source: source, isHistory: true))
                case .fragment(let bytes, _):
                    notes.append("\(source): an incomplete checkpoint record (\(bytes.count) bytes, a crash); opening the log for writing keeps it in \(LogLayout.tornDirectory)/")
                case .overlong(_, let length, _):
                    forged(source, nil, "a line of \(length) bytes, more than a checkpoint record may hold")
                }
            }
        }
        let fileSource = "\(path)/\(LogLayout.checkpointFile)"
        guard let bytes = try LogSegments.readSmallFile(LogLayout.checkpointFile, in: directory, limit: SignedNote.maxBytes) else {
            notes.append("\(fileSource): missing")
            return
        }
        do {
            let signed = try SignedCheckpoint.open(bytes, source: fileSource, trusting: key)
            if let last = verified.last, last.signed != signed {
                notes.append("\(fileSource): size \(signed.checkpoint.size), while the last record of \(historyName) has size \(last.checkpoint.size)")
            }
            verified.append(Verified(signed: signed, source: fileSource, isHistory: false))
        } catch {
            forged(fileSource, Self.claimedSize(bytes), error.reason)
        }
    }

    /// Each verified checkpoint the entries reach must have their root; each
    /// record must extend the one before it.
    func checkAgainst(_ tree: MerkleTree) -> [LogFinding] {
        var findings: [LogFinding] = []
        for item in verified where item.checkpoint.size <= tree.size {
            guard let root = try? tree.root(ofSize: item.checkpoint.size), root != item.checkpoint.root else { continue }
            findings.append(LogFinding(kind: .forgedCheckpoint, index: item.checkpoint.size, location: item.source,
                                       detail: "signed by the trusted key, but the entries give another root at this size: the key signed a different history"))
        }
        let history = verified.filter(\.isHistory)
        for (old, new) in zip(history, history.dropFirst()) where old.checkpoint.size > 0 && new.checkpoint.size <= tree.size
            && old.checkpoint.size <= new.checkpoint.size {
            guard let proof = try? tree.consistencyProof(from: old.checkpoint.size, to: new.checkpoint.size),
                  MerkleProof.verifyConsistency(oldSize: old.checkpoint.size, newSize: new.checkpoint.size, oldRoot: old.checkpoint.root,
                                                newRoot: new.checkpoint.root, proof: proof) else {
                findings.append(LogFinding(kind: .forgedCheckpoint, index: new.checkpoint.size, location: new.source,
                                           detail: "does not extend the checkpoint of size \(old.checkpoint.size) before it"))
                continue
            }
        }
        return findings
    }
}
