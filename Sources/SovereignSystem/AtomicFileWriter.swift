import Glibc

/// Writes a set of new files all-or-nothing, never replacing what exists.
///
/// Each file is written to a hidden temporary sibling, fsynced, then
/// `link(2)`ed to its final name: link fails with EEXIST instead of
/// replacing, so a concurrent writer cannot be clobbered either. If any step
/// fails, every file this writer already placed is removed again, so a
/// failed command leaves the disk as it found it.
public struct AtomicFileWriter: ~Copyable {
    private struct Pending {
        let finalPath: String
        let temporaryPath: String
    }
    private var pending: [Pending] = []

    public init() {}

    /// Stages `bytes` for `path`. Fails at once if `path` already exists.
    public mutating func stage(_ bytes: [UInt8], at path: String, mode: mode_t = 0o644) throws(SystemError) {
        if FileSystem.exists(path) {
            throw SystemError(path: path, operation: "create", errno: EEXIST)
        }
        let directory = FileSystem.directoryName(path)
        let temporary = "\(directory)/.\(FileSystem.baseName(path)).tmp-\(getpid())-\(pending.count)"
        let fd = try FileDescriptor.createExclusive(temporary, mode: mode)
        pending.append(Pending(finalPath: path, temporaryPath: temporary))
        do {
            // O_CREAT's mode is filtered by umask; set it explicitly so the
            // result does not depend on the caller's umask.
            _ = try retryingOnInterrupt(path: temporary, operation: "fchmod") { fchmod(fd.rawValue, mode) }
            try fd.writeAll(bytes)
            try fd.sync()
            try fd.close()
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
    }

    /// Links every staged file into place; on failure, unlinks those placed.
    public mutating func commit() throws(SystemError) {
        var placed: [String] = []
        for item in pending {
            if link(item.temporaryPath, item.finalPath) != 0 {
                let code = errno
                for path in placed { unlink(path) }
                throw SystemError(path: item.finalPath, operation: "link", errno: code)
            }
            placed.append(item.finalPath)
        }
        for item in pending { unlink(item.temporaryPath) }
        var directories = Set<String>()
        for item in pending { directories.insert(FileSystem.directoryName(item.finalPath)) }
        for directory in directories.sorted() { try FileSystem.syncDirectory(directory) }
    }

    deinit {
        for item in pending { unlink(item.temporaryPath) }
    }

    /// Writes one new file atomically; fails if it exists.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(SystemError) {
        var writer = AtomicFileWriter()
        try writer.stage(bytes, at: path, mode: mode)
        try writer.commit()
    }

    /// Replaces `path` (or creates it) in one rename(2): a temporary
    /// sibling written and fsynced, renamed over it, the directory fsynced.
    /// A crash leaves the old file or the new one, never neither.
    public static func replace(_ bytes: [UInt8], at path: String, mode: mode_t = 0o644) throws(SystemError) {
        let temporary = "\(FileSystem.directoryName(path))/.\(FileSystem.baseName(path)).replace-\(getpid())"
        unlink(temporary)
        do throws(SystemError) {
            try write(bytes, to: temporary, mode: mode)
            guard rename(temporary, path) == 0 else { throw SystemError(path: path, operation: "rename", errno: errno) }
            try FileSystem.syncDirectory(FileSystem.directoryName(path))
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
