import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive
import SovereignTrust

/// What an image holds once every small byte has been checked: each blob's
/// size and SHA-256 against the descriptor that names it, each index.json
/// descriptor against the blob it describes, the exported files against
/// the referrers they copy, and the signed file list. The layers are read
/// by `readLayers`, through the same extractor whether checking or
/// installing. It decides nothing about trust.
public struct VerifiedImage {
    public struct Referrer: Sendable {
        public let descriptor: OCIDescriptor
        public let manifest: OCIManifest
        /// The referrer's single blob (a DSSE envelope or a model-signing bundle).
        public let payload: [UInt8]
    }

    /// The path as given, for messages.
    public let source: String
    public let index: OCIIndex
    public let imageDescriptor: OCIDescriptor
    public let manifest: OCIManifest
    public let config: OCIImageConfig
    public let referrers: [Referrer]
    /// The bytes of the index layer's `sovereign/image.json`, and what they say.
    public let imageIndexFile: [UInt8]
    public let listing: SignedImageListing
    /// Every blob the image has (all referenced; an unreferenced one is refused).
    public let blobCount: Int
    let reader: ImageSource

    public var manifestDigest: SHA256Digest? { imageDescriptor.sha256 }
    /// The image manifest's bytes, as checked against its digest.
    public var manifestBytes: [UInt8] { reader.smallBlobs[imageDescriptor.digest] ?? [] }
    public var annotations: [String: String] { manifest.annotations ?? [:] }
    /// Bytes hashed so far (small blobs, then layers as `readLayers` streams them).
    public var bytesHashed: Int64 { reader.bytesRead }

    /// Reads every layer, in the source's order, into `extractor` (one that
    /// writes a tree, or one made with `init(checkingOnly:)`), then checks
    /// that the tree is complete. Each layer's digest and size, computed as
    /// it streams, must be the manifest's. Returns the layer bytes read.
    public func readLayers(into extractor: SafeTarExtractor, progress: ((Int64) -> Void)? = nil) throws(ImageError) -> Int64 {
        var total: Int64 = 0
        var large = Set<String>()
        let byDigest = Dictionary(manifest.layers.map { ($0.digest, $0) }, uniquingKeysWith: { first, _ in first })
        func read(_ layer: OCIDescriptor, _ stream: LayerStream) throws(ImageError) {
            let (digest, size): (SHA256Digest, Int64)
            do { (digest, size) = try extractor.extractLayer(from: stream, label: "\(source): layer \(layer.digest)") } catch {
                throw ImageError.from(error)
            }
            guard digest.prefixed == layer.digest, size == layer.size else {
                throw ImageError("\(source): blob \(layer.digest)", "content does not match its digest (sha256 is \(digest.hex), \(size) bytes)")
            }
            total += size
            progress?(reader.bytesRead)
        }
        for layer in manifest.layers {
            guard let bytes = reader.smallBlobs[layer.digest] else {
                large.insert(layer.digest)
                continue
            }
            var offset = 0
            try read(layer, LayerStream { (buffer) throws(ArchiveError) -> Int in
                let n = min(buffer.count, bytes.count - offset)
                bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
                offset += n
                return n
            })
        }
        try reader.streamBlobs(large) { (digest, stream) throws(ImageError) in
            guard let layer = byDigest[digest] else { throw ImageError("\(source): blob \(digest)", "is not a layer") }
            try read(layer, stream)
        }
        do { try extractor.finish() } catch { throw ImageError.from(error) }
        return total
    }
}

/// Reads an image (OCI layout directory or its archive) through `ImageSource`.
public enum ImageVerifier {
    /// Every small blob, the graph of manifests, configs and referrers, and
    /// the signed file list; the layers are left to `readLayers`, so an
    /// installer can decide trust before it reads (and writes) the weights.
    /// - Parameter label: names the image in errors (default: `path`).
    public static func open(_ path: String, label: String? = nil) throws(ImageError) -> VerifiedImage {
        let source = try ImageSource(path)
        var reading = BlobReading(source: label ?? path, reader: source)
        return try reading.finish()
    }

