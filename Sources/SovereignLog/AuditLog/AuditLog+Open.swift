import Glibc
import Synchronization
import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// Bytes an interrupted append left after the last newline of a file,
/// kept in `torn/` and named by a `recovery` entry.
public struct TornFragment: Sendable, Equatable {
    /// The file they were cut from, relative to the log (`entries/…`, `checkpoints.jsonl`).
    public let file: String
    public let offset: Int64
    public let length: Int64
    public let sha256: SHA256Digest
    /// Where they are kept, relative to the log (`torn/…`).
    public let savedAs: String

    var json: JSONValue {
        .object(["file": .string(file), "offset": .integer(offset), "length": .integer(length),
                 "sha256": .string(sha256.hex), "savedAs": .string(savedAs)])
    }

    init(file: String, offset: Int64, length: Int64, sha256: SHA256Digest, savedAs: String) {
        self.file = file
        self.offset = offset
        self.length = length
        self.sha256 = sha256
        self.savedAs = savedAs
    }

    init?(_ value: JSONValue) {
        guard let object = value.objectValue, let file = object["file"]?.stringValue,
              case .integer(let offset)? = object["offset"], case .integer(let length)? = object["length"],
              let hex = object["sha256"]?.stringValue, let digest = SHA256Digest(hex: hex),
              let savedAs = object["savedAs"]?.stringValue else { return nil }
        self.init(file: file, offset: offset, length: length, sha256: digest, savedAs: savedAs)
    }
}

/// What `open` did about interrupted appends.
public struct LogRecovery: Sendable, Equatable {
    /// The index of the `recovery` entry that records them.
    public let entryIndex: UInt64
    public let fragments: [TornFragment]
}

extension AuditLog {
    /// Opens (creating on first use) the log in `directory`: takes the
    /// writer's lock, loads or creates the appliance key, resumes from the
    /// last checkpoint, checks every entry after it against its signature,
    /// and recovers from an interrupted append (see the type's summary).
    ///
    /// Refuses to write to a log whose newest entries do not verify, or
    /// that is shorter than its own last checkpoint: run `sovereign log
    /// verify` to see what happened.
    public static func open(directory path: String, options: AuditLogOptions = AuditLogOptions()) throws(LogError) -> AuditLog {
        let path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let directory: DirectoryHandle
        do {
            let parent = try DirectoryHandle.open(FileSystem.directoryName(path))
            if try parent.makeDirectory(Array(FileSystem.baseName(path).utf8), mode: 0o750) { try parent.sync() }
            directory = try DirectoryHandle.open(path)
        } catch { throw LogError.from(error) }
        let lock = try LogLock.exclusive(in: directory, wait: options.waitForLock)
        let entries = try LogSegments.openOrMakeDirectory(LogLayout.entriesDirectory, in: directory)
        let torn = try LogSegments.openOrMakeDirectory(LogLayout.tornDirectory, in: directory)
        do { try directory.sync() } catch { throw LogError.from(error) }

        // Leftovers of an interrupted purge or checkpoint: the originals are intact.
        var (segments, others) = try LogSegments.list(entries)
        for name in others where name.hasSuffix(LogLayout.purgeSuffix) {
            do { try entries.remove(Array(name.utf8)) } catch { throw LogError.from(error) }
        }
        let hasCheckpoints = try ApplianceKey.exists(Array(LogLayout.checkpointHistory.utf8), in: directory)
        let hasHistory = !segments.isEmpty || hasCheckpoints
        let key = try ApplianceKey.loadOrCreate(in: directory, origin: options.origin, mayCreate: !hasHistory).key

        // Resume from the last checkpoint record, cutting off a torn one.
        var resume = Resume(frontier: MerkleFrontier(), checkpoint: nil, historyBytes: 0)
        if hasCheckpoints {
            resume = try readHistory(in: directory, torn: torn, key: key)
        }

        // Check every entry after it; cut off a torn last line.
        var frontier = resume.frontier
        let checkpointSize = frontier.size
        var total: UInt64 = 0
        if !segments.isEmpty {
            let start = segments.lastIndex { $0.firstIndex <= checkpointSize } ?? 0
            total = segments[start].firstIndex
            for (position, segment) in segments.enumerated() where position >= start {
                let isLast = position == segments.count - 1
                try LogSegments.readLines(of: segment, in: entries) { (number, item) throws(LogError) -> Bool in
                    let location = "\(path)/\(LogLayout.entriesDirectory)/\(segment.name):\(number)"
                    let index = segment.firstIndex + UInt64(number - 1)
                    switch item {
                    case .line(let bytes, _):
                        total = index + 1
                        guard index >= checkpointSize else { return true }
                        guard index == frontier.size else {
                            throw LogError(location, "expected entry \(frontier.size) here: the log was altered; run 'sovereign log verify'")
                        }
                        let record = try LogRecord(parsing: bytes, source: location)
                        frontier.append(leafHash: record.entry.leafHash)
                        guard record.entry.index == index, record.root == frontier.root, record.isSigned(by: key.verifierKey) else {
                            throw LogError(location, "entry \(index) does not match what the appliance signed: the log was altered; run 'sovereign log verify'")
                        }
                    case .fragment(let bytes, let offset):
                        guard isLast, index >= checkpointSize else {
                            throw LogError(location, "an incomplete line inside the log: it was altered; run 'sovereign log verify'")
                        }
                        try saveTorn(bytes, from: "\(LogLayout.entriesDirectory)/\(segment.name)", offset: offset, in: torn)
                        try cut(segment.name, in: entries, to: offset)
                    case .overlong(let offset, _, _):
                        throw LogError(location, "a line of more than \(LogLayout.maxLineBytes) bytes at offset \(offset): the log was altered; run 'sovereign log verify'")
                    }
                    return true
                }
            }
        }
        guard total >= checkpointSize else {
            throw LogError(path, "holds \(total) entries, but its own checkpoint covers \(checkpointSize): entries were removed; run 'sovereign log verify'")
        }

        // The active segment.
        let segmentName: String, segment: FileDescriptor, segmentBytes: Int64
        do {
            if let last = segments.last {
                segmentName = last.name
                (segment, segmentBytes) = try LogFileCalls.openForAppend(last.name, in: entries)
            } else {
                segmentName = LogLayout.segmentName(firstIndex: 0)
                segment = try entries.createFile(Array(segmentName.utf8), mode: 0o640)
                segmentBytes = 0
                try entries.sync()
                segments = [Segment(name: segmentName, firstIndex: 0)]
            }
        } catch { throw LogError.from(error) }

        let state = WriterState(frontier: frontier, segment: segment, segmentName: segmentName, segmentBytes: segmentBytes,
                                history: nil, historyBytes: resume.historyBytes, latestCheckpoint: resume.checkpoint,
                                poisoned: nil, crashCountdown: options.crash?.skip ?? 0, lock: lock)
        let pending = try pendingFragments(in: torn)
        let log = AuditLog(path: path, key: key, options: options, directory: directory, entries: entries, torn: torn,
                           state: state, recovery: nil)
        guard !pending.isEmpty else {
            try log.catchUpCheckpoint()
            return log
        }
        log.recovery = try log.recordRecovery(pending)
        try log.catchUpCheckpoint()
        return log
    }

