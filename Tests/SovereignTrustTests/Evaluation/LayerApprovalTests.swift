import SovereignCrypto
import SovereignFormats
import SovereignPolicy
import Testing
@testable import SovereignTrust

/// Policy authors' approvals of a constraint layer: read strictly, counted
/// by the policy-author threshold only when they approve the very layer the
/// image carries, each refusal with its own reason.
@Suite struct LayerApprovalTests {
    static let files = [
        ConstraintLayerDigest.Entry(path: "rules.json", sha256: SHA256.hash(Array("rules".utf8))),
        ConstraintLayerDigest.Entry(path: "reference/service.md", sha256: SHA256.hash(Array("service".utf8))),
        ConstraintLayerDigest.Entry(path: "runtime.json", sha256: SHA256.hash(Array("runtime".utf8))),
    ]
    /// The same layer with one rule changed after approval.
    static let changedFiles = [ConstraintLayerDigest.Entry(path: "rules.json", sha256: SHA256.hash(Array("rules!".utf8)))] + files.dropFirst()

    static func approval(_ files: [ConstraintLayerDigest.Entry] = files, version: String = "1.0.0") throws -> LayerApproval {
        try LayerApproval(layer: "reference", version: version, approver: "Clinical governance board",
                          approvedOn: "2026-05-01T09:00:00Z", previous: nil, files: files)
    }

    static func attestation(_ approval: LayerApproval, signedBy keys: [Ed25519.PrivateKey]) throws -> ImageEvidence.Attestation {
        try Fixture.attestation(try Fixture.envelope(try approval.statement(), signedBy: keys))
    }

    /// An image carrying the layer `files`, released by `release`, with `approvals`.
    static func evidence(layer files: [ConstraintLayerDigest.Entry] = files, release: Ed25519.PrivateKey,
                         approvals: [ImageEvidence.Attestation]) throws -> ImageEvidence {
        ImageEvidence(manifestDigest: Fixture.manifest, sequence: 5, modelDigest: Fixture.model,
                      constraintLayerDigest: ConstraintLayerDigest.of(files),
                      attestations: [try Fixture.attestation(signedBy: [release])] + approvals)
    }

    static func policy(authors: [TrustPolicy.TrustedKey], threshold: Int, revoked: [String] = [], release: Ed25519.PrivateKey) throws -> TrustPolicy {
        try TrustPolicy(keys: [Fixture.trusted(release)] + authors, revokedKeys: revoked, thresholds: [.release: 1, .policyAuthor: threshold])
    }

    static func decide(_ evidence: ImageEvidence, _ policy: TrustPolicy) -> TrustDecision {
        TrustEvaluator.evaluate(evidence, policy: policy, context: Fixture.context())
    }

    // MARK: - The statement

    @Test func readsBackWhatItWrites() throws {
        let approval = try LayerApproval(layer: "reference", version: "2.0.0", approver: "Compliance office", approvedOn: "2026-05-01T09:00:00Z",
                                         previous: SHA256.hash(Array("1.0.0".utf8)), files: Self.files)
        let statement = try approval.statement()
        #expect(statement.subjects.first?.name == "constraint-layer")
        #expect(statement.subjects.first?.digest["sha256"] == ConstraintLayerDigest.of(Self.files).hex)
        #expect(statement.subjects.dropFirst().map(\.name) == ["reference/reference/service.md", "reference/rules.json", "reference/runtime.json"])
        let read = try LayerApproval(statement: try InTotoStatement(parsing: statement.canonicalBytes, source: "x"), source: "x")
        #expect(read == approval)
        #expect(read.problem(constraintLayer: ConstraintLayerDigest.of(Self.files)) == nil)
        #expect(read.problem(constraintLayer: ConstraintLayerDigest.of(Self.changedFiles))?.contains("but the image carries") == true)
    }

