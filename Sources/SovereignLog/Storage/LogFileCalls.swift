import Glibc
import SovereignSystem

// The system calls the log needs that SovereignSystem does not offer yet
// (open for appending, ftruncate, lseek, flock, rename over an existing name), in
// one place, each returning SovereignSystem's `SystemError`: to move into
// SovereignSystem once its owner's current changes land.

enum LogFileCalls {
    /// Opens the existing regular file `name` below `directory` to append
    /// to it (O_APPEND, never through a symlink); returns it and its size.
    static func openForAppend(_ name: String, in directory: borrowing DirectoryHandle) throws(SystemError) -> (file: FileDescriptor, size: Int64) {
        let path = directory.path + "/" + name
        precondition(!name.isEmpty && !name.utf8.contains(0x2F), "one path component")
        let fd = try retrying(path: path, operation: "openat") {
            openat(directory.rawValue, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)
        }
        return try FileDescriptor.adoptRegular(fd, path: path)
    }

    /// Cuts `file` to `length` bytes.
    static func truncate(_ file: FileDescriptor, to length: Int64) throws(SystemError) {
        _ = try retrying(path: file.path, operation: "ftruncate") { ftruncate(file.rawValue, off_t(length)) }
    }

    /// Moves `file`'s offset to `offset` bytes from its start.
    static func seek(_ file: FileDescriptor, to offset: Int64) throws(SystemError) {
        _ = try retrying(path: file.path, operation: "lseek") { lseek(file.rawValue, off_t(offset), SEEK_SET) }
    }

    /// Renames `source` to `target` in `directory`, replacing `target` atomically.
    static func replace(_ target: String, with source: String, in directory: borrowing DirectoryHandle) throws(SystemError) {
        precondition(!target.utf8.contains(0x2F) && !source.utf8.contains(0x2F), "one path component")
        _ = try retrying(path: directory.path + "/" + target, operation: "renameat") {
            renameat(directory.rawValue, source, directory.rawValue, target)
        }
    }

    /// Runs a call that reports failure as -1 + errno, retrying on EINTR.
    static func retrying<T: BinaryInteger>(path: String, operation: String, _ call: () -> T) throws(SystemError) -> T {
        while true {
            let result = call()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw SystemError(path: path, operation: operation, errno: code)
        }
    }
}

/// An flock on `<log>/.lock`, released when the last reference goes (its
/// descriptor closes). Writers hold it exclusively for their whole life;
/// readers try it shared, so they know whether a writer may be mid-line.
/// The file is 0644 so that auditors under another account can take it.
final class LogLock: @unchecked Sendable {
    private let descriptor: Int32
    /// 10 ms apart: a writer that really holds the log is reported after 0.5 s.
    static let contentionRetries = 50

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        // Closing releases the lock. Not retried on EINTR: the descriptor is gone either way.
        _ = close(descriptor)
    }

    /// The writer's lock: exclusive, waiting for another writer or failing at once.
    static func exclusive(in directory: borrowing DirectoryHandle, wait: Bool) throws(LogError) -> LogLock {
        let path = directory.path + "/" + LogLayout.lockFile
        let fd: Int32
        do {
            fd = try LogFileCalls.retrying(path: path, operation: "openat") {
                openat(directory.rawValue, LogLayout.lockFile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
            }
        } catch { throw LogError.from(error) }
        // Not waiting still allows a moment: a lock just released can stay
        // held for microseconds by a child this process is spawning (the
        // descriptor is close-on-exec, but exists in the child until exec).
        var retries = 0
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK, retries < Self.contentionRetries {
                retries += 1
                usleep(10_000)
                continue
            }
            _ = close(fd)
            if code == EWOULDBLOCK { throw LogError(directory.path, "another process is writing this log (it holds \(LogLayout.lockFile))") }
            throw LogError.from(SystemError(path: path, operation: "flock", errno: code))
        }
        return LogLock(descriptor: fd)
    }

    /// What a reader learns from the lock.
    enum ReaderState {
        /// Held shared until released: no writer can start meanwhile.
        case held(LogLock)
        /// A writer holds the log: its last line may be mid-append.
        case writerActive
        /// No lock file, or no right to open it: nothing known, so nothing excused.
        case unknown
    }

    /// A reader's lock: shared if no writer holds the log.
    static func shared(in directory: borrowing DirectoryHandle) -> ReaderState {
        let fd = openat(directory.rawValue, LogLayout.lockFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return .unknown }
        while flock(fd, LOCK_SH | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            _ = close(fd)
            return code == EWOULDBLOCK ? .writerActive : .unknown
        }
        return .held(LogLock(descriptor: fd))
    }
}
