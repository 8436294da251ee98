import SovereignSystem
import SovereignFormats

/// Every failure SovereignTrust throws: a trust policy that cannot be read
/// or does not hold together. The thing (usually the policy file) and the
/// reason, printed by the CLI as `sovereign: <source>: <reason>`.
///
/// An image that fails to meet a policy is not an error: evaluation
/// returns a `TrustDecision` whose failed checks say why.
public struct TrustError: SovereignError, Sendable, Equatable {
    /// The file or value at fault ("trust-policy.json").
    public let source: String
    /// What is wrong, starting with the field's path ("keys[0].keyid: …").
    public let reason: String

    public init(source: String, reason: String) {
        self.source = source
        self.reason = reason
    }

    init(_ error: FormatsError) {
        self.init(source: error.source, reason: error.reason)
    }

    public var thing: String { source }
}
