import Glibc
import Synchronization
import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// The appliance's tamper-evident log, as the steering runtime writes it.
///
/// ```swift
/// let log = try AuditLog.open(directory: root + "/log")
/// let index = try log.append(metadata: ["requestID": .string(id), …],
///                            content: ["prompt": .string(prompt), "answer": .string(answer)])
/// // only now show the answer: entry `index` is on disk
/// try log.close()
/// ```
///
/// - `append` returns once the line is written and fsynced, so a kill -9
///   at any moment loses no entry whose append returned.
/// - Every line is signed (its checkpoint), and a checkpoint file is
///   written every `checkpointInterval` entries and on `close`.
/// - `content` is kept beside the entry, the leaf commits only to its
///   salted digest: `purge(before:)` deletes it and the tree still verifies.
/// - One writer at a time (`.lock`); calls on one `AuditLog` are serialised.
/// - A crash mid-append leaves a torn last line: `open` moves those bytes
///   to `torn/`, cuts them off and records a `recovery` entry naming them.
///
/// See docs/log.md for the format, the recovery rules and the threat model.
public final class AuditLog: @unchecked Sendable {
    /// The log directory.
    public let path: String
    let key: ApplianceKey
    let options: AuditLogOptions
    let directory: DirectoryHandle
    let entries: DirectoryHandle
    let torn: DirectoryHandle
    let state: Mutex<WriterState>
    /// What `open` found and recorded after an interrupted append, if anything.
    public internal(set) var recovery: LogRecovery?

    struct WriterState {
        var frontier: MerkleFrontier
        var segment: FileDescriptor
        var segmentName: String
        var segmentBytes: Int64
        var history: FileDescriptor?
        var historyBytes: Int64
        var latestCheckpoint: SignedCheckpoint?
        /// Why nothing more may be written (a failed write or fsync, a simulated crash).
        var poisoned: String?
        var closed = false
        var crashCountdown: Int
        /// The writer's flock, held until `close`.
        var lock: LogLock?
    }

    /// The verifier key string auditors pin (also in `appliance.pub`).
    public var verifierKey: NoteVerifierKey { key.verifierKey }
    /// The log's origin, the first line of its checkpoints.
    public var origin: String { key.origin }
    /// Entries in the log.
    public var size: UInt64 { state.withLock { $0.frontier.size } }
    /// MTH of every entry so far.
    public var root: SHA256Digest { state.withLock { $0.frontier.root } }
    /// The last checkpoint written.
    public var latestCheckpoint: SignedCheckpoint? { state.withLock { $0.latestCheckpoint } }

    init(path: String, key: ApplianceKey, options: AuditLogOptions, directory: consuming DirectoryHandle,
         entries: consuming DirectoryHandle, torn: consuming DirectoryHandle,
         state: WriterState, recovery: LogRecovery?) {
        self.path = path
        self.key = key
        self.options = options
        self.directory = directory
        self.entries = entries
        self.torn = torn
        self.state = Mutex(state)
        self.recovery = recovery
    }

    deinit {
        // Dropped without `close()`: release the descriptors (and the lock)
        // without a checkpoint, as a crash would. After `close()` they are
        // already closed, and their numbers may belong to someone else now.
        state.withLock { state in
            guard !state.closed else { return }
            state.segment.closeIgnoringErrors()
            state.history?.closeIgnoringErrors()
        }
    }

    /// Opens the log under an appliance root (`<root>/log`).
    public static func open(applianceRoot root: String, options: AuditLogOptions = AuditLogOptions()) throws(LogError) -> AuditLog {
        try open(directory: (root.hasSuffix("/") ? String(root.dropLast()) : root) + "/log", options: options)
    }

    // MARK: - Appending

