import SovereignSystem
import SovereignImage
import SovereignArchive

/// Failures installing, rolling back or collecting: the thing and why.
public struct InstallError: Error, Sendable, Equatable, CustomStringConvertible {
    public let thing: String
    public let reason: String

    public init(_ thing: String, _ reason: String) {
        self.thing = thing
        self.reason = reason
    }

    public var description: String { "\(thing): \(reason)" }

    static func from(_ error: any Error) -> InstallError {
        switch error {
        case let error as InstallError: return error
        case let error as ImageError: return InstallError(error.thing, error.reason)
        case let error as ArchiveError: return InstallError(error.path, error.reason)
        case let error as SystemError: return InstallError(error.path, error.reason)
        case let error as FileSystemError: return InstallError(error.path, error.reason)
        default: return InstallError("install", "\(error)")
        }
    }
}
