import Glibc

/// An owned POSIX file descriptor with errno-typed operations.
/// The owner calls `close()`; `FileDescriptor` is a plain value so that it
/// can be passed to helpers without reference counting in hot loops.
public struct FileDescriptor: Sendable {
    public let rawValue: Int32
    /// The path it was opened from, for error messages.
    public let path: String

    public init(rawValue: Int32, path: String) {
        self.rawValue = rawValue
        self.path = path
    }

    /// Opens an existing file for reading.
    public static func openForReading(_ path: String) throws(SystemError) -> FileDescriptor {
        let fd = try retryingOnInterrupt(path: path, operation: "open") {
            open(path, O_RDONLY | O_CLOEXEC)
        }
        return FileDescriptor(rawValue: fd, path: path)
    }

    /// Opens an existing regular file for reading, with its size from
    /// fstat. Anything else at `path` (a FIFO, a device, a directory) is
    /// refused; the open is non-blocking so a FIFO with no writer cannot
    /// hang it. Read no more than `size` bytes from it: that is the cap.
    public static func openRegularForReading(_ path: String) throws(SystemError) -> (file: FileDescriptor, size: Int64) {
        let fd = try retryingOnInterrupt(path: path, operation: "open") {
            open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        }
        return try adoptRegular(fd, path: path)
    }

    /// Creates a new file; fails with EEXIST if anything is at `path`.
    public static func createExclusive(_ path: String, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        let fd = try retryingOnInterrupt(path: path, operation: "open") {
            open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        }
        return FileDescriptor(rawValue: fd, path: path)
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try retryingOnInterrupt(path: path, operation: "read") {
            Glibc.read(rawValue, buffer.baseAddress, buffer.count)
        }
    }

    /// Fills `buffer` unless end of file comes first; returns the bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Writes every byte, looping over partial writes.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = try retryingOnInterrupt(path: path, operation: "write") {
                Glibc.write(rawValue, bytes.baseAddress! + offset, bytes.count - offset)
            }
            offset += n
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        // withUnsafeBytes rethrows untyped errors, so carry the typed one out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(SystemError) in try writeAll(raw) } }.get()
    }

    public func sync() throws(SystemError) {
        _ = try retryingOnInterrupt(path: path, operation: "fsync") { fsync(rawValue) }
    }

    /// Size in bytes, from fstat.
    public func size() throws(SystemError) -> Int64 {
        var info = stat()
        _ = try retryingOnInterrupt(path: path, operation: "fstat") { fstat(rawValue, &info) }
        return Int64(info.st_size)
    }

    /// Tells the kernel we read front to back, so it reads ahead generously.
    public func adviseSequential() {
        _ = posix_fadvise(rawValue, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    /// Closes the descriptor. Not retried on EINTR (see `retryingOnInterrupt`).
    public func close() throws(SystemError) {
        if Glibc.close(rawValue) == -1, errno != EINTR {
            throw SystemError(path: path, operation: "close", errno: errno)
        }
    }

    /// Closes, ignoring errors: for clean-up paths that are already failing.
    public func closeIgnoringErrors() {
        _ = Glibc.close(rawValue)
    }
}
