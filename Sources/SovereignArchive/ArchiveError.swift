import SovereignSystem

/// Failures reading or writing tar archives: the archive (or entry) and why.
public struct ArchiveError: SovereignError, Sendable, Equatable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public init(_ error: SystemError) {
        self.init(path: error.path, reason: error.reason)
    }

    public var thing: String { path }
}
