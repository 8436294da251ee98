import Glibc
internal import CLinux

/// Small, errno-typed file-system helpers shared by every module.
public enum FileSystem {
    /// Whether anything (file, directory, dangling symlink) is at `path`.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Reads a whole regular file, refusing files over `limit` bytes so that
    /// a hostile input cannot make us allocate without bound.
    public static func readFile(_ path: String, limit: Int = 64 << 20) throws(FileSystemError) -> [UInt8] {
        let fd: FileDescriptor, size: Int64
        do { (fd, size) = try FileDescriptor.openRegularForReading(path) } catch {
            if error.errno == EINVAL { throw .notRegularFile(path) }
            throw .system(error)
        }
        defer { fd.closeIgnoringErrors() }
        guard size <= limit else { throw .tooLarge(path, size: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let read = bytes.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try fd.readFully(into: raw) } }
        let count: Int
        do { count = try read.get() } catch { throw .system(error) }
        // A file that grew while we read is read again by nobody: take what fstat promised.
        bytes.removeSubrange(count...)
        return bytes
    }

    /// Removes a file, ignoring "not there".
    public static func removeIfPresent(_ path: String) {
        _ = unlink(path)
    }

    /// The directory part of a path ("." for a bare name).
    public static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last path component.
    public static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Renames `from` to `to` unless something is already at `to` (EEXIST).
    /// Atomic where the kernel supports RENAME_NOREPLACE; elsewhere it
    /// checks first, which leaves a window only against a concurrent writer.
    public static func renameNoReplace(_ from: String, to: String) throws(SystemError) {
        if sovereign_rename_noreplace(from, to) == 0 { return }
        let code = errno
        guard code == ENOSYS || code == EINVAL else { throw SystemError(path: to, operation: "rename", errno: code) }
        if exists(to) { throw SystemError(path: to, operation: "rename", errno: EEXIST) }
        guard rename(from, to) == 0 else { throw SystemError(path: to, operation: "rename", errno: errno) }
    }

    /// Removes a directory tree (no symlinks followed), ignoring errors:
    /// for cleaning up our own temporary directories on paths that are
    /// already failing. Use `DirectoryTree.remove` where a failure matters.
    public static func removeTree(_ path: String) {
        try? DirectoryTree.remove(path: path)
    }

    /// fsyncs a directory so that renames and links inside it are durable.
    public static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = try retryingOnInterrupt(path: path, operation: "open") {
            open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        defer { _ = close(fd) }
        _ = try retryingOnInterrupt(path: path, operation: "fsync") { fsync(fd) }
    }
}

/// Why a whole-file read failed.
public enum FileSystemError: SovereignError, Sendable, Equatable {
    case system(SystemError)
    case notRegularFile(String)
    case tooLarge(String, size: Int64, limit: Int)

    public var path: String {
        switch self {
        case .system(let error): return error.path
        case .notRegularFile(let path), .tooLarge(let path, _, _): return path
        }
    }

    public var reason: String {
        switch self {
        case .system(let error): return error.reason
        case .notRegularFile: return "not a regular file"
        case .tooLarge(_, let size, let limit): return "is \(size) bytes, more than the \(limit) allowed"
        }
    }

    public var thing: String { path }
}
