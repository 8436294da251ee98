import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignSteering
import SovereignTrust

/// The two signed results of a certification, both in-toto Statements in
/// DSSE envelopes whose subjects are the image manifest digest and the
/// constraint-layer digest:
/// - a SLSA VSA v1 (`verificationResult`; `verifiedLevels` with
///   `SOVEREIGN_CONSTRAINT_LAYER_INTACT` and, when it holds,
///   `SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING`; `policy` naming the suites
///   and the layer by digest; the audit report and the policy authors'
///   approvals of the layer among `inputAttestations`);
/// - the audit report (`https://sovereign.dev/audit-report/v1`): per case,
///   both transcripts' digests, outcomes, decode settings, failures; the
///   engine version and kernels.
public struct CertificationAttestations: Sendable {
    public static let reportPredicateType = "https://sovereign.dev/audit-report/v1"

    /// What was certified, by digest.
    public struct Subject: Sendable {
        public let imageName: String
        public let manifestDigest: SHA256Digest
        public let constraintLayerDigest: SHA256Digest
        /// Suite file name → SHA-256 of its bytes.
        public let suites: [(name: String, sha256: SHA256Digest)]
        /// The envelope digests of the policy authors' approvals of the
        /// layer the image carries: whose documents and rules were certified.
        public let layerApprovals: [SHA256Digest]

        public init(imageName: String, manifestDigest: SHA256Digest, constraintLayerDigest: SHA256Digest,
                    suites: [(name: String, sha256: SHA256Digest)], layerApprovals: [SHA256Digest] = []) {
            self.imageName = imageName
            self.manifestDigest = manifestDigest
            self.constraintLayerDigest = constraintLayerDigest
            self.suites = suites
            self.layerApprovals = layerApprovals
        }
    }

    /// The files certify writes, and the names the VSA uses for them.
    public static let summaryFileName = "vsa.dsse.json"
    public static let reportFileName = "audit-report.dsse.json"
    /// How the VSA's `inputAttestations` name a policy author's approval of the layer.
    public static let layerApprovalName = "layer-approval"

    public let report: DSSEEnvelope
    public let summary: DSSEEnvelope
    /// The envelopes as files: canonical JSON and a newline. The VSA names
    /// the report by the SHA-256 of these very bytes, so `sha256sum` on the
    /// file checks it.
    public let reportBytes: [UInt8]
    public let summaryBytes: [UInt8]

    /// Builds and signs both. `engine` names the engine and its kernels.
    public init(_ certification: Certification, subject: Subject, engine: [String: String], key: Ed25519.PrivateKey)
        throws(CertificationError) {
        do {
            let subjects = Self.subjects(subject)
            let reportStatement = try InTotoStatement(subjects: subjects, predicateType: Self.reportPredicateType,
                                                      predicate: Self.reportPredicate(certification, subject: subject, engine: engine))
            var report = DSSEEnvelope(payload: reportStatement.canonicalBytes, payloadType: DSSEEnvelope.inTotoPayloadType)
            try report.sign(with: key)
            let reportBytes = try CanonicalJSON.encode(report) + [0x0A]

            var levels = [CertificationClaim.intactLevel]
            if certification.isLoadBearing { levels.append(CertificationClaim.loadBearingLevel) }
            let policyDigest = SHA256.hash(CanonicalJSON.serialize(Self.policy(subject)))
            let vsa = SLSAVerificationSummary(
                verifier: .init(id: CertificationClaim.verifierID, version: engine),
                resourceUri: "oci:" + subject.imageName + "@" + subject.manifestDigest.prefixed,
                policy: ResourceDescriptor(uri: "https://sovereign.dev/certification-policy/v1", sha256: policyDigest),
                inputAttestations: [ResourceDescriptor(name: Self.reportFileName, sha256: SHA256.hash(reportBytes))]
                    + subject.layerApprovals.map { ResourceDescriptor(name: Self.layerApprovalName, sha256: $0) },
                verificationResult: certification.isLoadBearing ? .passed : .failed,
                verifiedLevels: levels)
            var summary = DSSEEnvelope(payload: try vsa.statement(subjects: subjects).canonicalBytes,
                                       payloadType: DSSEEnvelope.inTotoPayloadType)
            try summary.sign(with: key)
            self.report = report
            self.summary = summary
            self.reportBytes = reportBytes
            summaryBytes = try CanonicalJSON.encode(summary) + [0x0A]
        } catch let error as CertificationError {
            throw error
        } catch {
            throw CertificationError("attestation", "cannot be built: \(error)")
        }
    }

    static func subjects(_ subject: Subject) -> [InTotoStatement.Subject] {
        CertificationClaim.subjects(imageName: subject.imageName, manifest: subject.manifestDigest, constraintLayer: subject.constraintLayerDigest)
    }

    /// What the verdict was judged against: the suites and the layer, by digest.
    static func policy(_ subject: Subject) -> JSONValue {
        .object([
            "constraintLayer": .string(subject.constraintLayerDigest.prefixed),
            "suites": .array(subject.suites.map { .object(["name": .string($0.name), "sha256": .string($0.sha256.hex)]) }),
        ])
    }

    static func reportPredicate(_ certification: Certification, subject: Subject, engine: [String: String]) -> JSONValue {
        .object([
            "image": .string(subject.manifestDigest.prefixed),
            "policy": policy(subject),
            "layerApprovals": .array(subject.layerApprovals.map { .string($0.prefixed) }),
            "engine": .object(engine.mapValues(JSONValue.string)),
            "verdict": .object([
                "intact": .bool(true),
                "loadBearing": .bool(certification.isLoadBearing),
                "cases": .integer(Int64(certification.results.count)),
                "passed": .integer(Int64(certification.results.count - certification.failedCases.count)),
                "barePassed": .integer(Int64(certification.barePassed)),
                "falseRefusals": .array(certification.falseRefusals.map { .string("\($0.suite)/\($0.testCase.id)") }),
                "rulesNotLoadBearing": .array(certification.rulesNotLoadBearing.map(JSONValue.string)),
                "rulesAbsent": .array(certification.absentRules.map(JSONValue.string)),
            ]),
            "loadBearing": .array(certification.loadBearing.map { entry in
                .object(["rule": .string(entry.rule), "cases": .array(entry.cases.map(JSONValue.string))])
            }),
            "cases": .array(certification.results.map(\.json)),
        ])
    }
}

/// A certification that cannot be carried out or written.
public struct CertificationError: SovereignError, Sendable, Equatable {
    public let thing: String
    public let reason: String
    public init(_ thing: String, _ reason: String) {
        self.thing = thing
        self.reason = reason
    }
}