    /// Statements that must not be read as approvals, each with its reason.
    @Test func refusesAnApprovalThatContradictsItselfOrSaysMore() throws {
        let good = try Self.approval().statement()
        guard case .object(let predicate)? = good.predicate else { Issue.record("no predicate"); return }
        func statement(subjects: [InTotoStatement.Subject] = good.subjects, predicate: [String: JSONValue] = predicate) throws -> InTotoStatement {
            try InTotoStatement(subjects: subjects, predicateType: LayerApproval.predicateType, predicate: .object(predicate))
        }
        var lying = good.subjects
        lying[1] = .init(name: lying[1].name, digest: ["sha256": SHA256.hash(Array("other".utf8)).hex])
        var extra = predicate
        extra["scope"] = .string("everything")
        var control = predicate
        control["approver"] = .object(["role": .string("Board\u{9B}31m")])
        let cases: [(InTotoStatement, String)] = [
            (try statement(subjects: lying), "its files hash to"),
            (try statement(subjects: [good.subjects[1]] + good.subjects), "its first subject must be 'constraint-layer'"),
            (try statement(subjects: good.subjects + [.init(name: "other/rules.json", digest: ["sha256": Fixture.model.hex])]),
             "must be a file of layer 'reference'"),
            (try statement(predicate: extra), "scope"),
            (try statement(predicate: control), "approver.role must be 1 to 256 bytes of text without control characters"),
            (try statement(subjects: [good.subjects[0]]), "must approve 1 to 4096 files"),
            (try Fixture.statement(about: Fixture.manifest), "predicateType is"),
        ]
        for (statement, reason) in cases {
            #expect(throws: TrustError.self) { try LayerApproval(statement: statement, source: "approval") }
            do { _ = try LayerApproval(statement: statement, source: "approval") } catch {
                #expect(error.reason.contains(reason), "\(error.reason)")
            }
        }
    }

    // MARK: - The policy-author threshold

    @Test func twoAuthorsCoSigningMeetAThresholdOfTwo() throws {
        let release = try Fixture.key(1), board = try Fixture.key(2), pharmacist = try Fixture.key(3)
        let policy = try Self.policy(authors: [Fixture.trusted(board, [.policyAuthor]), Fixture.trusted(pharmacist, [.policyAuthor])],
                                     threshold: 2, release: release)
        let cosigned = try Self.evidence(release: release, approvals: [try Self.attestation(try Self.approval(), signedBy: [board, pharmacist])])
        let decision = Self.decide(cosigned, policy)
        #expect(decision.passed, "\(decision.checks)")
        #expect(decision.checks.map(\.name).last == "policyAuthor-threshold")
        #expect(decision.acceptedSigners[.policyAuthor] == [board.publicKey.keyID, pharmacist.publicKey.keyID].sorted())
        let summary = decision.verificationSummary(resourceURI: "oci:x", policyDigest: Fixture.model, verifierID: "v", timeVerified: nil)
        #expect(summary.verifiedLevels.contains(TrustDecision.policyAuthorThresholdLevel))

        // Two offices, each signing its own approval of the same layer, add up too.
        let separately = try Self.evidence(release: release, approvals: [
            try Self.attestation(try Self.approval(), signedBy: [board]),
            try Self.attestation(try LayerApproval(layer: "reference", version: "1.0.0", approver: "Chief pharmacist",
                                                   approvedOn: "2026-05-02T09:00:00Z", previous: nil, files: Self.files), signedBy: [pharmacist]),
        ])
        #expect(Self.decide(separately, policy).passed)
    }

