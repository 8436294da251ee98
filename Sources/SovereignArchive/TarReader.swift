internal import CArchive
import Glibc

/// Reads tar archives entry by entry through libarchive, never touching the
/// file system: each regular file's bytes are handed to the caller, who
/// decides what to keep. Only regular files and directories are accepted;
/// anything else (links, devices, FIFOs) is an error.
public struct TarReader {
    public struct Entry {
        public let path: String
        public let size: Int64
        public let isDirectory: Bool
    }

    /// Calls `visit` for each entry of the archive at `path`. `read(limit)`
    /// returns the entry's bytes if it is at most `limit` bytes (nil otherwise).
    public static func forEachEntry(
        inFile path: String,
        _ visit: (Entry, _ read: (Int) throws(ArchiveError) -> [UInt8]?) throws(ArchiveError) -> Void
    ) throws(ArchiveError) {
        try withReader(label: path, open: { archive_read_open_filename($0, path, 1 << 20) }, visit)
    }

    /// The same over bytes in memory (a layer blob already read).
    public static func forEachEntry(
        in bytes: [UInt8], label: String,
        _ visit: (Entry, _ read: (Int) throws(ArchiveError) -> [UInt8]?) throws(ArchiveError) -> Void
    ) throws(ArchiveError) {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(ArchiveError) in
                try withReader(label: label, open: { archive_read_open_memory($0, raw.baseAddress, raw.count) }, visit)
            }
        }.get()
    }

    private static func withReader(
        label: String, open: (OpaquePointer) -> Int32,
        _ visit: (Entry, _ read: (Int) throws(ArchiveError) -> [UInt8]?) throws(ArchiveError) -> Void
    ) throws(ArchiveError) {
        guard let archive = archive_read_new() else { throw ArchiveError(path: label, reason: "libarchive: out of memory") }
        defer { archive_read_free(archive) }
        archive_read_support_format_tar(archive)
        guard open(archive) == ARCHIVE_OK else { throw ArchiveError(path: label, reason: message(archive)) }
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw ArchiveError(path: label, reason: message(archive))
            }
            let name = archive_entry_pathname_utf8(entry).map { String(cString: $0) } ?? ""
            let type = archive_entry_filetype(entry) & 0o170000
            guard type == 0o100000 || type == 0o040000 else {
                throw ArchiveError(path: "\(label): \(name)", reason: "is not a regular file or directory")
            }
            let size = archive_entry_size(entry)
            var consumed = false
            try visit(Entry(path: name, size: size, isDirectory: type == 0o040000)) { (limit) throws(ArchiveError) -> [UInt8]? in
                guard !consumed, size <= Int64(limit) else { return nil }
                consumed = true
                var bytes = [UInt8](repeating: 0, count: Int(size))
                var filled = 0
                while filled < bytes.count {
                    let n = bytes.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress! + filled, $0.count - filled) }
                    guard n > 0 else { throw ArchiveError(path: "\(label): \(name)", reason: n == 0 ? "truncated" : message(archive)) }
                    filled += n
                }
                return bytes
            }
        }
    }

    private static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error \(archive_errno(archive))"
    }
}
