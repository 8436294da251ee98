import SovereignCrypto
import SovereignFormats

/// Decides whether an image meets a trust policy.
public enum TrustEvaluator {
    /// The policy as rules, in the order they are reported:
    /// policy expiry, minimum sequence, no downgrade, allowed model,
    /// attestation integrity, required predicates, release threshold, and
    /// the certifier and policy-author thresholds when the policy sets them.
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
            rules.append(SignatureThresholdRule(role: role, threshold: threshold, predicateTypes: role.countedPredicateTypes(policy),
                                                certificationEngines: role == .certifier ? policy.certificationEngines : nil))
        }
        return AllOfTrustRules(rules)
    }

    public static func evaluate(_ evidence: ImageEvidence, policy: TrustPolicy, context: TrustContext) -> TrustDecision {
        decide(rules(for: policy), evidence, policy: policy, context: context)
    }

    /// An auditor's check of one certification on its own: the policy's
    /// expiry, then `thresholds.certifier` distinct certifier keys (not
    /// revoked, not expired) signing a PASSED certification of the image
    /// `manifest` carrying `constraintLayer`. Throws when the policy sets no
    /// certifier threshold (it trusts no certifier).
    public static func evaluateCertification(_ attestation: ImageEvidence.Attestation, manifest: SHA256Digest, constraintLayer: SHA256Digest,
                                             policy: TrustPolicy, context: TrustContext, source: String) throws(TrustError) -> TrustDecision {
        guard let threshold = policy.thresholds[.certifier] else {
            throw TrustError(source: source, reason: "sets no certifier threshold, so it trusts no certifier (see 'sovereign policy init --certifier-key')")
        }
        let evidence = ImageEvidence(manifestDigest: manifest, sequence: 0, modelDigest: manifest, constraintLayerDigest: constraintLayer,
                                     attestations: [attestation])
        let rules = AllOfTrustRules([
            PolicyExpiryRule(expires: policy.expires),
            SignatureThresholdRule(role: .certifier, threshold: threshold, predicateTypes: [SLSAVerificationSummary.predicateType],
                                   certificationEngines: policy.certificationEngines),
        ])
        return decide(rules, evidence, policy: policy, context: context)
    }

    private static func decide(_ rules: AllOfTrustRules, _ evidence: ImageEvidence, policy: TrustPolicy, context: TrustContext) -> TrustDecision {
        let input = TrustRuleInput(evidence: evidence, context: context, policy: policy)
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
