import SovereignFormats

/// The policy itself must not have expired: an old policy may still trust
/// keys its owners have since revoked.
public struct PolicyExpiryRule: TrustRule {
    public let name = "policy-expiry"
    /// Unix seconds from which the policy is refused; nil: never.
    public let expires: Int64?

    public init(expires: Int64?) {
        self.expires = expires
    }

    public func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult {
        guard let expires, input.context.now >= expires else { return .meetsPolicy }
        return .failsToMeetPolicy(reason: "policy: expired at \(Timestamp.format(expires)) (it is now \(Timestamp.format(input.context.now)))")
    }
}
