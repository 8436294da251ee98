/// The image's sequence must be at least the policy's floor: images the
/// owners have retired for good stay refused even on a fresh appliance.
public struct MinimumSequenceRule: TrustRule {
    public let name = "minimum-sequence"
    public let minimumSequence: Int64

    public init(minimumSequence: Int64) {
        self.minimumSequence = minimumSequence
    }

    public func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult {
        let sequence = input.evidence.sequence
        guard sequence < minimumSequence else { return .meetsPolicy }
        return .failsToMeetPolicy(reason: "sequence: \(sequence) is below the policy's minimum sequence \(minimumSequence)")
    }
}
