import SovereignFormats

/// Decides whether an image meets a trust policy.
public enum TrustEvaluator {
    /// The policy as rules, in the order they are reported:
    /// policy expiry, minimum sequence, no downgrade, allowed model,
    /// attestation integrity, required predicates, release threshold, and
    /// the certifier threshold when the policy sets one.
    public static func rules(for policy: TrustPolicy) -> AllOfTrustRules {
        var rules: [any TrustRule] = [
            PolicyExpiryRule(expires: policy.expires),
            MinimumSequenceRule(minimumSequence: policy.minimumSequence),
            NoDowngradeRule(allowDowngrade: policy.allowDowngrade),
            AllowedModelRule(allowedModels: policy.allowedModels),
            AttestationIntegrityRule(),
            RequiredPredicatesRule(requiredPredicates: policy.requiredPredicates),
        ]
        for role in TrustPolicy.Role.allCases {
            guard let threshold = policy.thresholds[role] else { continue }
            let types = role == .release ? policy.requiredPredicates : [SLSAVerificationSummary.predicateType]
            rules.append(SignatureThresholdRule(role: role, threshold: threshold, predicateTypes: types))
        }
        return AllOfTrustRules(rules)
    }

    public static func evaluate(_ evidence: ImageEvidence, policy: TrustPolicy, context: TrustContext) -> TrustDecision {
        let input = TrustRuleInput(evidence: evidence, context: context, policy: policy)
        let rules = rules(for: policy)
        let checks = rules.evaluate(input)

        var accepted: [TrustPolicy.Role: [String]] = [:]
        for case let rule as SignatureThresholdRule in rules.rules {
            let keys = Set(rule.tally(input).flatMap(\.counted))
            accepted[rule.role] = keys.sorted()
        }
        return TrustDecision(
            manifestDigest: evidence.manifestDigest,
            checks: checks,
            acceptedSigners: accepted,
            signatures: input.signatures.reports.flatMap { $0 },
            attestations: evidence.attestations.map {
                TrustDecision.AttestationRecord(uri: $0.uri, digest: $0.envelopeDigest, predicateType: $0.statement?.predicateType)
            })
    }
}
