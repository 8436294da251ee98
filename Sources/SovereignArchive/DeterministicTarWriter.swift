internal import CArchive
import Glibc
import SovereignSystem
import SovereignCrypto

/// Writes tar archives whose bytes depend only on the entries given:
/// POSIX pax-restricted format (plain ustar headers unless a name or size
/// needs a pax record), one fixed mtime, uid/gid 0, no user or group names,
/// modes 0644/0755, no atime/ctime, no padding to a record size. Callers add
/// entries in sorted order; the writer refuses anything else, so an
/// unsorted caller is caught in tests rather than shipping a different image.
///
/// What it writes defines the one tar profile a layer may be in
/// (`TarProfile`, enforced by `SafeTarExtractor`): change its libarchive
/// configuration and the profile must change with it (the
/// `TarProfileValidatorTests` compare its bytes with the profile's).
///
/// Bytes go to `sink` as they are produced, and are SHA-256 hashed on the
/// way, so a layer is written and digested in one pass.
public final class DeterministicTarWriter {
    /// Receives the archive bytes in order.
    public typealias Sink = (UnsafeRawBufferPointer) throws(ArchiveError) -> Void

    private let archive: OpaquePointer
    private let output: TarOutput
    private let outputReference: Unmanaged<TarOutput>
    private let mtime: Int64
    private let label: String
    private var lastPath: String?
    private let requiresSortedPaths: Bool
    private var seenPaths: Set<String> = []
    private var finished = false

    /// - Parameters:
    ///   - label: names the archive in errors (e.g. the layer).
    ///   - mtime: every entry's modification time (SOURCE_DATE_EPOCH).
    ///   - requiresSortedPaths: refuse entries out of byte order (the default);
    ///     pass false for a caller that fixes its own deterministic order (an
    ///     OCI archive lists its index before its blobs), and duplicates are
    ///     still refused.
    public init(label: String, mtime: Int64, requiresSortedPaths: Bool = true, sink: @escaping Sink) throws(ArchiveError) {
        self.requiresSortedPaths = requiresSortedPaths
        guard let archive = archive_write_new() else { throw ArchiveError(path: label, reason: "libarchive: out of memory") }
        self.archive = archive
        self.label = label
        self.mtime = mtime
        output = TarOutput(sink: sink)
        outputReference = Unmanaged.passRetained(output)
        // Write straight through (no 10 KiB blocking, no end padding): the
        // archive ends with tar's two zero blocks and nothing else.
        guard archive_write_set_format_pax_restricted(archive) == ARCHIVE_OK,
              archive_write_set_bytes_per_block(archive, 0) == ARCHIVE_OK,
              archive_write_set_bytes_in_last_block(archive, 1) == ARCHIVE_OK,
              archive_write_open(archive, outputReference.toOpaque(), nil, tarWriterCallback, nil) == ARCHIVE_OK else {
            let reason = Self.message(archive)
            archive_write_free(archive)
            outputReference.release()
            throw ArchiveError(path: label, reason: reason)
        }
    }

    deinit {
        archive_write_free(archive)
        outputReference.release()
    }

    /// Bytes written so far.
    public var byteCount: Int64 { output.count }

    /// Adds a directory entry (mode 0755).
    public func addDirectory(_ path: String) throws(ArchiveError) {
        let name = path.hasSuffix("/") ? path : path + "/"
        try writeHeader(path: name, type: 0o040000, mode: 0o755, size: 0)
        try finishEntry(name)
    }

