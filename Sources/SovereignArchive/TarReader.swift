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
        /// The name as stored, undecoded (for byte-level checks).
        public var rawPath: [UInt8] = []
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
            try visit(Entry(path: name, size: size, isDirectory: type == 0o040000, rawPath: rawName(entry))) { (limit) throws(ArchiveError) -> [UInt8]? in
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

    /// An entry's bytes, read in chunks as they come (for blobs too large to hold).
    public struct Chunks {
        fileprivate let archive: OpaquePointer
        fileprivate let label: String
        /// The entry's size from its header.
        public let size: Int64

        /// Reads the next bytes of the entry into `buffer`; 0 at its end.
        public func read(_ buffer: UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int {
            let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
            guard n >= 0 else { throw ArchiveError(path: label, reason: TarReader.message(archive)) }
            return n
        }

        /// Calls `body` with each chunk; returns the bytes read. Fails if
        /// the archive holds fewer bytes than the entry's header says.
        public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) throws(ArchiveError) -> Int64 {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
            defer { buffer.deallocate() }
            var total: Int64 = 0
            while true {
                let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
                if n == 0 { break }
                guard n > 0 else { throw ArchiveError(path: label, reason: TarReader.message(archive)) }
                body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                total += Int64(n)
            }
            guard total == size else { throw ArchiveError(path: label, reason: "truncated: \(total) of \(size) bytes") }
            return total
        }

        /// All the bytes, if the entry is at most `limit` bytes.
        public func collect(limit: Int) throws(ArchiveError) -> [UInt8] {
            guard size <= Int64(limit) else { throw ArchiveError(path: label, reason: "is \(size) bytes, more than the \(limit) allowed") }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(size))
            _ = try forEach { bytes.append(contentsOf: $0) }
            return bytes
        }
    }

    /// Calls `visit` for each entry with a chunked reader of its bytes.
    public static func forEachEntryStreaming(
        inFile path: String, _ visit: (Entry, Chunks) throws(ArchiveError) -> Void
    ) throws(ArchiveError) {
        guard let archive = archive_read_new() else { throw ArchiveError(path: path, reason: "libarchive: out of memory") }
        defer { archive_read_free(archive) }
        archive_read_support_format_tar(archive)
        guard archive_read_open_filename(archive, path, 1 << 20) == ARCHIVE_OK else { throw ArchiveError(path: path, reason: message(archive)) }
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else { throw ArchiveError(path: path, reason: message(archive)) }
            let name = archive_entry_pathname_utf8(entry).map { String(cString: $0) } ?? ""
            let type = archive_entry_filetype(entry) & 0o170000
            guard type == 0o100000 || type == 0o040000 else {
                throw ArchiveError(path: "\(path): \(name)", reason: "is not a regular file or directory")
            }
            let size = archive_entry_size(entry)
            try visit(Entry(path: name, size: size, isDirectory: type == 0o040000, rawPath: rawName(entry)),
                      Chunks(archive: archive, label: "\(path): \(name)", size: size))
        }
    }

    /// The entry's name as stored, undecoded (libarchive's multibyte form, else UTF-8).
    private static func rawName(_ entry: OpaquePointer) -> [UInt8] {
        (archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry))
            .map { Array(UnsafeBufferPointer(start: $0, count: strlen($0)).map { UInt8(bitPattern: $0) }) } ?? []
    }

    fileprivate static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error \(archive_errno(archive))"
    }
}
