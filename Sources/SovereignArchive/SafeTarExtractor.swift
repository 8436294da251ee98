internal import CArchive
import Glibc
import SovereignSystem
import SovereignCrypto

/// One file of a signed image tree: where it goes, how big it is, its digest.
public struct SignedFile: Sendable, Equatable {
    /// Relative to the extraction root, e.g. "sovereign/model/x.gguf".
    public let path: String
    public let size: Int64
    public let sha256: SHA256Digest

    public init(path: String, size: Int64, sha256: SHA256Digest) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }

    /// The path's bytes: what the extractor parses and compares.
    public var pathBytes: [UInt8] { Array(path.utf8) }
}

/// Unpacks uncompressed tar layers into a fresh directory, trusting no
/// byte of them, so that afterwards the directory holds exactly the signed
/// file list: every listed file once, with its signed size and SHA-256, in
/// directories that signed files need, and nothing else. Or, made with
/// `init(checkingOnly:)`, applies every one of the same checks and writes
/// nothing: that is how `verify` accepts exactly the layers `install` does.
///
/// Refused, with the layer, the entry and the reason: names outside
/// `SafeTarPath`'s rules (absolute, `..`, `.`, empty components, anything
/// outside the portable character set, too deep or too long), compared as
/// bytes; symlinks, hard links, devices, FIFOs, sockets, sparse files;
/// setuid, setgid and sticky bits; a file twice (within or across layers);
/// a file the list does not have, or with another size (checked at its
/// header, before a byte of it is read, so a header claiming terabytes
/// stops at once) or another digest; a directory where the list has a
/// file, a file where it needs a directory, a directory no signed file is
/// under; a layer that does not end exactly with its two end-of-archive
/// blocks (nothing may hide after them).
///
/// A layer must also be in the one tar profile every reader reads alike
/// (`TarProfile`: what `DeterministicTarWriter` writes): its raw bytes are
/// held to it block by block before libarchive sees them, so a pax global
/// header, a GNU long name, an extended attribute, a pax `path` that its
/// ustar name contradicts or that hides a NUL, cannot make libarchive
/// extract one thing while GNU tar or Python's tarfile shows an auditor
/// another. And every entry libarchive reports must be, byte for byte in
/// name, and in type, size and mode, the next entry that strict reading
/// found; any disagreement is a refusal naming the entry.
///
/// Writing never leaves the root: every directory is made with `mkdirat`
/// and opened relative to its parent's descriptor (openat2 with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` where the kernel has it, else
/// `O_NOFOLLOW`), every file created with `O_CREAT | O_EXCL | O_NOFOLLOW`,
/// modes set with `fchmod` (0644, or 0755 if the entry had any execute
/// bit; directories 0755), never through a path, so even a symlink
/// planted in the root by a race is not followed. Each name reaches the
/// system call as one checked component of bytes (`DirectoryHandle`).
///
/// On any error the extractor stops and refuses further calls. It does
/// not clean up: `root` must be a fresh, empty directory of the caller's
/// (an installer's `R/store/.partial-*`), which the caller removes on
/// failure and renames into place only after `finish()` succeeds. A file
/// that fails part-way (short, damaged, wrong digest) is unlinked before
/// the error is thrown, so no unchecked bytes sit under a signed name.
public final class SafeTarExtractor {
    private let root: String
    /// The extraction root; nil when only checking.
    private let rootDirectory: OpenDirectory?
    /// The signed list, in the caller's order, and by path.
    private let expected: [(path: SafeTarPath, file: SignedFile)]
    private let signed: [SafeTarPath: SignedFile]
    /// Every ancestor directory of a signed file: the only directories allowed.
    private let neededDirectories: Set<SafeTarPath>
    /// Files written (or checked) so far, with the layer each came from.
    private var extracted: [SafeTarPath: String] = [:]
    /// Directories this extractor made, in order (parents first).
    private var createdDirectories: [SafeTarPath] = []
    /// The first error; once set, every call fails.
    private var failure: ArchiveError?
    private var finished = false

