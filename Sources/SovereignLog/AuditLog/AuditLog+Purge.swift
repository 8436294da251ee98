import Glibc
import Synchronization
import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// What `purge` did.
public struct LogPurge: Sendable, Equatable {
    /// Records whose content and salt were deleted.
    public let purgedEntries: Int
    /// The `purge` entry recording it (nil when there was nothing to purge).
    public let purgeEntry: UInt64?
    /// Torn fragments (from crashed appends) deleted from `torn/`.
    public let removedFragments: Int
}

extension AuditLog {
    /// Deletes the content and salt of every record older than `cutoff`
    /// (Unix seconds), and the torn fragments recovered before it. The
    /// entries, their leaves, roots, signatures and every checkpoint and
    /// proof stay valid: leaves commit to salted digests, not to content.
    ///
    /// A `purge` entry is appended first (durable), then each affected
    /// segment is rewritten beside itself, fsynced and renamed over the old
    /// one; each purged line names that entry in `purgedBy`. A crash in
    /// between leaves every segment whole, old or new; running purge again
    /// finishes the job under a second purge entry.
    ///
    /// The file system frees the old blocks; it does not overwrite them.
    /// Keep the log on encrypted storage if erased data must be
    /// unrecoverable from the disk itself (docs/log.md).
    public func purge(before cutoff: Int64) throws(LogError) -> LogPurge {
        try state.withLock { (state: inout WriterState) throws(LogError) -> LogPurge in
            try checkWritable(state)
            let (segments, _) = try LogSegments.list(entries)
            var affected: [String: Set<UInt64>] = [:]
            var count = 0
            var fragments: [String] = []
            for segment in segments {
                try LogSegments.readLines(of: segment, in: entries) { (number, item) throws(LogError) -> Bool in
                    let location = "\(path)/\(LogLayout.entriesDirectory)/\(segment.name):\(number)"
                    guard case .line(let bytes, _) = item else {
                        throw LogError(location, "not a complete log line; run 'sovereign log verify' before purging")
                    }
                    let record = try LogRecord(parsing: bytes, source: location)
                    guard record.entry.time < cutoff else { return true }
                    if record.content != nil {
                        affected[segment.name, default: []].insert(record.entry.index)
                        count += 1
                    }
                    if record.entry.kind == .recovery, case .array(let torn)? = record.entry.metadata["torn"] {
                        fragments += torn.compactMap { TornFragment($0)?.savedAs }
                    }
                    return true
                }
            }
            var present: [String] = []
            for name in fragments where try ApplianceKey.exists(Array(FileSystem.baseName(name).utf8), in: torn) {
                present.append(name)
            }
            guard count > 0 || !present.isEmpty else { return LogPurge(purgedEntries: 0, purgeEntry: nil, removedFragments: 0) }

            let entry = LogEntry(index: state.frontier.size, time: options.clock(), kind: .purge,
                                 metadata: ["before": .string(Timestamp.format(cutoff)), "entries": .integer(Int64(count)),
                                            "fragments": .integer(Int64(present.count))],
                                 contentDigest: nil)
            let purgeIndex = try write(entry, content: nil, salt: nil, state: &state)
            try crashPoint(.midPurge, state: &state)
            for segment in segments where affected[segment.name] != nil {
                try rewrite(segment, purging: affected[segment.name] ?? [], by: purgeIndex, state: &state)
            }
            do {
                try entries.sync()
                for name in present { try torn.remove(Array(FileSystem.baseName(name).utf8)) }
                try torn.sync()
            } catch { throw LogError.from(error) }
            return LogPurge(purgedEntries: count, purgeEntry: purgeIndex, removedFragments: present.count)
        }
    }

    /// Rewrites one segment without the content of `indices`.
    private func rewrite(_ segment: Segment, purging indices: Set<UInt64>, by purgeIndex: UInt64,
                         state: inout WriterState) throws(LogError) {
        var bytes: [UInt8] = []
        try LogSegments.readLines(of: segment, in: entries) { (number, item) throws(LogError) -> Bool in
            let location = "\(path)/\(LogLayout.entriesDirectory)/\(segment.name):\(number)"
            guard case .line(let line, _) = item else { throw LogError(location, "not a complete log line") }
            if indices.contains(segment.firstIndex + UInt64(number - 1)) {
                bytes += try LogRecord(parsing: line, source: location).purged(by: purgeIndex).lineBytes
            } else {
                bytes += line + [0x0A]
            }
            return true
        }
        let temporary = segment.name + LogLayout.purgeSuffix
        let isActive = segment.name == state.segmentName
        do {
            if try entries.status(Array(temporary.utf8)) != nil { try entries.remove(Array(temporary.utf8)) }
        } catch { throw LogError.from(error) }
        try ApplianceKey.write(bytes, to: Array(temporary.utf8), in: entries, mode: 0o640)
        do {
            try LogFileCalls.replace(segment.name, with: temporary, in: entries)
        } catch { throw LogError.from(error) }
        guard isActive else { return }
        // The writer's descriptor still points at the old file: follow the new
        // one, or stop writing (appends to the old inode would be lost).
        do {
            let (file, size) = try LogFileCalls.openForAppend(segment.name, in: entries)
            state.segment.closeIgnoringErrors()
            state.segment = file
            state.segmentBytes = size
        } catch {
            state.poisoned = "the rewritten segment \(segment.name) could not be reopened (\(error.reason))"
            throw LogError.from(error)
        }
    }
}
