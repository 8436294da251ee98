import SovereignSystem

/// Failures reading or writing tar archives: the archive (or entry) and why.
public struct ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public init(_ error: SystemError) {
        self.init(path: error.path, reason: error.reason)
    }

    public var description: String { "\(path): \(reason)" }
}