    /// - Parameters:
    ///   - root: an existing, empty directory (a fresh `.partial-*`, removed by the caller on failure).
    ///   - expected: the signed file list, paths relative to `root`.
    public convenience init(root: String, expected: [SignedFile]) throws(ArchiveError) {
        let directory: DirectoryHandle
        do { directory = try DirectoryHandle.open(root) } catch { throw ArchiveError(error) }
        let isEmpty: Bool
        do { isEmpty = try directory.entries().isEmpty } catch { throw ArchiveError(error) }
        guard isEmpty else { throw ArchiveError(path: root, reason: "is not empty; extraction needs a fresh directory") }
        try self.init(root: root, directory: OpenDirectory(directory), expected: expected)
    }

    /// An extractor that writes nothing and checks everything it would.
    public convenience init(checkingOnly expected: [SignedFile], label: String) throws(ArchiveError) {
        try self.init(root: label, directory: nil, expected: expected)
    }

    private init(root: String, directory: OpenDirectory?, expected: [SignedFile]) throws(ArchiveError) {
        var list: [(path: SafeTarPath, file: SignedFile)] = []
        var byPath: [SafeTarPath: SignedFile] = [:]
        var directories = Set<SafeTarPath>()
        for file in expected {
            let place = "signed file list: \(SafeTarPath.display(file.pathBytes))"
            let path: SafeTarPath
            switch SafeTarPath.parse(file.pathBytes, as: .canonical) {
            case .success(let parsed): path = parsed
            case .failure(let refusal): throw ArchiveError(path: place, reason: refusal.reason)
            }
            guard file.size >= 0 else { throw ArchiveError(path: place, reason: "has a negative size (\(file.size))") }
            guard byPath.updateValue(file, forKey: path) == nil else {
                throw ArchiveError(path: place, reason: "appears more than once")
            }
            list.append((path, file))
            directories.formUnion(path.ancestors)
        }
        if let clash = list.first(where: { directories.contains($0.path) }) {
            throw ArchiveError(path: "signed file list: \(clash.path.string)", reason: "is listed as a file but other signed files are under it")
        }
        self.root = root
        rootDirectory = directory
        self.expected = list
        signed = byPath
        neededDirectories = directories
    }

    /// Extracts one layer from a tar file on disk (a regular file, read
    /// once); returns the SHA-256 and size of the layer file's bytes,
    /// computed on a second core while extracting (the caller compares
    /// them with the signed layer descriptor, and must not use the root if
    /// they differ).
    /// - Parameter label: names the layer in errors.
    public func extractLayer(fromFile path: String, label: String) throws(ArchiveError) -> (digest: SHA256Digest, size: Int64) {
        try checkUsable(label)
        let file: FileDescriptor
        do { file = try FileDescriptor.openRegularForReading(path).file } catch {
            failure = ArchiveError(error)
            throw ArchiveError(error)
        }
        defer { file.closeIgnoringErrors() }
        return try extractLayer(from: LayerStream(file), label: label)
    }

    /// Extracts one layer from a stream of its bytes (see `extractLayer(fromFile:label:)`).
    public func extractLayer(from stream: LayerStream, label: String) throws(ArchiveError) -> (digest: SHA256Digest, size: Int64) {
        try checkUsable(label)
        do {
            return try extract(stream, label: label)
        } catch {
            failure = error
            throw error
        }
    }

    /// After all layers: checks that every signed file was extracted (each
    /// exactly once, with its size and digest, which extraction checked),
    /// then fsyncs every file, every directory made, and the root.
    public func finish() throws(ArchiveError) {
        try checkUsable(root)
        do {
            try verifyAndSync()
            finished = true
        } catch {
            failure = error
            throw error
        }
    }

    // MARK: - Layers

    private func checkUsable(_ label: String) throws(ArchiveError) {
        if let failure {
            throw ArchiveError(path: label, reason: "extraction already failed (\(failure)); start again in a fresh root")
        }
        guard !finished else { throw ArchiveError(path: label, reason: "extraction is already finished") }
    }

