import SovereignSystem

/// Failures of the steering runtime: a constraint layer that does not hold
/// together, an engine that fails, a request that cannot be served.
public struct SteeringError: SovereignError, Sendable, Equatable {
    public let thing: String
    public let reason: String

    public init(_ thing: String, _ reason: String) {
        self.thing = thing
        self.reason = reason
    }

    static func from(_ error: any Error) -> SteeringError {
        if let error = error as? SteeringError { return error }
        if let error = error as? any SovereignError { return SteeringError(error.thing, error.reason) }
        return SteeringError("steering", "\(error)")
    }
}