    private struct Resume {
        var frontier: MerkleFrontier
        var checkpoint: SignedCheckpoint?
        var historyBytes: Int64
    }

    /// Reads checkpoints.jsonl: its last record, checked against the key;
    /// a torn last record is saved and cut off.
    private static func readHistory(in directory: borrowing DirectoryHandle, torn: borrowing DirectoryHandle,
                                     key: ApplianceKey) throws(LogError) -> Resume {
        let name = LogLayout.checkpointHistory
        let source = "\(directory.path)/\(name)"
        var last: (bytes: [UInt8], number: Int)?
        var fragment: (bytes: [UInt8], offset: Int64)?
        var length: Int64 = 0
        let file: FileDescriptor, size: Int64
        do { (file, size) = try directory.openRegularFile(Array(name.utf8)) } catch { throw LogError.from(error) }
        defer { file.closeIgnoringErrors() }
        // Only the tail matters (the last record, a torn one after it): the
        // history grows by a record per checkpoint and is never read whole here.
        // The first item of a tail window may be the end of a longer line: skipped.
        let window = Int64(2 * LogLayout.maxCheckpointLineBytes + 2)
        let start = max(0, size - window)
        do { try LogFileCalls.seek(file, to: start) } catch { throw LogError.from(error) }
        var reader = LineReader(file: file, size: size, maxLine: LogLayout.maxCheckpointLineBytes, start: start)
        var number = 0
        var skipFirst = start > 0
        while true {
            let item: LineReader.Item?
            do { item = try reader.next() } catch { throw LogError.from(error) }
            guard let item else { break }
            number += 1
            if skipFirst {
                skipFirst = false
                if case .line(let bytes, let offset) = item { length = offset + Int64(bytes.count) + 1 }
                continue
            }
            switch item {
            case .line(let bytes, let offset):
                last = (bytes, number)
                length = offset + Int64(bytes.count) + 1
            case .fragment(let bytes, let offset):
                fragment = (bytes, offset)
            case .overlong(let offset, _, _):
                throw LogError(source, "a line of more than \(LogLayout.maxCheckpointLineBytes) bytes at offset \(offset)")
            }
        }
        if let fragment {
            try saveTorn(fragment.bytes, from: name, offset: fragment.offset, in: torn)
            try cut(name, in: directory, to: fragment.offset)
        }
        guard let last else { return Resume(frontier: MerkleFrontier(), checkpoint: nil, historyBytes: length) }
        let location = start == 0 ? "\(source):\(last.number)" : "\(source) (its last record)"
        let record = try CheckpointRecord(parsing: last.bytes, source: location)
        let signed = try SignedCheckpoint.open(record.note.bytes, source: location, trusting: key.verifierKey)
        guard let frontier = MerkleFrontier(size: signed.checkpoint.size, hashes: record.frontier),
              frontier.root == signed.checkpoint.root else {
            throw LogError(location, "the saved right edge of the tree does not give the signed root")
        }
        return Resume(frontier: frontier, checkpoint: signed, historyBytes: length)
    }

