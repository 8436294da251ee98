import SovereignSystem

/// Failures reading, appending to or verifying the audit log: the thing
/// (a file, an entry index, a checkpoint) and why.
public struct LogError: SovereignError, Sendable, Equatable {
    public let thing: String
    public let reason: String

    public init(_ thing: String, _ reason: String) {
        self.thing = thing
        self.reason = reason
    }

    static func from(_ error: any Error) -> LogError {
        if let error = error as? LogError { return error }
        if let error = error as? any SovereignError { return LogError(error.thing, error.reason) }
        return LogError("log", "\(error)")
    }
}
