import SovereignCrypto
import SovereignFormats
import SovereignTrust

/// Keys, statements, envelopes and a clock built in code, so nothing
/// depends on today or on files.
enum Fixture {
    /// The injected clock: 2026-06-01T00:00:00Z.
    static let now: Int64 = 1_780_272_000
    static let lastNewYear: Int64 = 1_767_225_600  // 2026-01-01T00:00:00Z
    static let nextNewYear: Int64 = 1_798_761_600  // 2027-01-01T00:00:00Z

    static let manifest = SHA256.hash(Array("image manifest 1.0.0".utf8))
    static let otherManifest = SHA256.hash(Array("image manifest 0.9.0".utf8))
    static let model = SHA256.hash(Array("model weights".utf8))
    static let constraintLayer = SHA256.hash(Array("constraint layer".utf8))
    static let otherConstraintLayer = SHA256.hash(Array("constraint layer, rules emptied".utf8))
    static let otherModel = SHA256.hash(Array("other model weights".utf8))

    static let provenance = SLSAProvenance.predicateType
    static let sbom = "https://cyclonedx.org/bom"

    /// A deterministic key: the seed is 32 copies of `n`.
    static func key(_ n: UInt8) throws -> Ed25519.PrivateKey {
        try Ed25519.PrivateKey(seed: [UInt8](repeating: n, count: 32))
    }

    static func statement(about subject: SHA256Digest, predicateType: String = provenance,
                          predicate: JSONValue = .object(["note": .string("test")])) throws -> InTotoStatement {
        try InTotoStatement(subjects: [.init(name: "reference:1.0.0", digest: ["sha256": subject.hex])],
                            predicateType: predicateType, predicate: predicate)
    }

    /// An envelope around `statement`, signed by each key in turn.
    static func envelope(_ statement: InTotoStatement, signedBy keys: [Ed25519.PrivateKey]) throws -> DSSEEnvelope {
        var envelope = DSSEEnvelope(payload: statement.canonicalBytes, payloadType: DSSEEnvelope.inTotoPayloadType)
        for key in keys { try envelope.sign(with: key) }
        return envelope
    }

    static func attestation(_ envelope: DSSEEnvelope, uri: String? = nil) throws -> ImageEvidence.Attestation {
        ImageEvidence.Attestation(envelope: envelope, envelopeDigest: SHA256.hash(try CanonicalJSON.encode(envelope)), uri: uri)
    }

    /// A statement of `predicateType` about `subject`, signed by `keys`.
    static func attestation(about subject: SHA256Digest = manifest, predicateType: String = provenance,
                            signedBy keys: [Ed25519.PrivateKey], uri: String? = nil) throws -> ImageEvidence.Attestation {
        try attestation(try envelope(try statement(about: subject, predicateType: predicateType), signedBy: keys), uri: uri)
    }

    static func evidence(sequence: Int64 = 5, model: SHA256Digest = model, attestations: [ImageEvidence.Attestation]) -> ImageEvidence {
        ImageEvidence(manifestDigest: manifest, sequence: sequence, modelDigest: model, constraintLayerDigest: constraintLayer, attestations: attestations)
    }

    static func trusted(_ key: Ed25519.PrivateKey, _ roles: Set<TrustPolicy.Role> = [.release], expires: Int64? = nil) -> TrustPolicy.TrustedKey {
        TrustPolicy.TrustedKey(publicKey: key.publicKey, roles: roles, expires: expires)
    }

    static func context(installed: Int64? = nil) -> TrustContext {
        TrustContext(now: now, installedSequence: installed)
    }

    /// A certification (a VSA as `sovereign certify` writes it) about
    /// `subject` and `layer`; `verifier` other than the certifier's makes it
    /// some other verification summary.
    static func certification(about subject: SHA256Digest = manifest, layer: SHA256Digest = constraintLayer,
                              result: SLSAVerificationSummary.VerificationResult = .passed,
                              levels: [String] = [CertificationClaim.intactLevel, CertificationClaim.loadBearingLevel],
                              verifier: String = CertificationClaim.verifierID,
                              engine: [String: String]? = nil) throws -> InTotoStatement {
        let summary = SLSAVerificationSummary(
            verifier: .init(id: verifier, version: engine ?? [:]), resourceUri: "oci:reference:1.0.0",
            policy: ResourceDescriptor(uri: "certification.policy.json", sha256: SHA256.hash(Array("policy".utf8))),
            verificationResult: result, verifiedLevels: levels)
        return try summary.statement(subjects: CertificationClaim.subjects(imageName: "reference:1.0.0", manifest: subject, constraintLayer: layer))
    }
}

extension TrustDecision {
    /// The reason of the check named `name`, nil if it passed.
    func reason(_ name: String) -> String? {
        checks.first { $0.name == name }?.failureReason
    }

    /// Names of the checks that failed, in order.
    var failedChecks: [String] { checks.filter { !$0.passed }.map(\.name) }
}
