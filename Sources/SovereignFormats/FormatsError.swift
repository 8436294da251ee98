/// Every failure SovereignFormats reports: the thing (usually a file) and
/// the reason, printed by the CLI as `sovereign: <thing>: <reason>`.
public struct FormatsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let reason: String

    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }

    public var description: String { "\(source): \(reason)" }
}
