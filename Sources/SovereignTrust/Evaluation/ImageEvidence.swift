import SovereignCrypto
import SovereignFormats

/// What a verifier collected from an image, every digest already checked
/// by the caller (blob against descriptor, annotations read from the
/// verified manifest). Evaluation decides whether to trust it.
public struct ImageEvidence: Sendable {
    /// The image manifest's digest: what every attestation must be about.
    public var manifestDigest: SHA256Digest
    /// The manifest's `dev.sovereign.sequence` annotation.
    public var sequence: Int64
    /// The manifest's `dev.sovereign.model.sha256` annotation.
    public var modelDigest: SHA256Digest
    /// The digest of the constraint layer the image carries (from its
    /// signed file list): what a certification must be about. Nil when
    /// unknown; then no certification counts.
    public var constraintLayerDigest: SHA256Digest?
    /// The constraint layer's name (its folder's), which an approval must
    /// name too; nil when unknown (then only the digest is compared).
    public var constraintLayerName: String?
    /// The DSSE envelopes found among the manifest's referrers.
    public var attestations: [Attestation]

    public init(manifestDigest: SHA256Digest, sequence: Int64, modelDigest: SHA256Digest,
                constraintLayerDigest: SHA256Digest? = nil, constraintLayerName: String? = nil, attestations: [Attestation]) {
        self.manifestDigest = manifestDigest
        self.sequence = sequence
        self.modelDigest = modelDigest
        self.constraintLayerDigest = constraintLayerDigest
        self.constraintLayerName = constraintLayerName
        self.attestations = attestations
    }
}

extension ImageEvidence {
    /// Why `attestation` is not about this image; nil when it is. A layer
    /// approval is about the image when it approves the very constraint
    /// layer the image carries; any other statement when it names the
    /// image's manifest among its subjects.
    public func aboutProblem(_ attestation: Attestation) -> String? {
        guard let statement = attestation.statement else { return attestation.statementProblem ?? "unreadable" }
        guard statement.predicateType == LayerApproval.predicateType else {
            if attestation.isAbout(manifestDigest) { return nil }
            return "statement is about \(attestation.subjectDigests), not this image's manifest \(manifestDigest.prefixed) (mix-and-match: an attestation copied from another image)"
        }
        let approval: LayerApproval
        do { approval = try LayerApproval(statement: statement, source: "layer approval") } catch { return "\(error.reason)" }
        guard let layer = constraintLayerDigest else { return "approves a constraint layer, but the image's is unknown" }
        return approval.problem(constraintLayer: layer, name: constraintLayerName).map { "\($0) (an approval of another version of the layer)" }
    }

    /// One DSSE envelope carried by an image, with the in-toto statement
    /// inside it when its payload is one.
    public struct Attestation: Sendable {
        public var envelope: DSSEEnvelope
        /// SHA-256 of the envelope's bytes as stored (the referrer's blob);
        /// a VSA lists it among its input attestations.
        public var envelopeDigest: SHA256Digest
        /// Where it was found (a blob name or exported file), for reports and
        /// the VSA; nil when there is nothing better than its position.
        public var uri: String?
        /// Nil when the payload is not an in-toto statement; see `statementProblem`.
        public var statement: InTotoStatement?
        /// Why `statement` is nil.
        public var statementProblem: String?

        /// Parses the payload as an in-toto statement; a payload that is not
        /// one is recorded (`statementProblem`), not thrown: evaluation
        /// refuses it with that reason.
        public init(envelope: DSSEEnvelope, envelopeDigest: SHA256Digest, uri: String? = nil) {
            var statement: InTotoStatement?
            var problem: String?
            if envelope.payloadType != DSSEEnvelope.inTotoPayloadType {
                problem = "payloadType is '\(envelope.payloadType)', expected '\(DSSEEnvelope.inTotoPayloadType)'"
            } else {
                do { statement = try InTotoStatement(parsing: envelope.payload, source: "payload") } catch {
                    problem = error.reason
                }
            }
            self.init(envelope: envelope, envelopeDigest: envelopeDigest, uri: uri, statement: statement, statementProblem: problem)
        }

        /// An attestation whose statement was parsed (or refused) elsewhere.
        public init(envelope: DSSEEnvelope, envelopeDigest: SHA256Digest, uri: String?,
                    statement: InTotoStatement?, statementProblem: String?) {
            self.envelope = envelope
            self.envelopeDigest = envelopeDigest
            self.uri = uri
            self.statement = statement
            self.statementProblem = statement == nil ? (statementProblem ?? "the payload was not read as an in-toto statement") : nil
        }

        /// Whether the statement names `manifest` (sha256) among its subjects.
        public func isAbout(_ manifest: SHA256Digest) -> Bool {
            statement?.subjects.contains { $0.digest["sha256"] == manifest.hex } ?? false
        }

        /// The sha256 digests the statement is about, `sha256:`-prefixed, for messages.
        var subjectDigests: String {
            let digests = statement?.subjects.compactMap { $0.digest["sha256"].map { "sha256:" + $0 } } ?? []
            return digests.isEmpty ? "no sha256 subject" : digests.joined(separator: ", ")
        }
    }
}
