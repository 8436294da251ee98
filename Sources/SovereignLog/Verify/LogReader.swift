import SovereignSystem
import SovereignCrypto

/// Read-only access to a log directory: its key, checkpoints and lines.
/// Takes no lock: it never writes.
public enum LogReader {
    /// One line of a segment, where it is and what it holds.
    struct ScannedLine {
        let segmentPosition: Int
        let segment: Segment
        let number: Int
        let item: LineReader.Item
        var location: String
    }

    /// The verifier key in `<log>/appliance.pub`.
    public static func publishedKey(directory: String) throws(LogError) -> NoteVerifierKey {
        try ApplianceKey.readVerifierKey(path: directory + "/" + ApplianceKey.publicFileName)
    }

    /// Calls `body` with every line of every segment from `start` (segment
    /// position, line number) on, until it returns false.
    static func scan(_ entries: borrowing DirectoryHandle, _ segments: [Segment], path: String,
                     from start: (segment: Int, line: Int) = (0, 1),
                     _ body: (ScannedLine) throws(LogError) -> Bool) throws(LogError) {
        var stop = false
        for (position, segment) in segments.enumerated() where position >= start.segment && !stop {
            try LogSegments.readLines(of: segment, in: entries) { (number, item) throws(LogError) -> Bool in
                if position == start.segment && number < start.line { return true }
                let line = ScannedLine(segmentPosition: position, segment: segment, number: number, item: item,
                                       location: "\(path)/\(LogLayout.entriesDirectory)/\(segment.name):\(number)")
                stop = try !body(line)
                return !stop
            }
        }
    }

    /// The line holding entry `index`, found by position (the segment named
    /// for the largest first index not above it, then counting lines), and
    /// checked to claim that index.
    public static func record(at index: UInt64, directory: String) throws(LogError) -> (record: LogRecord, location: String) {
        let entries: DirectoryHandle
        do { entries = try DirectoryHandle.open(directory + "/" + LogLayout.entriesDirectory) } catch { throw LogError.from(error) }
        let segments = try LogSegments.list(entries).segments
        guard let position = segments.lastIndex(where: { $0.firstIndex <= index }) else {
            throw LogError(directory, "has no entry \(index)")
        }
        let segment = segments[position]
        var found: (LogRecord, String)?
        var failure: LogError?
        try LogSegments.readLines(of: segment, in: entries) { (number, item) throws(LogError) -> Bool in
            guard segment.firstIndex + UInt64(number - 1) == index else { return true }
            let location = "\(directory)/\(LogLayout.entriesDirectory)/\(segment.name):\(number)"
            guard case .line(let bytes, _) = item else {
                failure = LogError(location, "entry \(index) is not a complete line")
                return false
            }
            let record = try LogRecord(parsing: bytes, source: location)
            guard record.entry.index == index else {
                failure = LogError(location, "holds entry \(record.entry.index) where entry \(index) belongs")
                return false
            }
            found = (record, location)
            return false
        }
        if let failure { throw failure }
        guard let found else { throw LogError(directory, "has no entry \(index)") }
        return found
    }

    /// The lines of entries `range`, parsed; lines that do not parse are
    /// returned as errors, so a damaged log can still be looked at.
    public static func records(_ range: Range<UInt64>, directory: String) throws(LogError) -> [(location: String, record: Result<LogRecord, LogError>)] {
        let entries: DirectoryHandle
        do { entries = try DirectoryHandle.open(directory + "/" + LogLayout.entriesDirectory) } catch { throw LogError.from(error) }
        let segments = try LogSegments.list(entries).segments
        let first = segments.lastIndex(where: { $0.firstIndex <= range.lowerBound }) ?? 0
        var result: [(String, Result<LogRecord, LogError>)] = []
        try scan(entries, segments, path: directory, from: (first, 1)) { (line) throws(LogError) -> Bool in
            let index = line.segment.firstIndex + UInt64(line.number - 1)
            guard index < range.upperBound else { return false }
            guard index >= range.lowerBound else { return true }
            switch line.item {
            case .line(let bytes, _):
                result.append((line.location, Result { () throws(LogError) in try LogRecord(parsing: bytes, source: line.location) }))
            case .fragment(let bytes, _):
                result.append((line.location, .failure(LogError(line.location, "an incomplete last line (\(bytes.count) bytes, no newline)"))))
            case .overlong(_, let length, _):
                result.append((line.location, .failure(LogError(line.location, "a line of \(length) bytes, more than a log line may hold"))))
            }
            return true
        }
        return result
    }

    /// How many lines the segments hold (complete or not), counted without parsing.
    public static func lineCount(directory: String) throws(LogError) -> UInt64 {
        let entries: DirectoryHandle
        do { entries = try DirectoryHandle.open(directory + "/" + LogLayout.entriesDirectory) } catch { throw LogError.from(error) }
        let segments = try LogSegments.list(entries).segments
        guard let last = segments.last else { return 0 }
        var count: UInt64 = 0
        try LogSegments.readLines(of: last, in: entries) { (_, _) throws(LogError) -> Bool in
            count += 1
            return true
        }
        return last.firstIndex + count
    }
}
