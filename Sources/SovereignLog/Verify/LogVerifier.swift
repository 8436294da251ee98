import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// Checks a whole log against a trusted key and names what is wrong.
///
/// Every line must be canonical, parse, carry the next index, and be
/// signed by the key: its signature covers the checkpoint of the tree that
/// ends with it, so the verifier recomputes the tree leaf by leaf and
/// compares each root. Content still present must match its salted digest;
/// content removed must be covered by a later `purge` entry. Every
/// checkpoint (the `checkpoint` file and each record of checkpoints.jsonl)
/// must verify, match the recomputed root at its size, follow the previous
/// one consistently, and be covered by the entries.
///
/// The first entry that breaks this is named, and classified by what the
/// lines around it show (see `LogFinding.Kind`):
///
/// - a line claiming index e (expected here) that is not what was signed: edited e;
/// - an unsigned line, or a copy of an earlier entry, where e belongs and
///   entry e follows: inserted e;
/// - a genuine later entry where e belongs, e found further on: reordered e
///   (inserted e if that later entry also appears again);
/// - a genuine later entry, e nowhere: deleted e;
/// - the lines end before a signed checkpoint's size: truncated e;
/// - an incomplete last line beyond every checkpoint: torn e (a crash).
///
/// Only I/O problems (a missing directory, an unreadable file) throw.
public enum LogVerifier {
    public static func verify(directory path: String, trusting pinned: NoteVerifierKey? = nil) throws(LogError) -> LogVerification {
        let path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let directory: DirectoryHandle
        do { directory = try DirectoryHandle.open(path) } catch { throw LogError.from(error) }
        // A shared lock when no writer holds the log: then an incomplete last
        // line is a crash's; while a writer holds it, it may be mid-append.
        let readerLock = LogLock.shared(in: directory)
        let writerActive: Bool
        if case .writerActive = readerLock { writerActive = true } else { writerActive = false }
        defer { withExtendedLifetime(readerLock) {} }

        var findings: [LogFinding] = []
        var notes: [String] = []
        let pubPath = path + "/" + ApplianceKey.publicFileName
        let key: NoteVerifierKey
        let keySource: String
        if let pinned {
            key = pinned
            keySource = "pinned"
            if let published = try? ApplianceKey.readVerifierKey(path: pubPath), published != pinned {
                findings.append(LogFinding(kind: .keyMismatch, index: nil, location: pubPath,
                                           detail: "names \(published.name)+\(published.keyIDHex), not the pinned \(pinned.name)+\(pinned.keyIDHex)"))
            }
        } else {
            key = try ApplianceKey.readVerifierKey(path: pubPath)
            keySource = pubPath
            notes.append("trusting the key in \(pubPath), which is not pinned: pass the key recorded at install to rule out a swapped key")
        }

        // Checkpoints first: their sizes say where the log must reach.
        var checkpoints = CheckpointScan(path: path, key: key)
        try checkpoints.read(directory)
        findings += checkpoints.findings
        notes += checkpoints.notes
        let signedSize = checkpoints.verified.map(\.checkpoint.size).max() ?? 0

        // The entries.
        let entries: DirectoryHandle
        do { entries = try directory.openDirectory(Array(LogLayout.entriesDirectory.utf8)) } catch {
            throw LogError.from(error)
        }
        let (segments, others) = try LogSegments.list(entries)
        for name in others { notes.append("\(path)/\(LogLayout.entriesDirectory)/\(name): not a segment; ignored") }
        var walk = EntryWalk(key: key)
        var anomaly: (line: LogReader.ScannedLine, state: EntryWalk.LineState)?
        try LogReader.scan(entries, segments, path: path) { (line) throws(LogError) -> Bool in
            let state = walk.accept(line)
            if case .accepted = state { return true }
            anomaly = (line, state)
            return false
        }
        if let anomaly {
            let after = try Lookahead.read(entries, segments, path: path, after: anomaly.line, key: key)
            if let finding = classify(anomaly.line, anomaly.state, expected: walk.count, signedSize: signedSize,
                                      after: after, writerActive: writerActive) {
                findings.append(finding)
            } else {
                notes.append("\(anomaly.line.location): entry \(walk.count) is being appended by a running writer; not read")
            }
        } else if walk.count < signedSize, let largest = checkpoints.verified.max(by: { $0.checkpoint.size < $1.checkpoint.size }) {
            findings.append(LogFinding(kind: .truncated, index: walk.count, location: "\(path)/\(LogLayout.entriesDirectory)",
                                       detail: "the log ends after \(walk.count) entries, but \(largest.source) (signed) covers \(largest.checkpoint.size)"))
        }

        findings += try walk.purgeFindings(path: path)
        findings += checkpoints.checkAgainst(walk.tree)
        let (evidenceFindings, evidenceNotes) = walk.checkFragments(in: directory, path: path)
        findings += evidenceFindings
        notes += evidenceNotes
        if walk.purgedCount > 0 { notes.append("content purged from \(walk.purgedCount) entries") }

        let latest: SignedCheckpoint?
        if let last = walk.lastRecord {
            latest = last.signedCheckpoint(origin: key.name)
        } else {
            latest = checkpoints.verified.first { $0.checkpoint.size == 0 }.map(\.signed)
        }
        // The key first (it explains everything after it), then entries in
        // log order, then checkpoints in the order found.
        func rank(_ finding: LogFinding) -> Int {
            switch finding.kind {
            case .keyMismatch: return 0
            case .forgedCheckpoint: return 2
            default: return 1
            }
        }
        let sorted = findings.enumerated().sorted { a, b in
            let (ra, rb) = (rank(a.element), rank(b.element))
            if ra != rb { return ra < rb }
            if ra == 1, let ia = a.element.index, let ib = b.element.index, ia != ib { return ia < ib }
            return a.offset < b.offset
        }.map(\.element)
        return LogVerification(directory: path, key: key, keySource: keySource, entryCount: walk.count, tree: walk.tree,
                               latest: latest, checkpointCount: checkpoints.verified.count, findings: sorted, notes: notes,
                               purgedEntries: walk.purgedCount, recoveries: walk.recoveries.map(\.index))
    }

