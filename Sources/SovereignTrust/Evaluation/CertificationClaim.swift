import SovereignCrypto
import SovereignFormats
import SovereignPolicy

/// What a certification says, read strictly from its in-toto statement: a
/// SLSA VSA v1 written by `sovereign certify`, whose subjects are exactly
/// the image manifest and the constraint layer, in that order.
///
/// The one reader of certifications: the certifier threshold of a trust
/// policy and `sovereign verify-attestation` both count a signature only on
/// a claim without a `problem(manifest:constraintLayer:)`. Any other VSA (one
/// `sovereign verify` wrote, one about another layer, one that FAILED) is
/// not a certification, whoever signed it.
public struct CertificationClaim: Sendable {
    public static let verifierID = "https://sovereign.dev/sovereign-certify"
    public static let intactLevel = "SOVEREIGN_CONSTRAINT_LAYER_INTACT"
    public static let loadBearingLevel = "SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING"

    public let summary: SLSAVerificationSummary
    public let manifest: SHA256Digest
    public let constraintLayer: SHA256Digest

    /// The statement's two subjects, as a certification names them.
    public static func subjects(imageName: String, manifest: SHA256Digest, constraintLayer: SHA256Digest) -> [InTotoStatement.Subject] {
        [
            .init(name: imageName, digest: ["sha256": manifest.hex]),
            .init(name: ConstraintLayerDigest.subjectName, digest: ["sha256": constraintLayer.hex]),
        ]
    }

    public init(statement: InTotoStatement, source: String) throws(TrustError) {
        do { summary = try SLSAVerificationSummary(statement: statement, source: source) } catch { throw TrustError(error) }
        guard summary.verifier.id == Self.verifierID else {
            throw TrustError(source: source, reason: "was written by verifier '\(summary.verifier.id)', not sovereign certify (\(Self.verifierID))")
        }
        let subjects = statement.subjects
        guard subjects.count == 2, subjects[1].name == ConstraintLayerDigest.subjectName,
              let manifest = subjects[0].digest["sha256"].flatMap(SHA256Digest.init(hex:)),
              let layer = subjects[1].digest["sha256"].flatMap(SHA256Digest.init(hex:)) else {
            throw TrustError(source: source, reason: "subjects must be the image manifest and '\(ConstraintLayerDigest.subjectName)', each with a sha256 digest")
        }
        self.manifest = manifest
        self.constraintLayer = layer
    }

    /// The engine the suites were replayed on, as `sovereign certify` names
    /// it in `verifier.version` and a trust policy's `certificationEngines`
    /// lists it: "embedded" (also certifications made before engines were
    /// named, when there was no other), or "openai:<the model id it reported>".
    public var engine: String {
        let version = summary.verifier.version
        guard let kind = version[Self.engineKey], kind != Self.embeddedEngine else { return Self.embeddedEngine }
        return kind + ":" + (version[Self.engineModelKey] ?? "")
    }

    public static let engineKey = "engine"
    public static let engineModelKey = "engineModel"
    public static let embeddedEngine = "embedded"

    /// PASSED, with both levels.
    public var passed: Bool {
        summary.verificationResult == .passed
            && [Self.intactLevel, Self.loadBearingLevel].allSatisfy(summary.verifiedLevels.contains)
    }

    /// Why this claim does not certify the image `manifest` carrying the
    /// layer `constraintLayer`, made on one of `engines` when given; nil when it does.
    public func problem(manifest: SHA256Digest, constraintLayer: SHA256Digest, engines: [String]? = nil) -> String? {
        if self.manifest != manifest { return "is about image \(self.manifest.prefixed), not \(manifest.prefixed)" }
        if self.constraintLayer != constraintLayer {
            return "is about constraint layer \(self.constraintLayer.prefixed), but the image carries \(constraintLayer.prefixed)"
        }
        guard passed else {
            return "says \(summary.verificationResult.rawValue) with levels [\(summary.verifiedLevels.joined(separator: ", "))]: "
                + "the constraint layer was not shown both intact and load-bearing"
        }
        if let engines, !engines.contains(engine) {
            return "was made on engine '\(engine)'; the trust policy accepts certifications made on: \(engines.joined(separator: ", "))"
        }
        return nil
    }
}
