import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage
import SovereignTrust

extension ImageEvidence {
    /// The evidence a verified image offers the trust policy: its manifest
    /// digest, sequence and model digest (from the signed manifest's
    /// annotations) and every DSSE envelope its referrers carry.
    public init(_ image: VerifiedImage) throws(InstallError) {
        guard let manifest = image.manifestDigest else { throw InstallError(image.source, "image manifest digest is not sha256") }
        try self.init(manifestDigest: manifest, annotations: image.annotations, constraintLayer: image.listing.constraintLayerDigest,
                      constraintLayerName: image.listing.constraintLayer, envelopes: image.referrers.filter { $0.manifest.artifactType == OCIMediaType.dsseEnvelope }
                          .map { ($0.payload, $0.descriptor.annotations?[OCIAnnotation.refName]) },
                      source: image.source)
    }

    /// The evidence of a manifest (its digest and annotations, already
    /// checked by the caller), the constraint layer its signed file list
    /// names (digest and name), and the DSSE envelopes it carries (bytes, ref name).
    init(manifestDigest manifest: SHA256Digest, annotations: [String: String], constraintLayer: SHA256Digest, constraintLayerName: String,
         envelopes: [(bytes: [UInt8], uri: String?)], source: String) throws(InstallError) {
        guard let sequenceText = annotations[SovereignAnnotation.sequence], let sequence = Int64(sequenceText) else {
            throw InstallError("\(source): manifest \(manifest.prefixed)", "has no \(SovereignAnnotation.sequence) annotation")
        }
        guard let modelText = annotations[SovereignAnnotation.modelSHA256], let model = SHA256Digest(hex: modelText) else {
            throw InstallError("\(source): manifest \(manifest.prefixed)", "has no valid \(SovereignAnnotation.modelSHA256) annotation")
        }
        var attestations: [Attestation] = []
        for (bytes, uri) in envelopes {
            let digest = SHA256.hash(bytes)
            let envelope: DSSEEnvelope
            do {
                envelope = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: "\(source): envelope \(digest.prefixed)")
            } catch {
                throw InstallError(error.source, error.reason)
            }
            attestations.append(Attestation(envelope: envelope, envelopeDigest: digest, uri: uri))
        }
        self.init(manifestDigest: manifest, sequence: sequence, modelDigest: model, constraintLayerDigest: constraintLayer,
                  constraintLayerName: constraintLayerName, attestations: attestations)
    }
}

/// Reads a trust policy file.
public func loadTrustPolicy(_ path: String) throws(InstallError) -> TrustPolicy {
    let bytes: [UInt8]
    do { bytes = try FileSystem.readFile(path, limit: 4 << 20) } catch { throw InstallError.from(error) }
    do { return try TrustPolicy(parsing: bytes, source: path) } catch { throw InstallError(error.source, error.reason) }
}
