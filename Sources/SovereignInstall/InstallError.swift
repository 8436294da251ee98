import SovereignSystem

/// Failures installing, rolling back or collecting: the thing and why.
public struct InstallError: SovereignError, Sendable, Equatable {
    public let thing: String
    public let reason: String

    public init(_ thing: String, _ reason: String) {
        self.thing = thing
        self.reason = reason
    }

    static func from(_ error: any Error) -> InstallError {
        if let error = error as? InstallError { return error }
        if let error = error as? any SovereignError { return InstallError(error.thing, error.reason) }
        return InstallError("install", "\(error)")
    }
}

/// Runs a system call wrapper, reporting its failure as an `InstallError`.
func system<T: ~Copyable>(_ call: () throws(SystemError) -> T) throws(InstallError) -> T {
    do { return try call() } catch { throw InstallError.from(error) }
}
