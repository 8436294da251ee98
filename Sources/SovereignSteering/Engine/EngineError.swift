import SovereignSystem

/// A remote engine that did not give an answer: unreachable, too slow,
/// broken, or refusing the request. `canFailOver` says whether another
/// engine should be tried (the request itself was not at fault).
public struct EngineError: Error, Sendable, Equatable, SovereignError {
    public enum Kind: Sendable, Equatable {
        /// Not reachable, overloaded (429, 5xx) or too slow.
        case unavailable
        /// Answered, but not as the OpenAI API says: malformed, cut short, an error mid-stream.
        case broken
        /// A 4xx for this request: another engine would refuse it too.
        case rejected(status: Int)
        /// The caller gave up.
        case cancelled
    }

    /// The engine's URL and route.
    public let thing: String
    public let reason: String
    public let kind: Kind

    public init(_ thing: String, _ reason: String, kind: Kind) {
        self.thing = thing
        self.reason = reason
        self.kind = kind
    }

    public var canFailOver: Bool { kind == .unavailable || kind == .broken }
}
