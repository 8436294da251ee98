/// Every attestation the image carries must be readable, about this very
/// image (a layer approval: about the constraint layer it carries), and free of signatures that claim a policy key but do not
/// verify: a statement about another manifest (mix-and-match), an
/// approval of another version of the layer, or an altered envelope is refused even when it is not one the thresholds
/// count. Signatures by keys outside the policy are ignored here.
public struct AttestationIntegrityRule: TrustRule {
    public let name = "attestation-integrity"

    public init() {}

    public func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult {
        for (index, attestation) in input.evidence.attestations.enumerated() {
            guard attestation.statement != nil else {
                return .failsToMeetPolicy(reason: "\(input.label(index)): payload is not an in-toto statement: \(attestation.statementProblem ?? "unreadable")")
            }
            if let problem = input.evidence.aboutProblem(attestation) {
                return .failsToMeetPolicy(reason: "\(input.label(index)): \(problem)")
            }
            if let bad = input.signatures.reports[index].first(where: { $0.status == .badSignature }) {
                return .failsToMeetPolicy(reason: "\(input.label(index)): the signature claiming key \(bad.keyid) does not verify (payload or signature altered)")
            }
        }
        return .meetsPolicy
    }
}
