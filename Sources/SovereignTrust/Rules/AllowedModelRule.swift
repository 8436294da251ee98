import SovereignCrypto

/// The model must be one the policy approves, when it names any.
public struct AllowedModelRule: TrustRule {
    public let name = "allowed-model"
    /// Nil: any model.
    public let allowedModels: [SHA256Digest]?

    public init(allowedModels: [SHA256Digest]?) {
        self.allowedModels = allowedModels
    }

    public func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult {
        guard let allowedModels, !allowedModels.contains(input.evidence.modelDigest) else { return .meetsPolicy }
        let count = allowedModels.count
        return .failsToMeetPolicy(reason: "model: sha256 \(input.evidence.modelDigest.hex) is not among the policy's \(count) allowed model\(count == 1 ? "" : "s")")
    }
}