    /// Appends an entry and returns its index once it is durable.
    ///
    /// `metadata` stays in the log for good (request id, digests, rule ids,
    /// decode settings): nothing personal belongs there. `content` (the
    /// prompt, the answers, the blips) is what `purge` can delete later.
    public func append(metadata: [String: JSONValue], content: [String: JSONValue]) throws(LogError) -> UInt64 {
        try state.withLock { (state: inout WriterState) throws(LogError) -> UInt64 in
            try checkWritable(state)
            let salt = SecureRandom.bytes(LogRecord.saltByteCount)
            let entry = LogEntry(index: state.frontier.size, time: options.clock(), kind: .record, metadata: metadata,
                                 contentDigest: LogEntry.contentDigest(salt: salt, content: content))
            return try write(entry, content: content, salt: salt, state: &state)
        }
    }

    /// Writes a checkpoint of the log as it is now (unless the last one
    /// already has this size) and returns it.
    @discardableResult
    public func checkpoint() throws(LogError) -> SignedCheckpoint {
        try state.withLock { (state: inout WriterState) throws(LogError) -> SignedCheckpoint in
            try checkWritable(state)
            return try writeCheckpoint(state: &state)
        }
    }

    /// Writes a last checkpoint if entries came after the previous one and
    /// releases the log. A log that failed or crashed is released without
    /// writing and reports why.
    public func close() throws(LogError) {
        try state.withLock { (state: inout WriterState) throws(LogError) in
            guard !state.closed else { return }
            defer {
                state.closed = true
                state.segment.closeIgnoringErrors()
                state.history?.closeIgnoringErrors()
                state.history = nil
                state.lock = nil
            }
            if let reason = state.poisoned { throw LogError(path, "closed without a final checkpoint: \(reason)") }
            if state.latestCheckpoint?.checkpoint.size != state.frontier.size {
                _ = try writeCheckpoint(state: &state)
            }
        }
    }

    func checkWritable(_ state: WriterState) throws(LogError) {
        if state.closed { throw LogError(path, "the log is closed") }
        if let reason = state.poisoned { throw LogError(path, "no longer writable: \(reason); open it again to recover") }
    }

    /// Signs, writes and fsyncs one entry; checkpoints when the interval comes round.
    func write(_ entry: LogEntry, content: [String: JSONValue]?, salt: [UInt8]?, state: inout WriterState) throws(LogError) -> UInt64 {
        precondition(entry.index == state.frontier.size, "entries are written in order")
        var frontier = state.frontier
        frontier.append(leafHash: entry.leafHash)
        let root = frontier.root
        let signature = key.sign(Checkpoint(origin: origin, size: frontier.size, root: root).text)
        let record = LogRecord(entry: entry, content: content, salt: salt, purgedBy: nil, root: root,
                               signature: NoteVerifierKey.bytes(signature.keyID) + signature.signature)
        let line = record.lineBytes
        guard line.count <= LogLayout.maxLineBytes + 1 else {
            throw LogError("entry \(entry.index)", "is \(line.count) bytes as a log line, more than the \(LogLayout.maxLineBytes) allowed")
        }
        if state.segmentBytes > 0 && state.segmentBytes + Int64(line.count) > options.segmentByteLimit {
            try startSegment(firstIndex: entry.index, state: &state)
        }
        try crashPoint(.beforeWrite, state: &state)
        if isCrashDue(.midLine, state: state) {
            try? state.segment.writeAll(Array(line.prefix(line.count / 2)))
        }
        try crashPoint(.midLine, state: &state)
        do {
            try state.segment.writeAll(line)
        } catch {
            // Cut off whatever part of the line reached the file; if even that fails, stop writing.
            do { try LogFileCalls.truncate(state.segment, to: state.segmentBytes) } catch {
                state.poisoned = "a failed write left a partial line that could not be cut off"
            }
            throw LogError.from(error)
        }
        try crashPoint(.beforeSync, state: &state)
        do { try state.segment.sync() } catch {
            // After a failed fsync the kernel may have dropped the pages: nothing
            // written since the last good fsync can be trusted, so stop here.
            state.poisoned = "fsync failed (\(error.reason))"
            throw LogError.from(error)
        }
        try crashPoint(.afterSync, state: &state)
        state.frontier = frontier
        state.segmentBytes += Int64(line.count)
        if frontier.size % max(options.checkpointInterval, 1) == 0 {
            _ = try writeCheckpoint(state: &state)
        }
        return entry.index
    }

