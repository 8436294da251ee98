import Glibc
import SovereignSystem

/// The system calls of `SafeTarExtractor`, all relative to a directory
/// descriptor and none following a symlink: names are single, already
/// checked components, never paths.
enum SafeTarDirectory {
    /// Flags for every directory opened: a symlink (or anything not a
    /// directory) in its place fails instead of being followed.
    private static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    /// Opens the directory `components` below `root`, one component at a
    /// time, each relative to its parent's descriptor; with `creating`,
    /// makes the missing ones (mode 0755, whatever the umask), reporting
    /// each made directory's components to `made`. Returns `root` itself
    /// for no components; close the result with `close(_:root:)`.
    static func open(
        _ components: ArraySlice<String>, under root: Int32, creating: Bool, at place: String,
        made: (ArraySlice<String>) -> Void
    ) throws(ArchiveError) -> Int32 {
        var current = root
        for index in components.indices {
            let name = components[index]
            var descriptor = openat(current, name, directoryFlags)
            if descriptor < 0, errno == ENOENT, creating {
                if mkdirat(current, name, 0o755) == 0 {
                    descriptor = openat(current, name, directoryFlags)
                    if descriptor >= 0 {
                        made(components[...index])
                        // mkdirat's mode went through the umask; fix it on the descriptor.
                        if fchmod(descriptor, 0o755) != 0 {
                            let code = errno
                            _ = Glibc.close(descriptor)
                            close(current, root: root)
                            throw failure(components[...index], "fchmod", code, at: place)
                        }
                    }
                } else if errno != EEXIST {
                    let code = errno
                    close(current, root: root)
                    throw failure(components[...index], "mkdirat", code, at: place)
                } else {
                    descriptor = openat(current, name, directoryFlags)
                }
            }
            if descriptor < 0 {
                let code = errno
                defer { close(current, root: root) }
                if code == ELOOP || code == ENOTDIR {
                    var info = stat()
                    let isLink = fstatat(current, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
                    let prefix = components[...index].joined(separator: "/")
                    throw ArchiveError(path: place, reason: isLink
                        ? "'\(prefix)' is a symbolic link in the extraction root (not made by this extractor); refusing to follow it"
                        : "'\(prefix)' is not a directory")
                }
                throw failure(components[...index], "openat", code, at: place)
            }
            close(current, root: root)
            current = descriptor
        }
        return current
    }

    /// Closes a descriptor from `open`, unless it is the root.
    /// Not retried on EINTR: the descriptor is gone either way on Linux.
    static func close(_ descriptor: Int32, root: Int32) {
        if descriptor != root { _ = Glibc.close(descriptor) }
    }

    /// Creates a new file `name` in `directory`; fails if anything (a
    /// symlink included) is already there. Mode set with fchmod, so the
    /// umask does not change it.
    static func createFile(_ name: String, in directory: Int32, mode: mode_t, at place: String) throws(ArchiveError) -> FileDescriptor {
        var descriptor: Int32
        repeat {
            descriptor = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST {
                throw ArchiveError(path: place, reason: "already exists in the extraction root (not made by this extractor)")
            }
            throw ArchiveError(path: place, reason: SystemError(path: name, operation: "openat", errno: code).reason)
        }
        let file = FileDescriptor(rawValue: descriptor, path: place)
        guard fchmod(descriptor, mode) == 0 else {
            let code = errno
            file.closeIgnoringErrors()
            throw ArchiveError(path: place, reason: SystemError(path: name, operation: "fchmod", errno: code).reason)
        }
        return file
    }

    /// fsyncs the regular file `name` in `directory`, after checking it is
    /// still the regular file of `expectedSize` bytes that was written.
    static func syncFile(_ name: String, in directory: Int32, expectedSize: Int64, at place: String) throws(ArchiveError) {
        var descriptor: Int32
        repeat {
            descriptor = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else {
            throw ArchiveError(path: place, reason: SystemError(path: name, operation: "openat", errno: errno).reason)
        }
        defer { _ = Glibc.close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw ArchiveError(path: place, reason: SystemError(path: name, operation: "fstat", errno: errno).reason)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG, Int64(info.st_size) == expectedSize else {
            throw ArchiveError(path: place, reason: "changed after extraction (no longer a regular file of \(expectedSize) bytes)")
        }
        try sync(descriptor, at: place)
    }

    static func sync(_ descriptor: Int32, at place: String) throws(ArchiveError) {
        while fsync(descriptor) != 0 {
            let code = errno
            if code == EINTR { continue }
            throw ArchiveError(path: place, reason: SystemError(path: place, operation: "fsync", errno: code).reason)
        }
    }

    /// Whether the directory open at `descriptor` has no entries.
    static func isEmpty(_ descriptor: Int32, path: String) throws(ArchiveError) -> Bool {
        // A fresh open of "." for fdopendir, which takes the descriptor over.
        let listing = openat(descriptor, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard listing >= 0, let directory = fdopendir(listing) else {
            let code = errno
            if listing >= 0 { _ = Glibc.close(listing) }
            throw ArchiveError(SystemError(path: path, operation: "opendir", errno: code))
        }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if name != [UInt8(ascii: ".")] && name != [UInt8(ascii: "."), UInt8(ascii: ".")] { return false }
        }
        return true
    }

    private static func failure(_ components: ArraySlice<String>, _ call: String, _ code: Int32, at place: String) -> ArchiveError {
        let prefix = components.joined(separator: "/")
        return ArchiveError(path: place, reason: "'\(prefix)': " + SystemError(path: prefix, operation: call, errno: code).reason)
    }
}
