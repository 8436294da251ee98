#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Every C entry point the module calls, in one place. Each returns a
/// `Result` carrying errno so callers turn it into a `GGUFError` that names
/// the syscall.
enum SystemCalls {
    /// A failed call: its name and errno.
    struct Failure: Error {
        var operation: String
        var code: Int32
    }

    /// A read-only private mapping of a whole file, or an error naming the call.
    static func mapReadOnly(path: String) -> Result<(UnsafeRawPointer?, Int), Failure> {
        let fd = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        if fd < 0 { return .failure(Failure(operation: "open", code: errno)) }
        // close(2) is not retried on EINTR: on Linux the descriptor is gone
        // whatever it returns, and a retry could close someone else's.
        defer { _ = close(fd) }

        var info = stat()
        if fstat(fd, &info) != 0 { return .failure(Failure(operation: "fstat", code: errno)) }
        // Only regular files: mapping a FIFO or device is never what a model path means.
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .failure(Failure(operation: "open", code: EISDIR))
        default: return .failure(Failure(operation: "open (not a regular file)", code: EINVAL))
        }
        let size = Int(info.st_size)
        // mmap of length 0 is EINVAL; an empty file is simply zero bytes.
        if size == 0 { return .success((nil, 0)) }

        let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let base, base != MAP_FAILED else {
            return .failure(Failure(operation: "mmap", code: errno))
        }
        return .success((UnsafeRawPointer(base), size))
    }

    static func unmap(_ base: UnsafeRawPointer, count: Int) {
        _ = munmap(UnsafeMutableRawPointer(mutating: base), count)
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    private static func retryingOnInterrupt(_ call: () -> Int32) -> Int32 {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}
