import SovereignCrypto
import SovereignFormats

extension TrustDecision {
    /// `verifiedLevels` entry when the release threshold was met (and so
    /// every check passed). Ours, not an SLSA track: the policy checks k of
    /// n release signatures, not how the build ran.
    public static let releaseThresholdLevel = "SOVEREIGN_RELEASE_THRESHOLD_MET"
    /// Added when the policy also demanded certifier signatures.
    public static let certifierThresholdLevel = "SOVEREIGN_CERTIFIER_THRESHOLD_MET"
    /// Added when the policy also demanded policy authors' approval of the constraint layer.
    public static let policyAuthorThresholdLevel = "SOVEREIGN_POLICY_AUTHOR_THRESHOLD_MET"
    /// The policy URI a VSA names when the caller has none better.
    public static let defaultPolicyURI = "https://sovereign.dev/trust-policy/v1"

    /// A SLSA VSA v1 predicate stating this decision: PASSED with our
    /// levels, or FAILED (`verifiedLevels: ["FAILED"]`). Lists every
    /// attestation checked, by the digest of its envelope. The caller wraps
    /// it in an in-toto statement about the manifest and signs it.
    ///
    /// - Parameter timeVerified: Unix seconds; nil leaves the field out (a
    ///   reproducible summary).
    /// - Note: `resourceURI`, `verifierID` and `policyURI` must not be
    ///   empty; `SLSAVerificationSummary.statement(subjects:)` (which
    ///   `verificationSummaryStatement` calls) validates before signing.
    public func verificationSummary(resourceURI: String, policyDigest: SHA256Digest, verifierID: String,
                                    timeVerified: Int64?, policyURI: String = TrustDecision.defaultPolicyURI,
                                    verifierVersion: [String: String] = [:]) -> SLSAVerificationSummary {
        var levels = ["FAILED"]
        if passed {
            levels = [Self.releaseThresholdLevel]
            if acceptedSigners[.certifier] != nil { levels.append(Self.certifierThresholdLevel) }
            if acceptedSigners[.policyAuthor] != nil { levels.append(Self.policyAuthorThresholdLevel) }
        }
        return SLSAVerificationSummary(
            verifier: .init(id: verifierID, version: verifierVersion),
            timeVerified: timeVerified.map(Timestamp.format),
            resourceUri: resourceURI,
            policy: ResourceDescriptor(uri: policyURI, sha256: policyDigest),
            inputAttestations: attestations.map {
                ResourceDescriptor(uri: $0.uri, sha256: $0.digest, mediaType: OCIMediaType.dsseEnvelope)
            },
            verificationResult: passed ? .passed : .failed,
            verifiedLevels: levels)
    }

    /// The statement to sign: the summary, about this decision's manifest.
    public func verificationSummaryStatement(_ summary: SLSAVerificationSummary, subjectName: String? = nil) throws(FormatsError) -> InTotoStatement {
        try summary.statement(subjects: [InTotoStatement.Subject(name: subjectName, digest: ["sha256": manifestDigest.hex])])
    }
}
