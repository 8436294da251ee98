import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignTrust

/// Attaches signed statements made after the build (a certification VSA,
/// its audit report, a layer approval) to an image directory as OCI 1.1
/// referrers: an artifact manifest per envelope, its `subject` the image
/// manifest, listed in index.json. The image's manifest, config and layers
/// are untouched, so its digest, and every signature over it, stay what
/// they were.
///
/// Each envelope must carry an in-toto statement about this very image's
/// manifest (one about another image is refused: it would be mix-and-match
/// evidence), or a policy author's approval of exactly the constraint layer
/// it carries (`LayerApproval`), given after the build. An envelope already
/// attached is skipped. Limits are checked before a byte is written; blobs
/// are written first, then index.json by atomic rename, so a crash leaves
/// the old image or the new one; the result is read back through the image
/// verifier, and put back as it was if it does not read.
public enum ImageAttacher {
    public struct Result: Sendable {
        /// Predicate types attached, in order given.
        public let attached: [String]
        /// Predicate types of envelopes the image already carried.
        public let alreadyAttached: [String]
        public let manifestDigest: SHA256Digest
    }

    /// The most envelopes one image may carry beside its build's own.
    public static let maximumAttached = 64

    public static func attach(_ envelopes: [(source: String, bytes: [UInt8])], to directory: String) throws(ImageError) -> Result {
        guard FileSystem.isDirectory(directory) else { throw ImageError(directory, "is not an OCI image layout directory") }
        let image = try ImageVerifier.open(directory)
        guard let manifestDigest = image.manifestDigest else { throw ImageError(directory, "its manifest digest is not sha256") }
        let subject = OCIDescriptor(mediaType: image.imageDescriptor.mediaType, digest: manifestDigest, size: image.imageDescriptor.size)
        let created = image.annotations[OCIAnnotation.created] ?? "1970-01-01T00:00:00Z"

        var pending: [(bytes: [UInt8], predicateType: String)] = []
        var alreadyAttached: [String] = []
        for (source, bytes) in envelopes {
            let envelope: DSSEEnvelope
            do { envelope = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: source) } catch { throw ImageError.from(error) }
            guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
                throw ImageError(source, "payloadType is '\(envelope.payloadType)', expected '\(DSSEEnvelope.inTotoPayloadType)'")
            }
            guard !envelope.signatures.isEmpty else { throw ImageError(source, "is not signed") }
            let statement: InTotoStatement
            do { statement = try InTotoStatement(parsing: envelope.payload, source: "\(source): payload") } catch { throw ImageError.from(error) }
            if statement.predicateType == LayerApproval.predicateType {
                // An approval is about the layer, not the manifest: it must approve exactly the one the image carries.
                try CarriedLayerApproval.intake(bytes, source: source)
                    .checkApproves(layer: image.listing.constraintLayer, entries: image.listing.constraintLayerEntries, source: source)
            } else if !statement.subjects.contains(where: { $0.digest["sha256"] == manifestDigest.hex }) {
                let about = statement.subjects.compactMap { $0.digest["sha256"].map { "sha256:" + $0 } }.joined(separator: ", ")
                throw ImageError(source, "is about \(about.isEmpty ? "no sha256 subject" : about), not this image's manifest \(manifestDigest.prefixed)")
            }
            if image.referrers.contains(where: { $0.payload == bytes }) || pending.contains(where: { $0.bytes == bytes }) {
                alreadyAttached.append(statement.predicateType)
            } else {
                pending.append((bytes, statement.predicateType))
            }
        }
        let carried = image.referrers.filter { ImageLayout.referrerKind(forPredicateType: $0.descriptor.annotations?[SovereignAnnotation.predicateType]) == nil }
        guard carried.count + pending.count <= maximumAttached else {
            throw ImageError(directory, "would carry \(carried.count + pending.count) attached envelopes, more than \(maximumAttached)")
        }
        let approvals = try image.layerApprovals().count + pending.filter { $0.predicateType == LayerApproval.predicateType }.count
        guard approvals <= ImageLayout.maximumLayerApprovals else {
            throw ImageError(directory, "would carry \(approvals) layer approvals, more than \(ImageLayout.maximumLayerApprovals)")
        }
        // The reader's budget for small blobs, checked before a byte is written
        // (each envelope also gets a manifest of well under 4 KiB).
        let adding = pending.reduce(0) { $0 + $1.bytes.count + 4096 }
        guard image.reader.smallBlobBytes + Int64(adding) <= Int64(ImageSource.smallBlobsTotalLimit) else {
            throw ImageError(directory, "would hold more than \(ImageSource.smallBlobsTotalLimit >> 20) MiB of small blobs with these envelopes")
        }
        if !pending.isEmpty {
            try write(pending, subject: subject, created: created, onto: image, in: directory)
        }
        return Result(attached: pending.map(\.predicateType), alreadyAttached: alreadyAttached, manifestDigest: manifestDigest)
    }

    /// New blobs, then index.json in one rename, then the image read back;
    /// if it does not read back, the old index.json and blobs are put back.
    private static func write(_ pending: [(bytes: [UInt8], predicateType: String)], subject: OCIDescriptor, created: String,
                              onto image: VerifiedImage, in directory: String) throws(ImageError) {
        let layout = try OCILayoutWriter(root: directory)
        let blobs = directory + "/blobs/sha256/"
        var index = image.index
        var written: [String] = []
        func remember(_ descriptor: OCIDescriptor) {
            if image.reader.blobSizes[descriptor.digest] == nil, let hex = descriptor.sha256?.hex { written.append(blobs + hex) }
        }
        do throws(ImageError) {
            remember(try layout.writeBlob(Array("{}".utf8), mediaType: OCIMediaType.empty))
            for entry in pending {
                let blob = OCIDescriptor(mediaType: OCIMediaType.dsseEnvelope, bytes: entry.bytes)
                let referrer = try layout.writeReferrer(entry.bytes, mediaType: OCIMediaType.dsseEnvelope, predicateType: entry.predicateType,
                                                        subject: subject, created: created, refName: nil)
                remember(blob)
                remember(referrer)
                index.manifests.append(referrer)
            }
            try layout.writeFile("index.json", try encode(index))
            _ = try ImageVerifier.open(directory)
        } catch {
            try? AtomicFileWriter.replace(image.reader.indexBytes, at: directory + "/index.json")
            for path in written { unlink(path) }
            throw error
        }
    }
}