    @Test func refusesEachMissingApprovalWithItsOwnReason() throws {
        let release = try Fixture.key(1), board = try Fixture.key(2), pharmacist = try Fixture.key(3)
        let authors = [Fixture.trusted(board, [.policyAuthor]), Fixture.trusted(pharmacist, [.policyAuthor])]
        let byBoard = try Self.attestation(try Self.approval(), signedBy: [board])
        let cases: [(ImageEvidence, TrustPolicy, String)] = [
            // Threshold not met.
            (try Self.evidence(release: release, approvals: [byBoard]), try Self.policy(authors: authors, threshold: 2, release: release),
             "policy author signatures: https://sovereign.dev/layer-approval/v1 is signed by 1 of the required 2 distinct policy author keys (counted: \(board.publicKey.keyID))"),
            // The author's key revoked.
            (try Self.evidence(release: release, approvals: [byBoard]),
             try Self.policy(authors: authors, threshold: 1, revoked: [board.publicKey.keyID], release: release),
             "is signed by 0 of the required 1 distinct policy author keys (counted: none; not counted: \(board.publicKey.keyID) is revoked)"),
            // The author's key expired.
            (try Self.evidence(release: release, approvals: [byBoard]),
             try Self.policy(authors: [Fixture.trusted(board, [.policyAuthor], expires: Fixture.lastNewYear)], threshold: 1, release: release),
             "not counted: \(board.publicKey.keyID) expired at 2026-01-01T00:00:00Z"),
            // Signed by the release engineer, who is not a policy author.
            (try Self.evidence(release: release, approvals: [try Self.attestation(try Self.approval(), signedBy: [release])]),
             try Self.policy(authors: authors, threshold: 1, release: release),
             "not counted: \(release.publicKey.keyID) does not have role 'policyAuthor'"),
            // No approval at all.
            (try Self.evidence(release: release, approvals: []), try Self.policy(authors: authors, threshold: 1, release: release),
             "policy author signatures: no approval of the constraint layer this image carries (\(ConstraintLayerDigest.of(Self.files).prefixed))"),
        ]
        var reasons: [String] = []
        for (evidence, policy, reason) in cases {
            let decision = Self.decide(evidence, policy)
            #expect(decision.failedChecks == ["policyAuthor-threshold"])
            let got = decision.reason("policyAuthor-threshold") ?? "passed"
            #expect(got.contains(reason), "\(got)")
            reasons.append(got)
        }
        #expect(Set(reasons).count == reasons.count)
    }

