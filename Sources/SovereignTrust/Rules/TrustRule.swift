/// The verdict of one rule: met, or not and why. The reason starts with
/// the rule's subject ("sequence: …", "model: …") so a list of them reads
/// on its own (swift-certificates' `PolicyEvaluationResult`).
public enum PolicyEvaluationResult: Sendable, Equatable {
    case meetsPolicy
    case failsToMeetPolicy(reason: String)
}

/// One thing a trust policy demands of an image. Each rule is its own
/// type holding the part of the policy it enforces; `AllOfTrustRules`
/// combines them, so the policy reads as a list of checks.
public protocol TrustRule: Sendable {
    /// The check's name in decisions and reports ("minimum-sequence").
    var name: String { get }
    func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult
}

/// What every rule sees: the evidence, the context, and the signatures
/// checked once for all rules.
public struct TrustRuleInput: Sendable {
    public let evidence: ImageEvidence
    public let context: TrustContext
    public let signatures: SignatureAnalysis

    /// Checks every signature once, against `policy` at `context.now`.
    public init(evidence: ImageEvidence, context: TrustContext, policy: TrustPolicy) {
        self.evidence = evidence
        self.context = context
        self.signatures = SignatureAnalysis(attestations: evidence.attestations, policy: policy, now: context.now)
    }

    /// How attestation `index` is named in reasons: `attestation[0]`, with
    /// its location and predicate type when known.
    func label(_ index: Int) -> String {
        let attestation = evidence.attestations[index]
        var details: [String] = []
        if let uri = attestation.uri { details.append(uri) }
        if let type = attestation.statement?.predicateType { details.append(type) }
        return "attestation[\(index)]" + (details.isEmpty ? "" : " (\(details.joined(separator: ", ")))")
    }
}

/// Every rule, in order; the image meets the policy when all of them do.
/// All rules run (a report lists every problem, not just the first).
public struct AllOfTrustRules: Sendable {
    public let rules: [any TrustRule]

    public init(_ rules: [any TrustRule]) {
        self.rules = rules
    }

    public func evaluate(_ input: TrustRuleInput) -> [TrustCheck] {
        rules.map { rule in
            switch rule.evaluate(input) {
            case .meetsPolicy: return TrustCheck(name: rule.name, outcome: .passed)
            case .failsToMeetPolicy(let reason): return TrustCheck(name: rule.name, outcome: .failed(reason: reason))
            }
        }
    }
}
