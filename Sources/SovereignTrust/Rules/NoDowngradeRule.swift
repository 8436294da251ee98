/// Anti-rollback: an image older than the one installed is refused unless
/// the policy allows downgrades. The same sequence is fine (a reinstall).
public struct NoDowngradeRule: TrustRule {
    public let name = "no-downgrade"
    public let allowDowngrade: Bool

    public init(allowDowngrade: Bool) {
        self.allowDowngrade = allowDowngrade
    }

    public func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult {
        guard !allowDowngrade, let installed = input.context.installedSequence, input.evidence.sequence < installed else {
            return .meetsPolicy
        }
        return .failsToMeetPolicy(reason: "sequence: \(input.evidence.sequence) is older than the installed sequence \(installed) (rollback; the policy does not allow downgrades)")
    }
}