    /// Adds a regular file whose contents `fill` supplies through `write`,
    /// exactly `size` bytes. Mode is 0755 if `executable`, else 0644.
    public func addFile(
        _ path: String, size: Int64, executable: Bool = false,
        contents fill: (_ write: (UnsafeRawBufferPointer) throws(ArchiveError) -> Void) throws(ArchiveError) -> Void
    ) throws(ArchiveError) {
        try writeHeader(path: path, type: 0o100000, mode: executable ? 0o755 : 0o644, size: size)
        var written: Int64 = 0
        try fill { (chunk) throws(ArchiveError) in
            guard written + Int64(chunk.count) <= size else {
                throw ArchiveError(path: "\(label): \(path)", reason: "input grew past its declared \(size) bytes while archiving")
            }
            var offset = 0
            while offset < chunk.count {
                let n = archive_write_data(archive, chunk.baseAddress! + offset, chunk.count - offset)
                guard n > 0 else { throw failure(path) }
                offset += n
            }
            written += Int64(chunk.count)
        }
        guard written == size else {
            throw ArchiveError(path: "\(label): \(path)", reason: "input has \(written) bytes, \(size) were declared (changed while archiving?)")
        }
        try finishEntry(path)
    }

    /// Adds a regular file from memory.
    public func addFile(_ path: String, bytes: [UInt8], executable: Bool = false) throws(ArchiveError) {
        try addFile(path, size: Int64(bytes.count), executable: executable) { (write) throws(ArchiveError) in
            try bytes.withUnsafeBytes { raw in Result { () throws(ArchiveError) in try write(raw) } }.get()
        }
    }

    /// Writes the end-of-archive blocks; returns the archive's digest and size.
    public func finish() throws(ArchiveError) -> (digest: SHA256Digest, size: Int64) {
        precondition(!finished, "finish() called twice")
        finished = true
        guard archive_write_close(archive) == ARCHIVE_OK else { throw failure(nil) }
        if let error = output.error { throw error }
        return (output.hasher.finalize(), output.count)
    }

    // MARK: - Internals

    /// `type` is the st_mode file-type bits (0o100000 regular, 0o040000 directory).
    private func writeHeader(path: String, type: Int32, mode: UInt32, size: Int64) throws(ArchiveError) {
        precondition(!finished, "entry added after finish()")
        if requiresSortedPaths {
            if let last = lastPath, !(last.utf8.lexicographicallyPrecedes(path.utf8)) {
                throw ArchiveError(path: "\(label): \(path)", reason: "entries must be added in strictly increasing path order (after '\(last)')")
            }
            lastPath = path
        } else if !seenPaths.insert(path).inserted {
            throw ArchiveError(path: "\(label): \(path)", reason: "is added twice")
        }
        guard let entry = archive_entry_new() else { throw ArchiveError(path: label, reason: "libarchive: out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, path)
        archive_entry_set_filetype(entry, UInt32(type))
        archive_entry_set_perm(entry, mode_t(mode))
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, time_t(mtime), 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else { throw failure(path) }
    }

    private func finishEntry(_ path: String) throws(ArchiveError) {
        guard archive_write_finish_entry(archive) == ARCHIVE_OK else { throw failure(path) }
    }

    private func failure(_ path: String?) -> ArchiveError {
        if let error = output.error { return error }
        let where_ = path.map { "\(label): \($0)" } ?? label
        return ArchiveError(path: where_, reason: Self.message(archive))
    }

    private static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error \(archive_errno(archive))"
    }
}

/// Where a writer's bytes go: the sink, a running digest and count, and
/// the first error (C callbacks cannot throw, so it waits here).
private final class TarOutput {
    let sink: DeterministicTarWriter.Sink
    var hasher = SHA256()
    var count: Int64 = 0
    var error: ArchiveError?
    init(sink: @escaping DeterministicTarWriter.Sink) { self.sink = sink }

    func deliver(_ buffer: UnsafeRawBufferPointer) -> Int {
        guard error == nil else { return -1 }
        do {
            try sink(buffer)
        } catch {
            self.error = error
            return -1
        }
        hasher.update(buffer)
        count += Int64(buffer.count)
        return buffer.count
    }
}

/// libarchive's write callback: a C function, so it finds the writer's
/// output through the client-data pointer.
private func tarWriterCallback(
    _ archive: OpaquePointer?, _ clientData: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ length: Int
) -> la_ssize_t {
    guard let clientData else { return -1 }
    let output = Unmanaged<TarOutput>.fromOpaque(clientData).takeUnretainedValue()
    return la_ssize_t(output.deliver(UnsafeRawBufferPointer(start: buffer, count: length)))
}