    private func extract(_ stream: LayerStream, label: String) throws(ArchiveError) -> (digest: SHA256Digest, size: Int64) {
        let source = SafeTarLayerSource(stream, label: label)
        // withExtendedLifetime: libarchive holds the source unretained.
        return try withExtendedLifetime(source) { () throws(ArchiveError) in
            guard let archive = archive_read_new() else { throw ArchiveError(path: label, reason: "libarchive: out of memory") }
            defer { archive_read_free(archive) }
            // Tar only: no compression filters, no other formats.
            archive_read_support_format_tar(archive)
            guard archive_read_open(archive, Unmanaged.passUnretained(source).toOpaque(), nil, safeTarRead, nil) == ARCHIVE_OK else {
                throw libarchiveFailure(archive, source, at: label)
            }
            var entry: OpaquePointer?
            while true {
                let status = archive_read_next_header(archive, &entry)
                if status == ARCHIVE_EOF { break }
                guard let entry, status == ARCHIVE_OK || (status == ARCHIVE_WARN && Self.isCharsetWarning(archive)) else {
                    let name = entry.flatMap(Self.rawName).map(SafeTarPath.display)
                    throw libarchiveFailure(archive, source, at: name.map { "\(label): \($0)" } ?? label)
                }
                try extractEntry(entry, from: archive, source: source, label: label)
            }
            // Nothing may follow the end-of-archive blocks: a reader that
            // lists what comes after them (GNU tar -i) must see no more than we do.
            let consumed = archive_filter_bytes(archive, 0)
            try source.drain()
            if let unseen = source.claimValidatedEntry() {
                throw ArchiveError(path: "\(label): \(SafeTarPath.display(unseen.name))",
                                   reason: "is an entry a strict tar reader finds after the last one libarchive reported; refusing the layer")
            }
            guard source.count == consumed else {
                throw ArchiveError(path: label, reason: "has \(source.count - consumed) bytes after its end-of-archive blocks")
            }
            guard source.count >= Int64(SafeTarLayerSource.tailSize), source.tail.allSatisfy({ $0 == 0 }) else {
                throw ArchiveError(path: label, reason: "does not end with two zero end-of-archive blocks")
            }
            return source.digest()
        }
    }

    /// libarchive warns when a pax UTF-8 name cannot be converted to the
    /// process's locale (the C locale, in a process that never called
    /// setlocale) and then keeps the name's raw bytes, which this
    /// extractor checks as UTF-8 itself. Every other warning is refused.
    private static func isCharsetWarning(_ archive: OpaquePointer) -> Bool {
        guard let text = archive_error_string(archive) else { return false }
        return String(cString: text).contains("can't be converted from UTF-8 to current locale")
    }

