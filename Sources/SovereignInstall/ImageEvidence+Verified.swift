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
        let annotations = image.annotations
        guard let sequenceText = annotations[SovereignAnnotation.sequence], let sequence = Int64(sequenceText) else {
            throw InstallError("\(image.source): manifest \(manifest.prefixed)", "has no \(SovereignAnnotation.sequence) annotation")
        }
        guard let modelText = annotations[SovereignAnnotation.modelSHA256], let model = SHA256Digest(hex: modelText) else {
            throw InstallError("\(image.source): manifest \(manifest.prefixed)", "has no valid \(SovereignAnnotation.modelSHA256) annotation")
        }
        var attestations: [Attestation] = []
        for referrer in image.referrers where referrer.manifest.artifactType == OCIMediaType.dsseEnvelope {
            let digest = SHA256.hash(referrer.payload)
            let envelope: DSSEEnvelope
            do {
                envelope = try StrictJSON.decode(DSSEEnvelope.self, from: referrer.payload, source: "\(image.source): envelope \(digest.prefixed)")
            } catch {
                throw InstallError(error.source, error.reason)
            }
            attestations.append(Attestation(envelope: envelope, envelopeDigest: digest, uri: referrer.descriptor.annotations?[OCIAnnotation.refName]))
        }
        self.init(manifestDigest: manifest, sequence: sequence, modelDigest: model, attestations: attestations)
    }
}

/// Reads a trust policy file.
public func loadTrustPolicy(_ path: String) throws(InstallError) -> TrustPolicy {
    let bytes: [UInt8]
    do { bytes = try FileSystem.readFile(path, limit: 4 << 20) } catch { throw InstallError.from(error) }
    do { return try TrustPolicy(parsing: bytes, source: path) } catch { throw InstallError(error.source, error.reason) }
}
