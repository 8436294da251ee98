/// The verifier's situation: the clock and what is installed, injected so
/// decisions do not depend on when or where tests run.
public struct TrustContext: Sendable {
    /// Unix seconds.
    public var now: Int64
    /// The highest sequence installed on this appliance, if any.
    public var installedSequence: Int64?

    public init(now: Int64, installedSequence: Int64? = nil) {
        self.now = now
        self.installedSequence = installedSequence
    }
}
