import SovereignSystem
import SovereignInference

/// Failures of the steering runtime: a constraint layer that does not hold
/// together, an engine that fails, a request that cannot be served.
public struct SteeringError: SovereignError, Sendable, Equatable {
    public let thing: String
    public let reason: String
    /// The request itself cannot be served (too long for the layer or the
    /// context): the caller's fault, a 400 for a server, not a 500.
    public let isInvalidRequest: Bool
    /// No engine could answer (remote engines down, broken or too slow):
    /// a 502 for a server, worth retrying later.
    public let isEngineUnavailable: Bool

    public init(_ thing: String, _ reason: String, invalidRequest: Bool = false, engineUnavailable: Bool = false) {
        self.thing = thing
        self.reason = reason
        isInvalidRequest = invalidRequest
        isEngineUnavailable = engineUnavailable
    }

    static func from(_ error: any Error) -> SteeringError {
        if let error = error as? SteeringError { return error }
        if let error = error as? GGUFError, case .contextFull = error {
            return SteeringError("request", "does not fit in the model's context: \(error.reason)", invalidRequest: true)
        }
        if let error = error as? any SovereignError { return SteeringError(error.thing, error.reason) }
        return SteeringError("steering", "\(error)")
    }
}
