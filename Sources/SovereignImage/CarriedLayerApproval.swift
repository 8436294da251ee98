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
    /// More than any approval needs (one statement naming a few files):
    /// the most `build` and `attach` take in.
    public static let sizeLimit = 1 << 20

    public let bytes: [UInt8]
    /// SHA-256 of `bytes`: how a certification and the log name it.
    public let envelopeDigest: SHA256Digest
    public let envelope: DSSEEnvelope
    public let approval: LayerApproval

    /// The key ids the envelope's signatures name, in order.
    public var keyids: [String] { envelope.signatures.map(\.keyid) }

    /// Reads an approval as an image carries it: a DSSE envelope (read
    /// strictly, as the trust policy reads it) holding an in-toto statement
    /// that is a `LayerApproval`. Whether and by whom it is signed is the
    /// trust policy's to judge; what `build` and `attach` take in is
    /// `intake`'s.
    public init(bytes: [UInt8], source: String) throws(ImageError) {
        let envelope: DSSEEnvelope
        do { envelope = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: source) } catch { throw ImageError.from(error) }
        guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
            throw ImageError(source, "payloadType is '\(envelope.payloadType)', expected '\(DSSEEnvelope.inTotoPayloadType)'")
        }
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

    /// An approval `build` or `attach` is given: at most `sizeLimit` bytes,
    /// signed by someone, and read as above.
    public static func intake(_ bytes: [UInt8], source: String) throws(ImageError) -> CarriedLayerApproval {
        guard bytes.count <= sizeLimit else { throw ImageError(source, "is \(bytes.count) bytes, more than a layer approval's \(sizeLimit)") }
        let carried = try CarriedLayerApproval(bytes: bytes, source: source)
        guard !carried.envelope.signatures.isEmpty else { throw ImageError(source, "is not signed") }
        return carried
    }

    /// Throws unless this approves exactly the layer `name` whose files are
    /// `entries` (every file, each with its digest, and no other), naming
    /// the first difference. Paths and names compare as bytes.
    public func checkApproves(layer name: String, entries: [ConstraintLayerDigest.Entry], source: String) throws(ImageError) {
        let what = "approves layer '\(approval.layer)' version \(approval.version) (\(approval.layerDigest.prefixed))"
        guard approval.layer.utf8.elementsEqual(name.utf8) else { throw ImageError(source, "\(what), not layer '\(name)'") }
        let packaged = ConstraintLayerDigest.sorted(entries)
        guard approval.files != packaged else { return }
        let approved = Dictionary(approval.files.map { (Array($0.path.utf8), $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let present = Dictionary(packaged.map { (Array($0.path.utf8), $0.sha256) }, uniquingKeysWith: { first, _ in first })
        let difference: String
        if let changed = packaged.first(where: { entry in approved[Array(entry.path.utf8)].map { $0 != entry.sha256 } ?? false }) {
            difference = "\(name)/\(changed.path) changed since (sha256 \(changed.sha256.hex), approved \(approved[Array(changed.path.utf8)]?.hex ?? ""))"
        } else if let added = packaged.first(where: { approved[Array($0.path.utf8)] == nil }) {
            difference = "\(name)/\(added.path) was not approved"
        } else if let removed = approval.files.first(where: { present[Array($0.path.utf8)] == nil }) {
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