    /// Starts `entries/<firstIndex>.jsonl` and makes its name durable.
    private func startSegment(firstIndex: UInt64, state: inout WriterState) throws(LogError) {
        let name = LogLayout.segmentName(firstIndex: firstIndex)
        let file: FileDescriptor
        do {
            file = try entries.createFile(Array(name.utf8), mode: 0o640)
            try entries.sync()
        } catch { throw LogError.from(error) }
        state.segment.closeIgnoringErrors()
        state.segment = file
        state.segmentName = name
        state.segmentBytes = 0
    }

    // MARK: - Checkpoints

    /// Appends a checkpoint to checkpoints.jsonl (with the tree's right
    /// edge), then replaces `checkpoint` with it, each step durable.
    func writeCheckpoint(state: inout WriterState) throws(LogError) -> SignedCheckpoint {
        if let latest = state.latestCheckpoint, latest.checkpoint.size == state.frontier.size { return latest }
        let signed = key.sign(Checkpoint(origin: origin, size: state.frontier.size, root: state.frontier.root))
        let line = CheckpointRecord(note: signed.note, frontier: state.frontier.hashes).lineBytes
        if state.history == nil {
            do {
                let name = LogLayout.checkpointHistory
                if try ApplianceKey.exists(Array(name.utf8), in: directory) {
                    (state.history, state.historyBytes) = try LogFileCalls.openForAppend(name, in: directory)
                } else {
                    state.history = try directory.createFile(Array(name.utf8), mode: 0o644)
                    state.historyBytes = 0
                    try directory.sync()
                }
            } catch let error as LogError {
                throw error
            } catch {
                throw LogError.from(error)
            }
        }
        guard let history = state.history else { preconditionFailure("opened above") }
        do {
            try history.writeAll(line)
            try history.sync()
        } catch {
            try? LogFileCalls.truncate(history, to: state.historyBytes)
            history.closeIgnoringErrors()
            state.history = nil
            throw LogError.from(error)
        }
        state.historyBytes += Int64(line.count)
        try crashPoint(.midCheckpoint, state: &state)
        try replaceLatestCheckpoint(signed.bytes)
        state.latestCheckpoint = signed
        return signed
    }

    /// Replaces `checkpoint` atomically: a fresh file fsynced, renamed over it, the directory fsynced.
    func replaceLatestCheckpoint(_ bytes: [UInt8]) throws(LogError) {
        let temporary = LogLayout.checkpointTemporary
        do {
            if try directory.status(Array(temporary.utf8)) != nil { try directory.remove(Array(temporary.utf8)) }
            try ApplianceKey.write(bytes, to: Array(temporary.utf8), in: directory, mode: 0o644)
            try LogFileCalls.replace(LogLayout.checkpointFile, with: temporary, in: directory)
            try directory.sync()
        } catch let error as LogError {
            throw error
        } catch {
            throw LogError.from(error)
        }
    }

    // MARK: - Fault injection

    func isCrashDue(_ point: LogCrashPoint, state: WriterState) -> Bool {
        options.crash?.point == point && state.crashCountdown == 0
    }

    /// Passes a named step: crashes there when the injection says so.
    func crashPoint(_ point: LogCrashPoint, state: inout WriterState) throws(LogError) {
        guard let crash = options.crash, crash.point == point else { return }
        guard state.crashCountdown == 0 else {
            state.crashCountdown -= 1
            return
        }
        if crash.killsProcess { kill(getpid(), SIGKILL) }
        state.poisoned = "crashed (simulated) at \(point.rawValue)"
        throw LogError(path, "simulated crash at \(point.rawValue)")
    }
}
