#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
internal import SovereignSystem

/// The module's own system calls, for mapping a model file. Opening and
/// closing go through SovereignSystem's `FileDescriptor`, and every failure
/// is a `SystemError` naming the path and the call, so errno is turned into
/// text in one place for the whole program; only what that wrapper does not
/// offer (the file's type, `mmap`, `munmap`) is called here directly.
enum SystemCalls {
    /// A read-only private mapping of the whole regular file at `path`: its
    /// base (nil for an empty file) and its size in bytes.
    static func mapReadOnly(path: String) throws(GGUFError) -> (base: UnsafeRawPointer?, count: Int) {
        let descriptor: FileDescriptor
        do { descriptor = try FileDescriptor.openForReading(path) } catch { throw .io(error) }
        // The mapping outlives the descriptor, and a read-only descriptor has
        // nothing to flush, so a failing close loses nothing worth reporting.
        defer { descriptor.closeIgnoringErrors() }

        // FileDescriptor.size() would not say what kind of file this is.
        var info = stat()
        guard fstat(descriptor.rawValue, &info) == 0 else {
            throw .io(SystemError(path: path, operation: "fstat", errno: errno))
        }
        // Only regular files: mapping a FIFO or device is never what a model path means.
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        // open(2) accepts a directory for reading; report it as `cat` would.
        case S_IFDIR: throw .io(SystemError(path: path, operation: "open", errno: EISDIR))
        default: throw .notRegularFile(source: path)
        }
        let size = Int(info.st_size)
        // mmap of length 0 is EINVAL; an empty file is simply zero bytes.
        if size == 0 { return (nil, 0) }

        let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor.rawValue, 0)
        guard let base, base != MAP_FAILED else {
            throw .io(SystemError(path: path, operation: "mmap", errno: errno))
        }
        return (UnsafeRawPointer(base), size)
    }

    static func unmap(_ base: UnsafeRawPointer, count: Int) {
        _ = munmap(UnsafeMutableRawPointer(mutating: base), count)
    }
}
