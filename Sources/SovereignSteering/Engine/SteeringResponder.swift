/// What answers requests under a constraint layer: the embedded engine's
/// `SteeringRuntime` or `RemoteSteeringRuntime` in front of OpenAI-compatible
/// engines. A server's slots hold these and need nothing else.
public protocol SteeringResponder: AnyObject {
    /// The engine answers come from (for remote runtimes, the preferred one).
    var engineIdentity: EngineIdentity { get }
    /// Threads of the forward pass, for the log (nil: a remote engine's own business).
    var threadCount: Int? { get }

    /// Answers `request`; `release` receives the answer as it becomes final
    /// (see `SteeringRuntime.respond(to:release:)`), returning false to
    /// cancel; `shouldStop` is asked while waiting on an engine, true cancels.
    func respond(to request: SteeringRequest, release: ((String) -> Bool)?,
                 shouldStop: () -> Bool) throws(SteeringError) -> SteeringTranscript

    /// The request is over; the slot is idle.
    func becameIdle()
}

extension SteeringRuntime: SteeringResponder {
    public var engineIdentity: EngineIdentity { .embedded }
    public var threadCount: Int? { session.context.threadCount }

    /// The embedded engine asks `release` after every token, which is how
    /// a caller stops it; `shouldStop` adds nothing.
    public func respond(to request: SteeringRequest, release: ((String) -> Bool)?,
                        shouldStop: () -> Bool) throws(SteeringError) -> SteeringTranscript {
        try respond(to: request, release: release)
    }

    public func becameIdle() { session.context.markIdle() }
}
