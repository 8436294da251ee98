import SovereignCrypto
import SovereignFormats
import Testing
@testable import SovereignTrust

@Suite struct TrustEvaluatorTests {
    static let allChecks = ["policy-expiry", "minimum-sequence", "no-downgrade", "allowed-model",
                            "attestation-integrity", "required-predicates", "release-threshold"]

    static func evaluate(_ evidence: ImageEvidence, _ policy: TrustPolicy, installed: Int64? = nil) -> TrustDecision {
        TrustEvaluator.evaluate(evidence, policy: policy, context: Fixture.context(installed: installed))
    }

    // MARK: - Passing

    @Test func passesWithOneOfOne() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.passed)
        #expect(decision.firstFailure == nil)
        #expect(decision.checks.map(\.name) == Self.allChecks)
        #expect(decision.failedChecks.isEmpty)
        #expect(decision.acceptedSigners == [.release: [a.publicKey.keyID]])
        #expect(decision.signatures == [SignatureReport(attestation: 0, keyid: a.publicKey.keyID, status: .trusted(roles: [.release]))])
    }

    @Test func passesWithTwoOfTwo() throws {
        let a = try Fixture.key(1), b = try Fixture.key(2)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], thresholds: [.release: 2])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [b, a])]), policy)
        #expect(decision.passed)
        #expect(decision.acceptedSigners[.release] == [a.publicKey.keyID, b.publicKey.keyID].sorted())
    }

    @Test func passesWithEveryRequiredPredicateSigned() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1],
                                     requiredPredicates: [Fixture.provenance, Fixture.sbom])
        let evidence = Fixture.evidence(attestations: [
            try Fixture.attestation(signedBy: [a]),
            try Fixture.attestation(predicateType: Fixture.sbom, signedBy: [a]),
        ])
        #expect(Self.evaluate(evidence, policy).passed)
    }

    @Test func countsAKeyThatExpiresLater() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a, expires: Fixture.now + 1)], thresholds: [.release: 1],
                                     expires: Fixture.now + 1)
        #expect(Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy).passed)
    }

    @Test func ignoresSignaturesByKeysOutsideThePolicy() throws {
        let a = try Fixture.key(1), stranger = try Fixture.key(9)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        var envelope = try Fixture.envelope(try Fixture.statement(about: Fixture.manifest), signedBy: [a, stranger])
        // Even a garbage signature is fine when it claims a key we do not know.
        envelope.signatures.append(.init(keyid: SHA256.hash(Array("nobody".utf8)).hex, sig: [UInt8](repeating: 7, count: 64)))
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(envelope)]), policy)
        #expect(decision.passed)
        #expect(decision.signatures.map(\.status) == [.trusted(roles: [.release]), .unknownKey, .unknownKey])
    }

    @Test func findsTheKeyOfASignatureWithoutKeyID() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        var envelope = try Fixture.envelope(try Fixture.statement(about: Fixture.manifest), signedBy: [a])
        envelope.signatures[0].keyid = ""
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(envelope)]), policy)
        #expect(decision.passed)
        #expect(decision.acceptedSigners[.release] == [a.publicKey.keyID])
    }

    // MARK: - Refused, each with its own reason

    @Test func refusesAWrongKey() throws {
        let a = try Fixture.key(1), wrong = try Fixture.key(9)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [wrong])]), policy)
        #expect(!decision.passed)
        #expect(decision.failedChecks == ["release-threshold"])
        #expect(decision.firstFailure?.failureReason == "release signatures: https://slsa.dev/provenance/v1 is signed by 0 of the required 1 distinct release keys (counted: none; not counted: \(wrong.publicKey.keyID) is not in the policy)")
        #expect(decision.acceptedSigners == [.release: []])
    }

    @Test func refusesAnExpiredKey() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a, expires: Fixture.lastNewYear)], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.failedChecks == ["release-threshold"])
        #expect(decision.firstFailure?.failureReason == "release signatures: https://slsa.dev/provenance/v1 is signed by 0 of the required 1 distinct release keys (counted: none; not counted: \(a.publicKey.keyID) expired at 2026-01-01T00:00:00Z)")
        #expect(decision.signatures.map(\.status) == [.expired(at: Fixture.lastNewYear)])
    }

    @Test func refusesAKeyAtTheInstantItExpires() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a, expires: Fixture.now)], thresholds: [.release: 1])
        #expect(!Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy).passed)
    }

    @Test func refusesARevokedKey() throws {
        let a = try Fixture.key(1), b = try Fixture.key(2)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], revokedKeys: [a.publicKey.keyID], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.failedChecks == ["release-threshold"])
        #expect(decision.firstFailure?.failureReason == "release signatures: https://slsa.dev/provenance/v1 is signed by 0 of the required 1 distinct release keys (counted: none; not counted: \(a.publicKey.keyID) is revoked)")
    }

    @Test func refusesARevokedKeyThePolicyNoLongerLists() throws {
        let a = try Fixture.key(1), gone = try Fixture.key(3)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], revokedKeys: [gone.publicKey.keyID], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [gone])]), policy)
        #expect(decision.signatures.map(\.status) == [.revoked])
        #expect(decision.reason("release-threshold")?.hasSuffix("\(gone.publicKey.keyID) is revoked)") == true)
    }

    @Test func refusesOneOfTwo() throws {
        let a = try Fixture.key(1), b = try Fixture.key(2)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], thresholds: [.release: 2])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.failedChecks == ["release-threshold"])
        #expect(decision.firstFailure?.failureReason == "release signatures: https://slsa.dev/provenance/v1 is signed by 1 of the required 2 distinct release keys (counted: \(a.publicKey.keyID))")
        #expect(decision.acceptedSigners[.release] == [a.publicKey.keyID])
    }

    @Test func refusesAnAttestationCopiedFromAnotherImage() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        let copied = try Fixture.attestation(about: Fixture.otherManifest, signedBy: [a], uri: "blobs/sha256/feed")
        let decision = Self.evaluate(Fixture.evidence(attestations: [copied]), policy)
        #expect(decision.failedChecks == ["attestation-integrity", "required-predicates", "release-threshold"])
        #expect(decision.firstFailure?.failureReason == "attestation[0] (blobs/sha256/feed, https://slsa.dev/provenance/v1): statement is about \(Fixture.otherManifest.prefixed), not this image's manifest \(Fixture.manifest.prefixed) (mix-and-match: an attestation copied from another image)")
        #expect(decision.reason("required-predicates") == "predicate https://slsa.dev/provenance/v1: the attestation of this type is about \(Fixture.otherManifest.prefixed), not this image's manifest \(Fixture.manifest.prefixed) (mix-and-match)")
        #expect(decision.reason("release-threshold") == "release signatures: no attestation of type https://slsa.dev/provenance/v1 about this image to count signatures on")
    }

    @Test func refusesACopiedAttestationBesideAGenuineOne() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [
            try Fixture.attestation(signedBy: [a]),
            try Fixture.attestation(about: Fixture.otherManifest, predicateType: Fixture.sbom, signedBy: [a]),
        ]), policy)
        #expect(decision.failedChecks == ["attestation-integrity"])
        #expect(decision.firstFailure?.failureReason?.hasPrefix("attestation[1] (https://cyclonedx.org/bom): statement is about \(Fixture.otherManifest.prefixed)") == true)
    }

    @Test func refusesAnOlderImageAfterANewerOne() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        let evidence = Fixture.evidence(sequence: 5, attestations: [try Fixture.attestation(signedBy: [a])])
        let decision = Self.evaluate(evidence, policy, installed: 7)
        #expect(decision.failedChecks == ["no-downgrade"])
        #expect(decision.firstFailure?.failureReason == "sequence: 5 is older than the installed sequence 7 (rollback; the policy does not allow downgrades)")
        // Reinstalling the same sequence and upgrading are fine.
        #expect(Self.evaluate(evidence, policy, installed: 5).passed)
        #expect(Self.evaluate(evidence, policy, installed: 4).passed)
        #expect(Self.evaluate(evidence, policy, installed: nil).passed)
    }

    @Test func acceptsAnOlderImageWhenThePolicyAllowsDowngrades() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], allowDowngrade: true)
        let evidence = Fixture.evidence(sequence: 5, attestations: [try Fixture.attestation(signedBy: [a])])
        #expect(Self.evaluate(evidence, policy, installed: 7).passed)
    }

    @Test func refusesASequenceBelowThePolicysMinimum() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], minimumSequence: 6, allowDowngrade: true)
        let decision = Self.evaluate(Fixture.evidence(sequence: 5, attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.failedChecks == ["minimum-sequence"])
        #expect(decision.firstFailure?.failureReason == "sequence: 5 is below the policy's minimum sequence 6")
    }

    @Test func refusesAnExpiredPolicy() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], expires: Fixture.lastNewYear)
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.failedChecks == ["policy-expiry"])
        #expect(decision.firstFailure?.failureReason == "policy: expired at 2026-01-01T00:00:00Z (it is now 2026-06-01T00:00:00Z)")
    }

    @Test func refusesADisallowedModel() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], allowedModels: [Fixture.otherModel])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.failedChecks == ["allowed-model"])
        #expect(decision.firstFailure?.failureReason == "model: sha256 \(Fixture.model.hex) is not among the policy's 1 allowed model")
        let allowing = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], allowedModels: [Fixture.otherModel, Fixture.model])
        #expect(Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), allowing).passed)
    }

    @Test func refusesAMissingRequiredPredicate() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], requiredPredicates: [Fixture.provenance, Fixture.sbom])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a])]), policy)
        #expect(decision.failedChecks == ["required-predicates", "release-threshold"])
        #expect(decision.firstFailure?.failureReason == "predicate https://cyclonedx.org/bom: the image carries no attestation of this type")
        #expect(decision.reason("release-threshold") == "release signatures: no attestation of type https://cyclonedx.org/bom about this image to count signatures on")
    }

    @Test func refusesAnImageWithNoAttestations() throws {
        let policy = try TrustPolicy(keys: [Fixture.trusted(try Fixture.key(1))], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: []), policy)
        #expect(decision.firstFailure?.failureReason == "predicate https://slsa.dev/provenance/v1: the image carries no attestation of this type")
    }

    @Test func refusesABadSignatureClaimingATrustedKey() throws {
        let a = try Fixture.key(1), b = try Fixture.key(2)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], thresholds: [.release: 1])
        // A's signature over the genuine statement, moved onto an altered one that B signed.
        let genuine = try Fixture.envelope(try Fixture.statement(about: Fixture.manifest), signedBy: [a])
        var altered = try Fixture.envelope(try Fixture.statement(about: Fixture.manifest, predicate: .object(["note": .string("altered")])), signedBy: [b])
        altered.signatures.append(genuine.signatures[0])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(altered)]), policy)
        #expect(decision.failedChecks == ["attestation-integrity"])
        #expect(decision.firstFailure?.failureReason == "attestation[0] (https://slsa.dev/provenance/v1): the signature claiming key \(a.publicKey.keyID) does not verify (payload or signature altered)")
        #expect(decision.signatures.map(\.status) == [.trusted(roles: [.release]), .badSignature])
    }

    @Test func refusesAPayloadThatIsNotAStatement() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        var envelope = DSSEEnvelope(payload: Array("{\"hello\":1}".utf8), payloadType: DSSEEnvelope.inTotoPayloadType)
        try envelope.sign(with: a)
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(envelope)]), policy)
        #expect(decision.firstFailure?.name == "attestation-integrity")
        #expect(decision.firstFailure?.failureReason == "attestation[0]: payload is not an in-toto statement: missing field '_type'")

        var other = DSSEEnvelope(payload: try Fixture.statement(about: Fixture.manifest).canonicalBytes, payloadType: "text/plain")
        try other.sign(with: a)
        #expect(Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(other)]), policy).firstFailure?.failureReason
                == "attestation[0]: payload is not an in-toto statement: payloadType is 'text/plain', expected 'application/vnd.in-toto+json'")
    }

    @Test func givesEachRefusalItsOwnReason() throws {
        let a = try Fixture.key(1), b = try Fixture.key(2), wrong = try Fixture.key(9)
        let one = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1])
        let signedByA = try Fixture.attestation(signedBy: [a])
        let reasons = [
            Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [wrong])]), one),
            Self.evaluate(Fixture.evidence(attestations: [signedByA]),
                          try TrustPolicy(keys: [Fixture.trusted(a, expires: Fixture.lastNewYear)], thresholds: [.release: 1])),
            Self.evaluate(Fixture.evidence(attestations: [signedByA]),
                          try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], revokedKeys: [a.publicKey.keyID], thresholds: [.release: 1])),
            Self.evaluate(Fixture.evidence(attestations: [signedByA]),
                          try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], thresholds: [.release: 2])),
            Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(about: Fixture.otherManifest, signedBy: [a])]), one),
            Self.evaluate(Fixture.evidence(sequence: 3, attestations: [signedByA]), one, installed: 4),
            Self.evaluate(Fixture.evidence(attestations: [signedByA]),
                          try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], expires: Fixture.lastNewYear)),
            Self.evaluate(Fixture.evidence(attestations: [signedByA]),
                          try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], allowedModels: [Fixture.otherModel])),
            Self.evaluate(Fixture.evidence(attestations: [signedByA]),
                          try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], requiredPredicates: [Fixture.sbom])),
        ].map { $0.firstFailure?.failureReason ?? "passed" }
        #expect(!reasons.contains("passed"))
        #expect(Set(reasons).count == reasons.count)
    }

    // MARK: - Counting

    @Test func countsDuplicateSignaturesByOneKeyOnce() throws {
        let a = try Fixture.key(1), b = try Fixture.key(2)
        var envelope = try Fixture.envelope(try Fixture.statement(about: Fixture.manifest), signedBy: [a])
        envelope.signatures.append(envelope.signatures[0])
        let attestation = try Fixture.attestation(envelope)

        let twoOfTwo = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], thresholds: [.release: 2])
        let refused = Self.evaluate(Fixture.evidence(attestations: [attestation]), twoOfTwo)
        #expect(refused.firstFailure?.failureReason == "release signatures: https://slsa.dev/provenance/v1 is signed by 1 of the required 2 distinct release keys (counted: \(a.publicKey.keyID); not counted: \(a.publicKey.keyID) signed more than once (counted once))")
        #expect(refused.signatures.map(\.status) == [.trusted(roles: [.release]), .duplicate])

        let oneOfTwo = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(b)], thresholds: [.release: 1])
        let accepted = Self.evaluate(Fixture.evidence(attestations: [attestation]), oneOfTwo)
        #expect(accepted.passed)
        #expect(accepted.acceptedSigners[.release] == [a.publicKey.keyID])
    }

    @Test func countsOneKeyUnderTwoRoles() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a, [.release, .certifier])], thresholds: [.release: 1, .certifier: 1])
        let evidence = Fixture.evidence(attestations: [
            try Fixture.attestation(signedBy: [a]),
            try Fixture.attestation(try Fixture.envelope(try Fixture.certification(), signedBy: [a])),
        ])
        let decision = Self.evaluate(evidence, policy)
        #expect(decision.passed)
        #expect(decision.checks.map(\.name) == Self.allChecks + ["certifier-threshold"])
        #expect(decision.acceptedSigners == [.release: [a.publicKey.keyID], .certifier: [a.publicKey.keyID]])
        #expect(decision.signatures.map(\.status) == [.trusted(roles: [.release, .certifier]), .trusted(roles: [.release, .certifier])])
    }

    @Test func refusesAKeyWithTheWrongRole() throws {
        let a = try Fixture.key(1), c = try Fixture.key(3)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(c, [.certifier])], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [c])]), policy)
        #expect(decision.firstFailure?.failureReason == "release signatures: https://slsa.dev/provenance/v1 is signed by 0 of the required 1 distinct release keys (counted: none; not counted: \(c.publicKey.keyID) does not have role 'release')")
    }

    @Test func requiresAPassingCertificationWhenThePolicySetsACertifierThreshold() throws {
        let a = try Fixture.key(1), c = try Fixture.key(3)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(c, [.certifier])], thresholds: [.release: 1, .certifier: 1])
        let release = try Fixture.attestation(signedBy: [a])

        let uncertified = Self.evaluate(Fixture.evidence(attestations: [release]), policy)
        #expect(uncertified.failedChecks == ["certifier-threshold"])
        #expect(uncertified.firstFailure?.failureReason == "certifier signatures: no attestation of type https://slsa.dev/verification_summary/v1 about this image to count signatures on")

        // Signed by the certifier, but not a passing certification of this image's layer: none counts.
        let notCertifications: [(InTotoStatement, String)] = [
            (try Fixture.certification(result: .failed, levels: [CertificationClaim.intactLevel]), "says FAILED with levels [\(CertificationClaim.intactLevel)]"),
            (try Fixture.certification(levels: [CertificationClaim.intactLevel]), "says PASSED with levels [\(CertificationClaim.intactLevel)]"),
            (try Fixture.certification(layer: Fixture.otherConstraintLayer),
             "is about constraint layer \(Fixture.otherConstraintLayer.prefixed), but the image carries \(Fixture.constraintLayer.prefixed)"),
            (try Fixture.certification(verifier: "https://sovereign.dev/sovereign-verify"), "was written by verifier 'https://sovereign.dev/sovereign-verify'"),
        ]
        for (statement, reason) in notCertifications {
            let attestation = try Fixture.attestation(try Fixture.envelope(statement, signedBy: [c]), uri: "1.0.0.certification")
            let failure = Self.evaluate(Fixture.evidence(attestations: [release, attestation]), policy).firstFailure?.failureReason ?? "passed"
            #expect(failure.hasPrefix("certifier signatures: no certification of this image and its constraint layer says PASSED (1.0.0.certification "), "\(failure)")
            #expect(failure.contains(reason), "\(failure)")
        }
        var unknownLayer = Fixture.evidence(attestations: [release, try Fixture.attestation(try Fixture.envelope(try Fixture.certification(), signedBy: [c]))])
        unknownLayer.constraintLayerDigest = nil
        #expect(Self.evaluate(unknownLayer, policy).firstFailure?.failureReason?.contains("the image's constraint layer is unknown") == true)

        let byRelease = try Fixture.attestation(try Fixture.envelope(try Fixture.certification(), signedBy: [a]))
        #expect(Self.evaluate(Fixture.evidence(attestations: [release, byRelease]), policy).firstFailure?.failureReason
                == "certifier signatures: https://slsa.dev/verification_summary/v1 is signed by 0 of the required 1 distinct certifier keys (counted: none; not counted: \(a.publicKey.keyID) does not have role 'certifier')")

        let certified = try Fixture.attestation(try Fixture.envelope(try Fixture.certification(), signedBy: [c]))
        let decision = Self.evaluate(Fixture.evidence(attestations: [release, certified]), policy)
        #expect(decision.passed)
        #expect(decision.acceptedSigners == [.release: [a.publicKey.keyID], .certifier: [c.publicKey.keyID]])
    }

    /// A policy may accept only certifications made on named engines: the
    /// embedded one (bit-exact replay), or a remote engine reporting a
    /// named model. A certification made before engines were named is the
    /// embedded engine's.
    @Test func countsOnlyCertificationsMadeOnTheEnginesThePolicyNames() throws {
        let a = try Fixture.key(1), c = try Fixture.key(3)
        let release = try Fixture.attestation(signedBy: [a])
        func decide(_ engines: [String]?, _ version: [String: String]?) throws -> String? {
            let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(c, [.certifier])], thresholds: [.release: 1, .certifier: 1],
                                         certificationEngines: engines)
            let certified = try Fixture.attestation(try Fixture.envelope(try Fixture.certification(engine: version), signedBy: [c]))
            let decision = Self.evaluate(Fixture.evidence(attestations: [release, certified]), policy)
            return decision.passed ? nil : decision.firstFailure?.failureReason ?? "failed"
        }
        let embedded = ["engine": "embedded", "kernels": "avx2"]
        let vllm = ["engine": "openai", "engineURL": "http://10.0.0.2:8000/v1", "engineModel": "northmoor-8b", "engineVersion": "0.9"]
        #expect(try decide(nil, vllm) == nil)
        #expect(try decide(["embedded"], embedded) == nil)
        #expect(try decide(["embedded"], nil) == nil)
        #expect(try decide(["embedded", "openai:northmoor-8b"], vllm) == nil)
        let refused = try #require(try decide(["embedded"], vllm))
        #expect(refused.contains("was made on engine 'openai:northmoor-8b'; the trust policy accepts certifications made on: embedded"), "\(refused)")
        let otherModel = try #require(try decide(["openai:northmoor-70b"], vllm))
        #expect(otherModel.contains("'openai:northmoor-8b'"), "\(otherModel)")
        #expect(try decide(["openai:northmoor-8b"], embedded)?.contains("was made on engine 'embedded'") == true)
    }

    @Test func reportsWhatEverySignatureWasWorth() throws {
        let a = try Fixture.key(1), expired = try Fixture.key(2), revoked = try Fixture.key(3), stranger = try Fixture.key(9)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a), Fixture.trusted(expired, expires: Fixture.lastNewYear), Fixture.trusted(revoked)],
                                     revokedKeys: [revoked.publicKey.keyID], thresholds: [.release: 1])
        let decision = Self.evaluate(Fixture.evidence(attestations: [try Fixture.attestation(signedBy: [a, expired, revoked, stranger])]), policy)
        #expect(decision.passed)
        #expect(decision.signatures.map(\.keyid) == [a, expired, revoked, stranger].map(\.publicKey.keyID))
        #expect(decision.signatures.map(\.statusName) == ["trusted", "expired", "revoked", "unknown-key"])
        let json = decision.json()
        #expect(json["passed"] == .bool(true))
        #expect(json["signatures"]?.arrayValue?[1]["expired"] == .string("2026-01-01T00:00:00Z"))
        #expect(json["checks"]?.arrayValue?.count == Self.allChecks.count)
    }

    @Test func listsEveryFailureNotJustTheFirst() throws {
        let a = try Fixture.key(1)
        let policy = try TrustPolicy(keys: [Fixture.trusted(a)], thresholds: [.release: 1], minimumSequence: 9,
                                     allowedModels: [Fixture.otherModel], expires: Fixture.lastNewYear)
        let decision = Self.evaluate(Fixture.evidence(sequence: 2, attestations: []), policy, installed: 3)
        #expect(decision.failedChecks == Self.allChecks.filter { $0 != "attestation-integrity" })
        #expect(decision.firstFailure?.name == "policy-expiry")
    }
}