    /// The entry's name as stored, undecoded: libarchive's multibyte form
    /// (the header's bytes, or a pax UTF-8 name), else its UTF-8 form.
    private static func rawName(_ entry: OpaquePointer) -> [UInt8]? {
        guard let name = archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry) else { return nil }
        return Array(UnsafeBufferPointer(start: name, count: strlen(name)).map { UInt8(bitPattern: $0) })
    }

    private func extractEntry(_ entry: OpaquePointer, from archive: OpaquePointer, source: SafeTarLayerSource,
                              label: String) throws(ArchiveError) {
        guard let raw = Self.rawName(entry) else {
            throw ArchiveError(path: label, reason: "an entry's name cannot be read (libarchive has no name for it)")
        }
        let place = raw.isEmpty ? "\(label): (an entry with an empty name)" : "\(label): \(SafeTarPath.display(raw))"
        func refuse(_ reason: String) -> ArchiveError { ArchiveError(path: place, reason: reason) }

        let type = archive_entry_filetype(entry) & 0o170000
        let isDirectory = type == 0o040000
        // The entry every reader sees, or a refusal: libarchive must agree
        // with the strict reading of the same bytes before any other check.
        let reported = ReportedEntry(name: raw, type: UInt32(type), size: archive_entry_size(entry),
                                     mode: UInt32(archive_entry_mode(entry)) & 0o7777,
                                     isLink: archive_entry_hardlink(entry) != nil || archive_entry_symlink(entry) != nil)
        if let disagreement = Self.disagreement(strict: source.claimValidatedEntry(), libarchive: reported) {
            throw refuse(disagreement)
        }
        let path: SafeTarPath
        switch SafeTarPath.parse(raw, as: .archiveEntry(isDirectory: isDirectory)) {
        case .success(let parsed): path = parsed
        case .failure(let refusal): throw refuse(refusal.reason)
        }

        // Links first: libarchive gives a hard link the type of its target.
        let only = "only regular files and directories may be extracted"
        if let target = archive_entry_hardlink(entry) {
            throw refuse("is a hard link (to '\(Self.display(target))'); \(only)")
        }
        if let target = archive_entry_symlink(entry) {
            throw refuse("is a symbolic link (to '\(Self.display(target))'); \(only)")
        }
        switch type {
        case 0o100000, 0o040000: break
        case 0o120000: throw refuse("is a symbolic link; \(only)")
        case 0o020000: throw refuse("is a character device; \(only)")
        case 0o060000: throw refuse("is a block device; \(only)")
        case 0o010000: throw refuse("is a FIFO; \(only)")
        case 0o140000: throw refuse("is a socket; \(only)")
        default: throw refuse("has an unknown file type (0o\(String(type, radix: 8))); \(only)")
        }
        let mode = UInt32(archive_entry_mode(entry)) & 0o7777
        let octal = "mode 0" + String(mode, radix: 8)
        if mode & 0o4000 != 0 { throw refuse("has the setuid bit (\(octal)); refusing it") }
        if mode & 0o2000 != 0 { throw refuse("has the setgid bit (\(octal)); refusing it") }
        if mode & 0o1000 != 0 { throw refuse("has the sticky bit (\(octal)); refusing it") }
        if archive_entry_sparse_count(entry) > 0 {
            throw refuse("is a sparse file (holes not stored in the archive); \(only)")
        }

        if isDirectory {
            if signed[path] != nil { throw refuse("is a directory, the signed image lists a file there") }
            guard neededDirectories.contains(path) else {
                throw refuse("is a directory, but no signed file is under it")
            }
            if let rootDirectory { _ = try openDirectory(path.components[...], under: rootDirectory, creating: true, at: place) }
            return
        }

        if neededDirectories.contains(path) {
            throw refuse("is a file where a directory is needed (signed files lie under it)")
        }
        guard let expectedFile = signed[path] else { throw refuse("is not in the signed file list") }
        if let earlier = extracted[path] {
            throw refuse("appears more than once (already extracted from \(earlier))")
        }
        // Checked at the header, before reading a byte: no tar bombs.
        let size = archive_entry_size(entry)
        guard archive_entry_size_is_set(entry) != 0, size == expectedFile.size else {
            throw refuse("is \(size) bytes in the archive, the signed image lists \(expectedFile.size)")
        }
        let executable = mode & 0o111 != 0
        try writeFile(path, expectedFile, mode: executable ? 0o755 : 0o644, from: archive, source: source, at: place)
        extracted[path] = label
    }

    /// Creates the file and copies the entry's bytes in, hashing them on
    /// the way; never more than the signed size.
    private func writeFile(_ path: SafeTarPath, _ expectedFile: SignedFile, mode: mode_t,
                           from archive: OpaquePointer, source: SafeTarLayerSource, at place: String) throws(ArchiveError) {
        // Check-only: the same reads and checks, into no file.
        var parent: OpenDirectory?
        var file: FileDescriptor?
        if let rootDirectory {
            let directory = OpenDirectory(try openDirectory(path.parentComponents, under: rootDirectory, creating: true, at: place))
            do { file = try directory.handle.createFile(path.name, mode: mode) } catch {
                if error.errno == EEXIST {
                    throw ArchiveError(path: place, reason: "already exists in the extraction root (not made by this extractor)")
                }
                throw ArchiveError(path: place, reason: error.reason)
            }
            parent = directory
        }
        var complete = false
        defer {
            if !complete, let file, let parent {
                file.closeIgnoringErrors()
                // Take partial or wrong bytes away from the signed name before reporting.
                try? parent.handle.remove(path.name)
            }
        }

        var hasher = SHA256()
        var written: Int64 = 0
        while true {
            var block: UnsafeRawPointer?
            var count = 0
            var offset: la_int64_t = 0
            let status = archive_read_data_block(archive, &block, &count, &offset)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK else {
                if let refusal = source.refusal { throw refusal }
                if let error = source.error { throw ArchiveError(path: place, reason: "reading the layer: \(error.description)") }
                let message = Self.libarchiveMessage(archive)
                let damage = message.lowercased().contains("truncated") ? "is truncated" : "is damaged"
                throw ArchiveError(path: place, reason: "\(damage) after \(written) of its \(expectedFile.size) bytes (libarchive: \(message))")
            }
            guard offset == written else {
                throw ArchiveError(path: place, reason: "has a hole at byte \(written) (a sparse entry); refusing it")
            }
            guard count <= expectedFile.size - written else {
                throw ArchiveError(path: place, reason: "has more than the \(expectedFile.size) bytes the signed image lists")
            }
            guard count > 0, let block else { continue }
            let bytes = UnsafeRawBufferPointer(start: block, count: count)
            hasher.update(bytes)
            if let file { do { try file.writeAll(bytes) } catch { throw ArchiveError(error) } }
            written += Int64(count)
        }
        guard written == expectedFile.size else {
            throw ArchiveError(path: place, reason: "is truncated: \(written) bytes in the archive, the signed image lists \(expectedFile.size)")
        }
        let digest = hasher.finalize()
        guard digest == expectedFile.sha256 else {
            throw ArchiveError(path: place, reason: "sha256 is \(digest.hex), the signed image lists \(expectedFile.sha256.hex)")
        }
        if let file, let parent {
            do throws(SystemError) { try file.close() } catch {
                complete = true  // closed, if with an error; still unlink below
                try? parent.handle.remove(path.name)
                throw ArchiveError(error)
            }
        }
        complete = true
    }

    /// The error for a libarchive failure: a read error from the source if
    /// there was one, else libarchive's own message.
    private func libarchiveFailure(_ archive: OpaquePointer, _ source: SafeTarLayerSource, at place: String) -> ArchiveError {
        if let refusal = source.refusal { return refusal }
        if let error = source.error { return ArchiveError(path: place, reason: "reading the layer: \(error.description)") }
        let message = Self.libarchiveMessage(archive)
        if message.lowercased().contains("truncated") {
            return ArchiveError(path: place, reason: "the archive is truncated (libarchive: \(message))")
        }
        return ArchiveError(path: place, reason: "libarchive: \(message)")
    }

    /// An entry as libarchive reports it, for the cross-check.
    struct ReportedEntry {
        let name: [UInt8]
        /// The st_mode file-type bits.
        let type: UInt32
        let size: Int64
        let mode: UInt32
        let isLink: Bool
    }

    /// Why libarchive's entry is not the strict reader's next one (a
    /// phrase following the entry's name), or nil if they agree.
    static func disagreement(strict: TarProfileEntry?, libarchive: ReportedEntry) -> String? {
        let differ = "libarchive and a strict tar reader disagree on the layer"
        guard let strict else {
            return "is an entry libarchive reports but a strict tar reader does not find there; \(differ)"
        }
        if strict.name != libarchive.name {
            return "is what libarchive names this entry, a strict tar reader '\(SafeTarPath.display(strict.name))'; \(differ)"
        }
        let kind = libarchive.isLink ? "link" : libarchive.type == 0o040000 ? "directory" : libarchive.type == 0o100000 ? "regular file" : "special file"
        if kind != (strict.isDirectory ? "directory" : "regular file") {
            return "is a \(kind) to libarchive, a \(strict.isDirectory ? "directory" : "regular file") to a strict tar reader; \(differ)"
        }
        if libarchive.size != strict.size {
            return "is \(libarchive.size) bytes to libarchive, \(strict.size) to a strict tar reader; \(differ)"
        }
        if libarchive.mode != strict.mode {
            return "has mode 0\(String(libarchive.mode, radix: 8)) to libarchive, 0\(String(strict.mode, radix: 8)) to a strict tar reader; \(differ)"
        }
        return nil
    }

    private static func libarchiveMessage(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "error \(archive_errno(archive))"
    }

    private static func display(_ name: UnsafePointer<CChar>) -> String {
        SafeTarPath.display(Array(UnsafeBufferPointer(start: name, count: strlen(name)).map { UInt8(bitPattern: $0) }))
    }

    // MARK: - Finish

    private func verifyAndSync() throws(ArchiveError) {
        let missing = expected.filter { extracted[$0.path] == nil }
        if let first = missing.first {
            let more = missing.count > 1 ? " (and \(missing.count - 1) more signed files are missing)" : ""
            throw ArchiveError(path: first.file.path, reason: "is in the signed file list but in no layer\(more)")
        }
        guard let rootDirectory else { return }
        for (path, expectedFile) in expected {
            let place = "\(root): \(path.string)"
            let parent = try openDirectory(path.parentComponents, under: rootDirectory, creating: false, at: place)
            do throws(SystemError) {
                let (file, size) = try parent.openRegularFile(path.name)
                defer { file.closeIgnoringErrors() }
                guard size == expectedFile.size else {
                    throw SystemError(path: place, operation: "fstat (no longer a regular file of \(expectedFile.size) bytes)", errno: EINVAL)
                }
                try file.sync()
            } catch {
                throw ArchiveError(path: place, reason: "changed after extraction: \(error.reason)")
            }
        }
        // Children before parents, so each directory's entries are durable
        // before the entry naming it is.
        for path in createdDirectories.reversed() {
            let place = "\(root): \(path.string)"
            let directory = try openDirectory(path.components[...], under: rootDirectory, creating: false, at: place)
            do { try directory.sync() } catch { throw ArchiveError(error) }
        }
        do { try rootDirectory.handle.sync() } catch { throw ArchiveError(error) }
    }

    /// Opens the directory `components` below the root, one component at a
    /// time, each relative to its parent's descriptor; with `creating`,
    /// makes the missing ones (mode 0755, whatever the umask), remembering
    /// each one made.
    private func openDirectory(_ components: ArraySlice<[UInt8]>, under root: OpenDirectory, creating: Bool,
                               at place: String) throws(ArchiveError) -> DirectoryHandle {
        var current: DirectoryHandle
        do { current = try root.handle.duplicate() } catch { throw ArchiveError(error) }
        for index in components.indices {
            let name = components[index]
            let prefix = SafeTarPath(components: Array(components[...index]))
            do {
                if creating, try current.makeDirectory(name) { createdDirectories.append(prefix) }
                current = try current.openDirectory(name)
            } catch {
                if error.errno == ELOOP || error.errno == ENOTDIR || error.errno == EXDEV {
                    let isLink = (try? current.status(name)).flatMap { $0 }.map { ($0.st_mode & S_IFMT) == S_IFLNK } ?? false
                    throw ArchiveError(path: place, reason: isLink
                        ? "'\(prefix.string)' is a symbolic link in the extraction root (not made by this extractor); refusing to follow it"
                        : "'\(prefix.string)' is not a directory")
                }
                throw ArchiveError(path: place, reason: "'\(prefix.string)': \(error.reason)")
            }
        }
        return current
    }
}

/// A directory descriptor shared by reference (the extractor keeps its root open).
final class OpenDirectory {
    let handle: DirectoryHandle
    init(_ handle: consuming DirectoryHandle) { self.handle = handle }
}
