import SovereignCrypto
import SovereignFormats
import Testing
@testable import SovereignTrust

@Suite struct VerificationSummaryTests {
    static let policyDigest = SHA256.hash(Array("trust-policy.json".utf8))

    static func decision(signedBy signers: [UInt8], threshold: Int, certifier: Bool = false) throws -> (TrustDecision, [ImageEvidence.Attestation]) {
        let a = try Fixture.key(1), b = try Fixture.key(2)
        var keys = [Fixture.trusted(a, certifier ? [.release, .certifier] : [.release]), Fixture.trusted(b)]
        if certifier { keys[1] = Fixture.trusted(b) }
        var thresholds: [TrustPolicy.Role: Int] = [.release: threshold]
        if certifier { thresholds[.certifier] = 1 }
        let policy = try TrustPolicy(keys: keys, thresholds: thresholds)
        var attestations = [try Fixture.attestation(signedBy: try signers.map(Fixture.key), uri: "attestations/provenance.dsse.json")]
        if certifier { attestations.append(try Fixture.attestation(try Fixture.envelope(try Fixture.certification(), signedBy: [a]))) }
        let decision = TrustEvaluator.evaluate(Fixture.evidence(attestations: attestations), policy: policy, context: Fixture.context())
        return (decision, attestations)
    }

    /// Statement → canonical bytes → parsed statement → parsed summary.
    static func reread(_ statement: InTotoStatement) throws -> (InTotoStatement, SLSAVerificationSummary) {
        let parsed = try InTotoStatement(parsing: statement.canonicalBytes, source: "vsa")
        return (parsed, try SLSAVerificationSummary(statement: parsed, source: "vsa"))
    }

    @Test func statesAPassedDecision() throws {
        let (decision, attestations) = try Self.decision(signedBy: [1, 2], threshold: 2)
        #expect(decision.passed)
        let summary = decision.verificationSummary(resourceURI: "oci:reference:1.0.0", policyDigest: Self.policyDigest,
                                                   verifierID: "https://sovereign.dev/verifier/v1", timeVerified: Fixture.now,
                                                   policyURI: "trust-policy.json", verifierVersion: ["sovereign": "0.1.0"])
        #expect(summary.verificationResult == .passed)
        #expect(summary.verifiedLevels == ["SOVEREIGN_RELEASE_THRESHOLD_MET"])
        #expect(summary.timeVerified == "2026-06-01T00:00:00Z")
        #expect(summary.policy == ResourceDescriptor(uri: "trust-policy.json", sha256: Self.policyDigest))
        #expect(summary.inputAttestations == [ResourceDescriptor(uri: "attestations/provenance.dsse.json", sha256: attestations[0].envelopeDigest,
                                                                 mediaType: "application/vnd.dsse.envelope.v1+json")])
        #expect(summary.verifier == .init(id: "https://sovereign.dev/verifier/v1", version: ["sovereign": "0.1.0"]))

        let statement = try decision.verificationSummaryStatement(summary, subjectName: "reference:1.0.0")
        #expect(statement.subjects == [.init(name: "reference:1.0.0", digest: ["sha256": Fixture.manifest.hex])])
        let (parsed, reread) = try Self.reread(statement)
        #expect(parsed.predicateType == "https://slsa.dev/verification_summary/v1")
        #expect(reread == summary)
    }

    @Test func statesAFailedDecision() throws {
        let (decision, _) = try Self.decision(signedBy: [1], threshold: 2)
        #expect(!decision.passed)
        let summary = decision.verificationSummary(resourceURI: "oci:reference:1.0.0", policyDigest: Self.policyDigest,
                                                   verifierID: "https://sovereign.dev/verifier/v1", timeVerified: nil)
        #expect(summary.verificationResult == .failed)
        #expect(summary.verifiedLevels == ["FAILED"])
        #expect(summary.timeVerified == nil)
        #expect(summary.policy.uri == TrustDecision.defaultPolicyURI)
        let (_, reread) = try Self.reread(try decision.verificationSummaryStatement(summary))
        #expect(reread == summary)
    }

    @Test func namesTheCertifierLevelWhenCertificationWasRequired() throws {
        let (decision, attestations) = try Self.decision(signedBy: [1], threshold: 1, certifier: true)
        #expect(decision.passed)
        let summary = decision.verificationSummary(resourceURI: "oci:reference:1.0.0", policyDigest: Self.policyDigest,
                                                   verifierID: "https://sovereign.dev/verifier/v1", timeVerified: nil)
        #expect(summary.verifiedLevels == ["SOVEREIGN_RELEASE_THRESHOLD_MET", "SOVEREIGN_CERTIFIER_THRESHOLD_MET"])
        #expect(summary.inputAttestations?.map { $0.digest["sha256"] } == attestations.map(\.envelopeDigest.hex))
        #expect(summary.inputAttestations?[1].uri == nil)
        try summary.validate()
        #expect(try Self.reread(try decision.verificationSummaryStatement(summary)).1 == summary)
    }
}