    /// Names the first departure from the signed history (see the type's summary).
    static func classify(_ line: LogReader.ScannedLine, _ state: EntryWalk.LineState, expected e: UInt64, signedSize: UInt64,
                         after: Lookahead, writerActive: Bool) -> LogFinding? {
        func finding(_ kind: LogFinding.Kind, _ detail: String) -> LogFinding {
            LogFinding(kind: kind, index: e, location: line.location, detail: detail)
        }
        let nextClaimsE = after.next?.authenticIndex == e
        switch state {
        case .accepted:
            preconditionFailure("only departures are classified")
        case .fragment(let bytes, let parsesWhole) where after.next == nil:
            if e >= signedSize {
                if writerActive { return nil }
                return finding(.torn, "the last line is incomplete (\(bytes.count) bytes, no newline), beyond every checkpoint: an append was interrupted; opening the log for writing keeps these bytes in \(LogLayout.tornDirectory)/ and records a recovery entry")
            }
            if parsesWhole { return finding(.edited, "the last line lost its newline") }
            return finding(.truncated, "the log ends inside entry \(e) (\(bytes.count) bytes, no newline), but a signed checkpoint covers \(signedSize) entries")
        case .fragment, .malformed, .unsigned:
            if nextClaimsE { return finding(.inserted, "\(state.reason); entry \(e) follows it") }
            if after.next == nil && e >= signedSize { return finding(.inserted, "\(state.reason), after the last signed entry") }
            return finding(.edited, state.reason)
        case .mismatch(let reason):
            if nextClaimsE { return finding(.inserted, "a line the appliance signed for another tree, before entry \(e)") }
            return finding(.edited, reason)
        case .outOfPlace(let claimed):
            if claimed < e { return finding(.inserted, "a copy of entry \(claimed) where entry \(e) belongs") }
            if after.authenticIndices.contains(e) {
                if after.authenticIndices.contains(claimed) {
                    return finding(.inserted, "a copy of entry \(claimed) where entry \(e) belongs")
                }
                return finding(.reordered, "entry \(claimed) comes where entry \(e) belongs; entry \(e) comes later")
            }
            let missing = claimed - e == 1 ? "entry \(e) is missing" : "entries \(e)–\(claimed - 1) are missing"
            return finding(.deleted, "\(missing): entry \(claimed) follows entry \(e == 0 ? "(none)" : String(e - 1))")
        }
    }
}

/// What the lines after a departure show: the next line's claim, and every
/// index claimed by a line the key signed.
struct Lookahead {
    struct Next { let authenticIndex: UInt64? }
    var next: Next?
    var authenticIndices: Set<UInt64> = []

    static func read(_ entries: borrowing DirectoryHandle, _ segments: [Segment], path: String,
                     after line: LogReader.ScannedLine, key: NoteVerifierKey) throws(LogError) -> Lookahead {
        var result = Lookahead()
        try LogReader.scan(entries, segments, path: path, from: (line.segmentPosition, line.number + 1)) { (later) throws(LogError) -> Bool in
            var claim: UInt64?
            if case .line(let bytes, _) = later.item, let record = try? LogRecord(parsing: bytes, source: later.location),
               record.isSigned(by: key) {
                claim = record.entry.index
                result.authenticIndices.insert(record.entry.index)
            }
            if result.next == nil { result.next = Next(authenticIndex: claim) }
            return true
        }
        return result
    }
}