    /// `open`, then every layer through a check-only extractor: every byte
    /// of the image read and checked, with exactly the rules `install`
    /// applies, and nothing written.
    public static func verify(_ path: String, label: String? = nil,
                              progress: ((Int64) -> Void)? = nil) throws(ImageError) -> VerifiedImage {
        let image = try open(path, label: label)
        try checkLayers(image, progress: progress)
        return image
    }

    /// Every layer of an opened image through a check-only extractor.
    /// (A caller deciding trust first calls `open`, decides on the small
    /// blobs and signatures, and reads the weights only for a trusted image.)
    public static func checkLayers(_ image: VerifiedImage, progress: ((Int64) -> Void)? = nil) throws(ImageError) {
        let extractor: SafeTarExtractor
        do {
            extractor = try SafeTarExtractor(checkingOnly: image.listing.signedFiles(indexFileBytes: image.imageIndexFile),
                                             label: image.source)
        } catch { throw ImageError.from(error) }
        _ = try image.readLayers(into: extractor, progress: progress)
    }
}

/// The graph checks of one image, over the blobs `ImageSource` catalogued.
struct BlobReading {
    /// Layers in one image (ours: five).
    static let layerLimit = 64
    let source: String
    let reader: ImageSource
    var small: [String: [UInt8]] { reader.smallBlobs }
    var sizes: [String: Int64] { reader.blobSizes }
    var indexBytes: [UInt8]? { reader.indexBytes }
    var exports: [String: [UInt8]] { reader.exports }

    func blobName(_ digest: String) -> String { "\(source): blob \(digest)" }

    // MARK: Graph