    /// A layer rebuilt with one rule changed, carrying the old approval:
    /// refused as evidence about something else, whatever the policy asks.
    @Test func refusesTheOldApprovalOfAChangedLayer() throws {
        let release = try Fixture.key(1), board = try Fixture.key(2)
        let stale = try Self.attestation(try Self.approval(), signedBy: [board])
        let image = try Self.evidence(layer: Self.changedFiles, release: release, approvals: [stale])
        let withAuthors = Self.decide(image, try Self.policy(authors: [Fixture.trusted(board, [.policyAuthor])], threshold: 1, release: release))
        #expect(withAuthors.failedChecks == ["attestation-integrity", "policyAuthor-threshold"])
        let carried = ConstraintLayerDigest.of(Self.changedFiles).prefixed, approved = ConstraintLayerDigest.of(Self.files).prefixed
        #expect(withAuthors.reason("attestation-integrity")?.contains(
            "approves constraint layer 'reference' version 1.0.0 (\(approved)), but the image carries \(carried) (an approval of another version of the layer)") == true,
            "\(withAuthors.checks)")
        #expect(withAuthors.reason("policyAuthor-threshold")?.contains("no approval of the constraint layer this image carries (\(carried))") == true)
        // A policy that asks for no approval still refuses the mismatched evidence.
        let releaseOnly = Self.decide(image, try TrustPolicy(keys: [Fixture.trusted(release)], thresholds: [.release: 1]))
        #expect(releaseOnly.failedChecks == ["attestation-integrity"])
        // The same approval beside the layer it approved passes.
        let genuine = try Self.evidence(release: release, approvals: [stale])
        #expect(Self.decide(genuine, try Self.policy(authors: [Fixture.trusted(board, [.policyAuthor])], threshold: 1, release: release)).passed)
    }

    /// Files are named by bytes: "K" and U+212A KELVIN SIGN are one
    /// character to Swift's `==`, two names to a file system and the digest.
    @Test func comparesPathsAsBytes() throws {
        let digest = SHA256.hash(Array("x".utf8))
        #expect(ConstraintLayerDigest.Entry(path: "serviceK.md", sha256: digest) != ConstraintLayerDigest.Entry(path: "service\u{212A}.md", sha256: digest))
        #expect(ConstraintLayerDigest.of([.init(path: "serviceK.md", sha256: digest)]) != ConstraintLayerDigest.of([.init(path: "service\u{212A}.md", sha256: digest)]))
        // Two subjects that differ only so are two files, not one named twice.
        let approval = try Self.approval(Self.files + [.init(path: "serviceK.md", sha256: digest), .init(path: "service\u{212A}.md", sha256: digest)])
        #expect(approval.files.count == 5)
    }

    /// The approval names the layer it approves; an image whose layer has the
    /// same files under another name is not the layer approved.
    @Test func refusesAnApprovalOfTheSameFilesUnderAnotherLayerName() throws {
        let release = try Fixture.key(1), board = try Fixture.key(2)
        var image = try Self.evidence(release: release, approvals: [try Self.attestation(try Self.approval(), signedBy: [board])])
        image.constraintLayerName = "reference\u{212A}"
        let decision = Self.decide(image, try Self.policy(authors: [Fixture.trusted(board, [.policyAuthor])], threshold: 1, release: release))
        #expect(decision.reason("attestation-integrity")?.contains("approves constraint layer 'reference' version 1.0.0, but the image's layer is named 'reference\u{212A}'") == true,
                "\(decision.checks)")
        image.constraintLayerName = "reference"
        #expect(Self.decide(image, try Self.policy(authors: [Fixture.trusted(board, [.policyAuthor])], threshold: 1, release: release)).passed)
    }

    /// However many signatures an approval carries, the reason stays one
    /// readable line.
    @Test func aReasonStaysShortWhateverTheSignatures() throws {
        let release = try Fixture.key(1), board = try Fixture.key(2), pharmacist = try Fixture.key(3)
        let strangers = try (10..<70).map { try Fixture.key(UInt8($0)) }
        var envelope = try Fixture.envelope(try Self.approval().statement(), signedBy: [board])
        for stranger in strangers.prefix(40) {
            envelope.signatures.append(.init(keyid: SHA256.hash(stranger.publicKey.rawRepresentation).hex, sig: [UInt8](repeating: 1, count: 64)))
        }
        let policy = try TrustPolicy(keys: [Fixture.trusted(release), Fixture.trusted(board, [.policyAuthor]), Fixture.trusted(pharmacist, [.policyAuthor])]
                                        + strangers.suffix(20).map { Fixture.trusted($0, [.certifier]) },
                                     thresholds: [.release: 1, .policyAuthor: 2])
        let decision = Self.decide(try Self.evidence(release: release, approvals: [try Fixture.attestation(envelope)]), policy)
        let reason = try #require(decision.reason("policyAuthor-threshold"))
        #expect(reason.hasSuffix(" and 32 more)"), "\(reason)")
        #expect(reason.utf8.count < 1200, "\(reason.utf8.count) bytes")
    }

    @Test func readsAndWritesThePolicyAuthorRole() throws {
        let release = try Fixture.key(1), board = try Fixture.key(2)
        let policy = try Self.policy(authors: [Fixture.trusted(board, [.policyAuthor])], threshold: 1, release: release)
        let reread = try TrustPolicy(parsing: policy.fileBytes(), source: "policy.json")
        #expect(reread == policy)
        #expect(reread.thresholds[.policyAuthor] == 1 && reread.key(withID: board.publicKey.keyID)?.roles == [.policyAuthor])
        #expect(throws: TrustError.self) {
            try TrustPolicy(keys: [Fixture.trusted(release)], thresholds: [.release: 1, .policyAuthor: 1])
        }
        // Separation of duties: whoever releases the image does not also approve its layer.
        #expect(throws: TrustError(source: "trust policy", reason: "keys[0].roles: a key cannot be both 'release' and 'policyAuthor' (the constraint layer is approved apart from whoever releases the image)")) {
            try TrustPolicy(keys: [Fixture.trusted(release, [.release, .policyAuthor])], thresholds: [.release: 1, .policyAuthor: 1])
        }
    }
}
