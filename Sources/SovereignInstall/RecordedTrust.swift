import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage
import SovereignTrust

/// What the installer accepted an image on, kept in `R/state.json` so its
/// trust can be decided again later (by `certify`, by `serve` as it
/// starts): the trust policy as the installer read it, the image manifest's
/// bytes, and every DSSE envelope the image carried. Raw bytes (base64 in
/// the file), so envelope digests and signatures are checked on exactly
/// what was installed.
public struct RecordedTrust: Sendable, Equatable {
    public struct Attestation: Sendable, Equatable {
        /// The referrer's ref name, for messages.
        public var uri: String?
        public var envelope: [UInt8]
    }

    /// `TrustPolicy.json()` of the policy the image was accepted under.
    public var policy: JSONValue
    public var manifest: [UInt8]
    public var attestations: [Attestation]

    /// The record of a verified image accepted under `policy`.
    public init(_ image: VerifiedImage, policy: TrustPolicy) {
        self.policy = policy.json()
        manifest = image.manifestBytes
        attestations = image.referrers.filter { $0.manifest.artifactType == OCIMediaType.dsseEnvelope }.map {
            Attestation(uri: $0.descriptor.annotations?[OCIAnnotation.refName], envelope: $0.payload)
        }
    }

    init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        policy = try reader.value("policy")
        manifest = try Self.base64(&reader, "manifest")
        attestations = try reader.objects("attestations") { (entry) throws(FormatsError) in
            Attestation(uri: try entry.optionalString("uri"), envelope: try Self.base64(&entry, "envelope"))
        }
    }

    var json: JSONValue {
        .object([
            "policy": policy,
            "manifest": .string(Base64.encode(manifest)),
            "attestations": .array(attestations.map { attestation in
                var entry: [String: JSONValue] = ["envelope": .string(Base64.encode(attestation.envelope))]
                if let uri = attestation.uri { entry["uri"] = .string(uri) }
                return .object(entry)
            }),
        ])
    }

    private static func base64(_ reader: inout JSONObjectReader, _ key: String) throws(FormatsError) -> [UInt8] {
        guard let bytes = Base64.decodeStrict(try reader.string(key)) else { throw reader.error(key, "must be standard padded base64") }
        return bytes
    }

    /// Decides again, at `now`, whether the installed image `manifestDigest`
    /// (carrying `constraintLayer`, named `constraintLayerName`) meets the recorded policy: signatures,
    /// thresholds (a certification, when the policy asks for one), expiry of
    /// keys and of the policy. The anti-rollback mark is not re-applied: the
    /// image is already installed.
    public func decide(manifestDigest: SHA256Digest, constraintLayer: SHA256Digest, constraintLayerName: String, now: Int64,
                       source: String) throws(InstallError) -> TrustDecision {
        guard SHA256.hash(manifest) == manifestDigest else {
            throw InstallError(source, "the recorded manifest is not the installed image \(manifestDigest.prefixed)")
        }
        let trustPolicy: TrustPolicy
        do { trustPolicy = try TrustPolicy(json: policy, source: "\(source): policy") } catch { throw InstallError(error.source, error.reason) }
        let decoded: OCIManifest
        do { decoded = try StrictJSON.decode(OCIManifest.self, from: manifest, source: "\(source): manifest") } catch {
            throw InstallError.from(error)
        }
        let evidence = try ImageEvidence(manifestDigest: manifestDigest, annotations: decoded.annotations ?? [:], constraintLayer: constraintLayer,
                                         constraintLayerName: constraintLayerName, envelopes: attestations.map { ($0.envelope, $0.uri) }, source: source)
        return TrustEvaluator.evaluate(evidence, policy: trustPolicy, context: TrustContext(now: now))
    }
}
