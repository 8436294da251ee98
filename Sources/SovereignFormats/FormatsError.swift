import SovereignSystem

/// Every failure SovereignFormats reports: the thing (usually a file) and
/// the reason, printed by the CLI as `sovereign: <thing>: <reason>`.
public struct FormatsError: SovereignError, Sendable, Equatable {
    public let source: String
    public let reason: String

    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }

    public var thing: String { source }
}
