import Glibc

/// A failed system call: which call, on what, and errno's text.
/// Printed by the CLI as `sovereign: <path>: <call>: <strerror>`.
public struct SystemError: SovereignError, Sendable, Equatable {
    /// The path (or other resource) the call was made on.
    public let path: String
    /// The system call that failed, e.g. `open`, `rename`.
    public let operation: String
    public let errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var reason: String {
        let text = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        return "\(operation): \(text)"
    }

    public var thing: String { path }
}

/// Runs a call that reports failure as -1 + errno, retrying on EINTR.
/// Never use for `close`: on Linux the descriptor is gone even when close
/// reports EINTR, so retrying could close a descriptor another thread opened.
@inline(__always)
func retryingOnInterrupt<T: BinaryInteger>(
    path: String, operation: String, _ call: () -> T
) throws(SystemError) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(path: path, operation: operation, errno: code)
    }
}