    /// Keeps torn bytes as `torn/pending-<file>@<offset>.<hash>`, durably, before they are cut off.
    private static func saveTorn(_ bytes: [UInt8], from file: String, offset: Int64, in torn: borrowing DirectoryHandle) throws(LogError) {
        let base = FileSystem.baseName(file)
        let name = "\(LogLayout.pendingPrefix)\(base)@\(offset).\(SHA256.hash(bytes).hex.prefix(16))"
        if try ApplianceKey.exists(Array(name.utf8), in: torn) {
            // Saved by an earlier open that crashed before cutting: the same bytes.
            return
        }
        try ApplianceKey.write(bytes, to: Array(name.utf8), in: torn, mode: 0o640)
        do { try torn.sync() } catch { throw LogError.from(error) }
    }

    /// Truncates `name` to `length` bytes, durably.
    private static func cut(_ name: String, in directory: borrowing DirectoryHandle, to length: Int64) throws(LogError) {
        do {
            let (file, _) = try LogFileCalls.openForAppend(name, in: directory)
            defer { file.closeIgnoringErrors() }
            try LogFileCalls.truncate(file, to: length)
            try file.sync()
        } catch { throw LogError.from(error) }
    }

    /// Torn bytes saved but not yet recorded by a recovery entry.
    private static func pendingFragments(in torn: borrowing DirectoryHandle) throws(LogError) -> [String] {
        let names: [[UInt8]]
        do { names = try torn.entries() } catch { throw LogError.from(error) }
        return names.map { String(decoding: $0, as: UTF8.self) }.filter { $0.hasPrefix(LogLayout.pendingPrefix) }
    }

    /// Appends the recovery entry naming the pending fragments, then drops
    /// their `pending-` prefix. A crash in between records them again.
    private func recordRecovery(_ pending: [String]) throws(LogError) -> LogRecovery {
        var fragments: [TornFragment] = []
        for name in pending {
            let bytes = try ApplianceKey.read(Array(name.utf8), in: torn, limit: LogLayout.maxLineBytes + LogLayout.maxCheckpointLineBytes)
            // <file>@<offset>.<hash16>, as saveTorn names it.
            let kept = String(name.dropFirst(LogLayout.pendingPrefix.count))
            let parts = kept.split(separator: "@")
            let file = parts.dropLast().joined(separator: "@")
            let offset = parts.last.flatMap { Int64($0.prefix { $0 != "." }) } ?? -1
            fragments.append(TornFragment(file: file == LogLayout.checkpointHistory ? file : "\(LogLayout.entriesDirectory)/\(file)",
                                          offset: offset, length: Int64(bytes.count), sha256: SHA256.hash(bytes),
                                          savedAs: "\(LogLayout.tornDirectory)/\(kept)"))
        }
        let index = try state.withLock { (state: inout WriterState) throws(LogError) -> UInt64 in
            try crashPoint(.midRecovery, state: &state)
            let entry = LogEntry(index: state.frontier.size, time: options.clock(), kind: .recovery,
                                 metadata: ["torn": .array(fragments.map(\.json))], contentDigest: nil)
            return try write(entry, content: nil, salt: nil, state: &state)
        }
        for name in pending {
            let kept = String(name.dropFirst(LogLayout.pendingPrefix.count))
            do {
                if try torn.status(Array(kept.utf8)) != nil { try torn.remove(Array(name.utf8)) } else {
                    try torn.rename(Array(name.utf8), to: Array(kept.utf8))
                }
            } catch { throw LogError.from(error) }
        }
        do { try torn.sync() } catch { throw LogError.from(error) }
        return LogRecovery(entryIndex: index, fragments: fragments)
    }

    /// After a crash: a checkpoint covering every entry, and `checkpoint`
    /// matching the last record (a crash may have come between the two).
    private func catchUpCheckpoint() throws(LogError) {
        try state.withLock { (state: inout WriterState) throws(LogError) in
            if state.latestCheckpoint?.checkpoint.size != state.frontier.size {
                _ = try writeCheckpoint(state: &state)
                return
            }
            guard let latest = state.latestCheckpoint else { return }
            let current = try LogSegments.readSmallFile(LogLayout.checkpointFile, in: directory, limit: SignedNote.maxBytes)
            if current != latest.bytes { try replaceLatestCheckpoint(latest.bytes) }
        }
    }
}