    mutating func finish() throws(ImageError) -> VerifiedImage {
        let index = try decodeIndex()
        // The image: the one plain image manifest; its ref name must be its version.
        let images = index.manifests.filter { $0.artifactType == nil }
        guard images.count == 1, let imageDescriptor = images.first else {
            throw ImageError("\(source): index.json", "must list exactly one image manifest, found \(images.count)")
        }
        let manifest = try manifestBlob(imageDescriptor, what: "image manifest")
        guard manifest.subject == nil, manifest.artifactType == nil else {
            throw ImageError(blobName(imageDescriptor.digest), "is not an image manifest")
        }
        let expectedAnnotations = [OCIAnnotation.refName: manifest.annotations?[OCIAnnotation.version] ?? ""]
        guard imageDescriptor.annotations == expectedAnnotations else {
            throw ImageError("\(source): index.json", "the image's annotations \(imageDescriptor.annotations ?? [:]) do not match its manifest (expected \(expectedAnnotations))")
        }
        let configBytes = try blobBytes(manifest.config, expecting: OCIMediaType.imageConfig)
        let config = try decode(OCIImageConfig.self, configBytes, what: "config \(manifest.config.digest)")
        guard config.rootfs.diff_ids == manifest.layers.map(\.digest) else {
            throw ImageError(blobName(manifest.config.digest), "rootfs.diff_ids do not match the manifest's layers")
        }
        // Each layer once: a digest listed twice would be read (and
        // extracted) twice, which costs without adding anything.
        guard Set(manifest.layers.map(\.digest)).count == manifest.layers.count else {
            throw ImageError(blobName(imageDescriptor.digest), "lists a layer more than once")
        }
        guard manifest.layers.count <= BlobReading.layerLimit else {
            throw ImageError(blobName(imageDescriptor.digest), "lists \(manifest.layers.count) layers, more than the \(BlobReading.layerLimit) allowed")
        }
        for layer in manifest.layers {
            guard layer.mediaType == OCIMediaType.layerTar else {
                throw ImageError(blobName(layer.digest), "has media type \(layer.mediaType), expected \(OCIMediaType.layerTar)")
            }
            guard sizes[layer.digest] == layer.size else {
                throw ImageError(blobName(layer.digest), sizes[layer.digest] == nil ? "is missing" : "is \(sizes[layer.digest] ?? 0) bytes, its descriptor says \(layer.size)")
            }
        }
        // The index layer is small: read image.json out of it now.
        guard let indexLayer = manifest.layers.last, indexLayer.annotations?[OCIAnnotation.title] == ImageLayout.Layer.index.rawValue else {
            throw ImageError(blobName(imageDescriptor.digest), "its last layer is not the index layer")
        }
        let imageFile = try readImageFile(from: try blobBytes(indexLayer, expecting: OCIMediaType.layerTar), layer: indexLayer)
        let listing = try SignedImageListing(json: imageFile, source: "\(source): \(ImageLayout.indexFile)")
        try checkListing(listing, against: manifest.annotations ?? [:])
        var referenced: Set<String> = [imageDescriptor.digest, manifest.config.digest]
        referenced.formUnion(manifest.layers.map(\.digest))

        var referrers: [VerifiedImage.Referrer] = []
        guard let imageDigest = imageDescriptor.sha256 else { throw ImageError(blobName(imageDescriptor.digest), "is not a sha256 digest") }
        let version = manifest.annotations?[OCIAnnotation.version] ?? ""
        for descriptor in index.manifests where descriptor.artifactType != nil {
            let referrer = try manifestBlob(descriptor, what: "referrer manifest")
            guard referrer.subject == OCIDescriptor(mediaType: imageDescriptor.mediaType, digest: imageDigest, size: imageDescriptor.size) else {
                throw ImageError(blobName(descriptor.digest), "its subject is not this image's manifest")
            }
            guard referrer.artifactType == descriptor.artifactType, referrer.layers.count == 1 else {
                throw ImageError(blobName(descriptor.digest), "does not match its index.json entry (artifact type or layers)")
            }
            var annotations = referrer.annotations ?? [:]
            if let kind = ImageLayout.referrerKind(forPredicateType: referrer.annotations?[SovereignAnnotation.predicateType]) {
                annotations[OCIAnnotation.refName] = "\(version).\(kind)"
            }
            guard descriptor.annotations == annotations else {
                throw ImageError("\(source): index.json", "the annotations of referrer \(descriptor.digest) do not match its manifest")
            }
            _ = try blobBytes(referrer.config, expecting: OCIMediaType.empty)
            let payload = try blobBytes(referrer.layers[0], expecting: referrer.artifactType ?? "")
            referenced.formUnion([descriptor.digest, referrer.config.digest, referrer.layers[0].digest])
            referrers.append(VerifiedImage.Referrer(descriptor: descriptor, manifest: referrer, payload: payload))
        }
        // Exported copies, where present, must be the referrers' own bytes.
        for (name, bytes) in exports {
            let matching: Bool
            if name == ImageLayout.modelSignatureFile {
                matching = referrers.contains { $0.payload == bytes && $0.manifest.artifactType != OCIMediaType.dsseEnvelope }
            } else if ImageLayout.isLayerApprovalFile(name) {
                matching = referrers.contains {
                    $0.payload == bytes && $0.manifest.artifactType == OCIMediaType.dsseEnvelope
                        && $0.descriptor.annotations?[SovereignAnnotation.predicateType] == LayerApproval.predicateType
                }
            } else if let export = ImageLayout.exports.first(where: { $0.file == name }) {
                matching = referrers.contains { $0.payload == bytes && $0.descriptor.annotations?[SovereignAnnotation.predicateType] == export.predicateType }
            } else {
                continue
            }
            guard matching else { throw ImageError("\(source): \(ImageLayout.exportsDirectory)/\(name)", "differs from the signed copy inside the image") }
        }
        if let stray = sizes.keys.filter({ !referenced.contains($0) }).sorted().first {
            throw ImageError(blobName(stray), "is not referenced by index.json (an image carries only its own blobs)")
        }
        return VerifiedImage(source: source, index: index, imageDescriptor: imageDescriptor, manifest: manifest, config: config,
                             referrers: referrers, imageIndexFile: imageFile, listing: listing, blobCount: sizes.count, reader: reader)
    }

