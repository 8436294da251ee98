/// Each required predicate type must be attested about this image. (Who
/// must have signed it is `SignatureThresholdRule`'s business.)
public struct RequiredPredicatesRule: TrustRule {
    public let name = "required-predicates"
    public let requiredPredicates: [String]

    public init(requiredPredicates: [String]) {
        self.requiredPredicates = requiredPredicates
    }

    public func evaluate(_ input: TrustRuleInput) -> PolicyEvaluationResult {
        let manifest = input.evidence.manifestDigest
        for type in requiredPredicates {
            let ofType = input.evidence.attestations.filter { $0.statement?.predicateType == type }
            if ofType.contains(where: { $0.isAbout(manifest) }) { continue }
            guard let foreign = ofType.first else {
                return .failsToMeetPolicy(reason: "predicate \(type): the image carries no attestation of this type")
            }
            return .failsToMeetPolicy(reason: "predicate \(type): the attestation of this type is about \(foreign.subjectDigests), not this image's manifest \(manifest.prefixed) (mix-and-match)")
        }
        return .meetsPolicy
    }
}
