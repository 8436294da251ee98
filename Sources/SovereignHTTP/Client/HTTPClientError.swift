public import SovereignSystem

/// Why a request to a remote server failed, naming the server (its URL and
/// route) and the reason in one line.
public struct HTTPClientError: Error, Sendable, Equatable, SovereignError {
    public enum Kind: Sendable, Equatable {
        /// Nothing was sent or received: refused, unreachable, timed out connecting.
        case unreachable
        /// The server took longer than allowed.
        case timedOut
        /// The caller gave up (its client went away, its deadline passed).
        case cancelled
        /// The server answered something that is not HTTP as we read it, or broke a limit.
        case protocolViolation
        /// The connection broke after it was established.
        case connectionLost
    }

    public let thing: String
    public let reason: String
    public let kind: Kind

    public init(_ thing: String, _ reason: String, kind: Kind) {
        self.thing = thing
        self.reason = reason
        self.kind = kind
    }
}