    /// The signed list must say what the signed manifest says.
    private func checkListing(_ listing: SignedImageListing, against annotations: [String: String]) throws(ImageError) {
        let place = "\(source): \(ImageLayout.indexFile)"
        let pairs: [(String, String, String?)] = [
            ("name", listing.name, annotations[OCIAnnotation.title]),
            ("version", listing.version, annotations[OCIAnnotation.version]),
            ("sequence", String(listing.sequence), annotations[SovereignAnnotation.sequence]),
            ("model.sha256", listing.model.sha256.hex, annotations[SovereignAnnotation.modelSHA256]),
        ]
        for (field, value, annotation) in pairs where annotation != value {
            throw ImageError(place, "\(field) is '\(value)', the manifest says '\(annotation ?? "(none)")'")
        }
    }

    private func decodeIndex() throws(ImageError) -> OCIIndex {
        guard let indexBytes else { throw ImageError(source, "has no index.json (not an OCI image layout)") }
        let index = try decode(OCIIndex.self, indexBytes, what: "index.json")
        guard index.schemaVersion == 2, index.mediaType == OCIMediaType.imageIndex else {
            throw ImageError("\(source): index.json", "is not an OCI image index (schemaVersion 2)")
        }
        return index
    }

    private func manifestBlob(_ descriptor: OCIDescriptor, what: String) throws(ImageError) -> OCIManifest {
        let manifest = try decode(OCIManifest.self, try blobBytes(descriptor, expecting: OCIMediaType.imageManifest), what: "\(what) \(descriptor.digest)")
        guard manifest.schemaVersion == 2, manifest.mediaType == OCIMediaType.imageManifest else {
            throw ImageError(blobName(descriptor.digest), "is not an OCI image manifest (schemaVersion 2)")
        }
        return manifest
    }

    /// A small blob's checked bytes; its media type must be the expected one.
    private func blobBytes(_ descriptor: OCIDescriptor, expecting mediaType: String) throws(ImageError) -> [UInt8] {
        guard descriptor.mediaType == mediaType else {
            throw ImageError(blobName(descriptor.digest), "has media type \(descriptor.mediaType), expected \(mediaType)")
        }
        guard let bytes = small[descriptor.digest] else {
            throw ImageError(blobName(descriptor.digest), sizes[descriptor.digest] == nil ? "is missing" : "is too large for its kind")
        }
        guard Int64(bytes.count) == descriptor.size else {
            throw ImageError(blobName(descriptor.digest), "is \(bytes.count) bytes, its descriptor says \(descriptor.size)")
        }
        return bytes
    }

    private func readImageFile(from tar: [UInt8], layer: OCIDescriptor) throws(ImageError) -> [UInt8] {
        var found: [UInt8]?
        do {
            try TarReader.forEachEntry(in: tar, label: blobName(layer.digest)) { (entry, read) throws(ArchiveError) in
                guard entry.rawPath == Array(ImageLayout.indexFile.utf8) else { return }
                guard found == nil else { throw ArchiveError(path: blobName(layer.digest), reason: "holds \(ImageLayout.indexFile) twice") }
                found = try read(4 << 20)
            }
        } catch { throw ImageError.from(error) }
        guard let found else { throw ImageError(blobName(layer.digest), "holds no \(ImageLayout.indexFile)") }
        return found
    }

    private func decode<T: JSONObjectDecodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(ImageError) -> T {
        do { return try StrictJSON.decode(T.self, from: bytes, source: "\(source): \(what)") } catch { throw ImageError.from(error) }
    }
}
