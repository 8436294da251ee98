import SovereignCrypto
import SovereignFormats
import SovereignPolicy
import SovereignTrust

/// A policy author's signed approval of a constraint layer (a DSSE
/// envelope holding a `LayerApproval`) as a build is given it and an image
/// carries it: read strictly, with who signed it. Whether those signers
/// count is the trust policy's to decide (`thresholds.policyAuthor`); what
/// is checked here is that the envelope is one and what it approves.
public struct CarriedLayerApproval: Sendable {
    /// More than any approval needs (one statement naming a few files).
    public static let sizeLimit = 1 << 20

    public let bytes: [UInt8]
    /// SHA-256 of `bytes`: how a certification and the log name it.
    public let envelopeDigest: SHA256Digest
    public let envelope: DSSEEnvelope
    public let approval: LayerApproval

    /// The key ids the envelope's signatures name, in order.
    public var keyids: [String] { envelope.signatures.map(\.keyid) }

    public init(bytes: [UInt8], source: String) throws(ImageError) {
        guard bytes.count <= Self.sizeLimit else { throw ImageError(source, "is \(bytes.count) bytes, more than a layer approval's \(Self.sizeLimit)") }
        let envelope: DSSEEnvelope
        do { envelope = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: source) } catch { throw ImageError.from(error) }
        guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
            throw ImageError(source, "payloadType is '\(envelope.payloadType)', expected '\(DSSEEnvelope.inTotoPayloadType)'")
        }
        guard !envelope.signatures.isEmpty else { throw ImageError(source, "is not signed") }
        do {
            let statement = try InTotoStatement(parsing: envelope.payload, source: "\(source): payload")
            approval = try LayerApproval(statement: statement, source: "\(source): payload")
        } catch let error as FormatsError {
            throw ImageError.from(error)
        } catch let error as TrustError {
            throw ImageError(error.source, error.reason)
        } catch {
            throw ImageError(source, "\(error)")
        }
        self.bytes = bytes
        self.envelope = envelope
        envelopeDigest = SHA256.hash(bytes)
    }

    /// Throws unless this approves exactly the layer `name` whose files are
    /// `entries` (every file, each with its digest, and no other), naming
    /// the first difference.
    public func checkApproves(layer name: String, entries: [ConstraintLayerDigest.Entry], source: String) throws(ImageError) {
        let what = "approves layer '\(approval.layer)' version \(approval.version) (\(approval.layerDigest.prefixed))"
        guard approval.layer == name else { throw ImageError(source, "\(what), not layer '\(name)'") }
        let packaged = ConstraintLayerDigest.sorted(entries)
        guard approval.files != packaged else { return }
        let approved = Dictionary(approval.files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let present = Dictionary(packaged.map { ($0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let difference: String
        if let changed = packaged.first(where: { approved[$0.path] != nil && approved[$0.path] != $0.sha256 }) {
            difference = "\(name)/\(changed.path) changed since (sha256 \(changed.sha256.hex), approved \(approved[changed.path]?.hex ?? ""))"
        } else if let added = packaged.first(where: { approved[$0.path] == nil }) {
            difference = "\(name)/\(added.path) was not approved"
        } else if let removed = approval.files.first(where: { present[$0.path] == nil }) {
            difference = "\(name)/\(removed.path) is approved but missing"
        } else {
            difference = "the files differ"
        }
        throw ImageError(source, "\(what), not the layer packaged (\(ConstraintLayerDigest.of(packaged).prefixed)): \(difference)")
    }
}

extension CarriedLayerApproval {
    /// The layer approvals among `envelopes` (DSSE envelopes, each with a
    /// name for messages), chosen by the predicate type of the statement
    /// inside, not by any label outside it. An envelope that is not an
    /// in-toto statement is left to the trust policy, which refuses it.
    public static func approvals(among envelopes: [(bytes: [UInt8], source: String)]) throws(ImageError) -> [CarriedLayerApproval] {
        var approvals: [CarriedLayerApproval] = []
        for (bytes, source) in envelopes {
            guard let envelope = try? StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: source),
                  let statement = try? InTotoStatement(parsing: envelope.payload, source: source),
                  statement.predicateType == LayerApproval.predicateType else { continue }
            approvals.append(try CarriedLayerApproval(bytes: bytes, source: source))
        }
        return approvals
    }
}

extension VerifiedImage {
    /// The layer approvals the image carries, in index.json order.
    public func layerApprovals() throws(ImageError) -> [CarriedLayerApproval] {
        try CarriedLayerApproval.approvals(among: referrers.filter { $0.manifest.artifactType == OCIMediaType.dsseEnvelope }
            .map { ($0.payload, "\(source): referrer \($0.descriptor.digest)") })
    }
}
