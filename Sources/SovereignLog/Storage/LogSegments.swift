import Glibc
import SovereignSystem

/// A segment file of `entries/`.
struct Segment: Sendable, Equatable {
    let name: String
    let firstIndex: UInt64
}

/// Listing and reading the segments, in order, line by line.
enum LogSegments {
    /// The segments sorted by first index, and any other names found there.
    static func list(_ entries: borrowing DirectoryHandle) throws(LogError) -> (segments: [Segment], others: [String]) {
        let names: [[UInt8]]
        do { names = try entries.entries() } catch { throw LogError.from(error) }
        var segments: [Segment] = []
        var others: [String] = []
        for name in names {
            if let first = LogLayout.firstIndex(ofSegment: name) {
                segments.append(Segment(name: String(decoding: name, as: UTF8.self), firstIndex: first))
            } else {
                others.append(String(decoding: name, as: UTF8.self))
            }
        }
        return (segments.sorted { $0.firstIndex < $1.firstIndex }, others)
    }

    /// Calls `body` with every item of `segment` and its 1-based line
    /// number, until it returns false. Reads what the file held when opened.
    static func readLines(of segment: Segment, in entries: borrowing DirectoryHandle, maxLine: Int = LogLayout.maxLineBytes,
                          _ body: (Int, LineReader.Item) throws(LogError) -> Bool) throws(LogError) {
        let file: FileDescriptor, size: Int64
        do { (file, size) = try entries.openRegularFile(Array(segment.name.utf8)) } catch { throw LogError.from(error) }
        defer { file.closeIgnoringErrors() }
        file.adviseSequential()
        var reader = LineReader(file: file, size: size, maxLine: maxLine)
        var number = 0
        while true {
            let item: LineReader.Item?
            do { item = try reader.next() } catch { throw LogError.from(error) }
            guard let item else { return }
            number += 1
            guard try body(number, item) else { return }
        }
    }

    /// A whole small file below `directory`, or nil when it is absent.
    static func readSmallFile(_ name: String, in directory: borrowing DirectoryHandle, limit: Int) throws(LogError) -> [UInt8]? {
        guard try ApplianceKey.exists(Array(name.utf8), in: directory) else { return nil }
        return try ApplianceKey.read(Array(name.utf8), in: directory, limit: limit)
    }

    /// Opens `name` below `parent`, making it (with `mode`) when absent.
    static func openOrMakeDirectory(_ name: String, in parent: borrowing DirectoryHandle, mode: mode_t = 0o750) throws(LogError) -> DirectoryHandle {
        do {
            try parent.makeDirectory(Array(name.utf8), mode: mode)
            return try parent.openDirectory(Array(name.utf8))
        } catch {
            throw LogError.from(error)
        }
    }
}
