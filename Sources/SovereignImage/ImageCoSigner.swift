import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// Adds a release key's signature to every DSSE envelope of the build an
/// image carries (provenance, BOM: co-signing). The image's manifest, config and layers are untouched; the
/// referrer manifests and index.json change because the envelopes do.
///
/// Order keeps a crash harmless: new blobs first (content-addressed, so
/// unreferenced copies do no harm), then index.json by atomic rename, then
/// the exported files, then old blobs are removed. Running it again with the
/// same key skips envelopes it already signed and re-exports them.
public struct ImageCoSigner {
    public struct Result: Sendable {
        public let signed: [String]
        public let alreadySigned: [String]
    }

    public static func sign(directory: String, with key: Ed25519.PrivateKey) throws(ImageError) -> Result {
        guard FileSystem.isDirectory(directory) else { throw ImageError(directory, "is not an OCI image layout directory") }
        let reader = try ImageVerifier.open(directory)
        let layout = try OCILayoutWriter(root: directory)
        var index = reader.index
        var signed: [String] = [], already: [String] = [], obsolete: [String] = []
        var exports: [(path: String, bytes: [UInt8])] = []
        let referrers = reader.referrers
        for (position, descriptor) in index.manifests.enumerated() {
            // The build's own statements only: a certification attached later is the certifier's to sign.
            guard descriptor.artifactType == OCIMediaType.dsseEnvelope,
                  ImageLayout.exportName(forPredicateType: descriptor.annotations?[SovereignAnnotation.predicateType]) != nil else { continue }
            let referrer = referrers.first { $0.descriptor.digest == descriptor.digest }
            guard let manifest = referrer?.manifest, manifest.layers.count == 1 else {
                throw ImageError("\(directory): referrer \(descriptor.digest)", "is not a single-envelope artifact")
            }
            let envelopeSource = "\(directory): envelope \(manifest.layers[0].digest)"
            var envelope: DSSEEnvelope
            do { envelope = try StrictJSON.decode(DSSEEnvelope.self, from: referrer?.payload ?? [], source: envelopeSource) } catch {
                throw ImageError.from(error)
            }
            let kind = descriptor.annotations?[SovereignAnnotation.predicateType] ?? descriptor.digest
            if envelope.signatures.contains(where: { $0.keyid == key.publicKey.keyID }) {
                already.append(kind)
            } else {
                do { try envelope.sign(with: key, source: envelopeSource) } catch { throw ImageError.from(error) }
                let bytes = try encode(envelope) + [0x0A]
                var newManifest = manifest
                newManifest.layers = [try layout.writeBlob(bytes, mediaType: manifest.layers[0].mediaType)]
                var newDescriptor = try layout.writeBlob(try encode(newManifest), mediaType: descriptor.mediaType,
                                                         artifactType: descriptor.artifactType, annotations: descriptor.annotations)
                newDescriptor.annotations = descriptor.annotations
                index.manifests[position] = newDescriptor
                obsolete += [descriptor.digest, manifest.layers[0].digest]
                signed.append(kind)
            }
            if let name = ImageLayout.exportName(forPredicateType: descriptor.annotations?[SovereignAnnotation.predicateType]) {
                exports.append((ImageLayout.exportsDirectory + "/" + name, try encode(envelope) + [0x0A]))
            }
        }
        guard !signed.isEmpty || !already.isEmpty else { throw ImageError(directory, "carries no DSSE envelopes to sign") }
        if !signed.isEmpty { try layout.writeFile("index.json", try encode(index)) }
        try OCILayoutWriter.makeDirectory(directory + "/" + ImageLayout.exportsDirectory)
        for export in exports { try layout.writeFile(export.path, export.bytes) }
        let stillUsed = Set(index.manifests.map(\.digest))
        for digest in obsolete where !stillUsed.contains(digest) {
            if let hex = digest.split(separator: ":").last { unlink(directory + "/blobs/sha256/" + hex) }
        }
        return Result(signed: signed, alreadySigned: already)
    }
}
