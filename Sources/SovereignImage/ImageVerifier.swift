import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive

/// What an image holds once every byte read has been checked: each blob's
/// size and SHA-256 against the descriptor that names it, each index.json
/// descriptor against the blob it describes, the exported files against
/// the referrers they copy. It decides nothing about trust.
public struct VerifiedImage: Sendable {
    public struct Referrer: Sendable {
        public let descriptor: OCIDescriptor
        public let manifest: OCIManifest
        /// The referrer's single blob (a DSSE envelope or a model-signing bundle).
        public let payload: [UInt8]
    }

    public let source: String
    public let index: OCIIndex
    public let imageDescriptor: OCIDescriptor
    public let manifest: OCIManifest
    public let config: OCIImageConfig
    public let referrers: [Referrer]
    /// The bytes of the index layer's `sovereign/image.json`.
    public let imageIndexFile: [UInt8]
    /// Blobs whose digest was checked (all, unless layers were deferred).
    public let checkedBlobs: Set<String>
    /// Total bytes hashed.
    public let bytesHashed: Int64

    public var manifestDigest: SHA256Digest? { imageDescriptor.sha256 }
    public var annotations: [String: String] { manifest.annotations ?? [:] }
}

/// Reads an image (OCI layout directory or its archive) in one pass.
public enum ImageVerifier {
    /// Blobs up to this size are kept in memory; layers stream.
    static let smallBlobLimit = 16 << 20

    /// - Parameter deferLayers: leave the image's large layer blobs unread
    ///   (an installer hashes them while extracting, so they are read once);
    ///   their presence and size are still checked. Small layers (the index
    ///   layer with image.json) are read as usual.
    ///   - label: names the image in errors (default: `path`), for callers
    ///     that verify a copy (an installer's scratch unpacking of an archive).
    public static func verify(_ path: String, label: String? = nil, deferLayers: Bool = false,
                              progress: ((Int64) -> Void)? = nil) throws(ImageError) -> VerifiedImage {
        var reading = BlobReading(source: label ?? path, progress: progress)
        if FileSystem.isDirectory(path) {
            try reading.readDirectory(path, deferLayers: deferLayers)
        } else {
            try reading.readArchive(path)
        }
        return try reading.finish()
    }
}

/// The state of one verification pass.
struct BlobReading {
    let source: String
    let progress: ((Int64) -> Void)?
    var small: [String: [UInt8]] = [:]
    var sizes: [String: Int64] = [:]
    var checked: Set<String> = []
    var indexBytes: [UInt8]?
    var exports: [String: [UInt8]] = [:]
    var hashed: Int64 = 0

    init(source: String, progress: ((Int64) -> Void)?) {
        self.source = source
        self.progress = progress
    }

    func blobName(_ digest: String) -> String { "\(source): blob \(digest)" }

    // MARK: Directory

    mutating func readDirectory(_ directory: String, deferLayers: Bool) throws(ImageError) {
        indexBytes = try read(directory + "/index.json", limit: 1 << 20)
        let index = try decodeIndex()
        // Walk the graph: every manifest in the index, its config and layers.
        var pending = index.manifests
        var seen = Set<String>()
        while let descriptor = pending.popLast() {
            guard seen.insert(descriptor.digest).inserted else { continue }
            try readBlob(descriptor, in: directory)
            guard descriptor.mediaType == OCIMediaType.imageManifest, let bytes = small[descriptor.digest] else { continue }
            let manifest = try decode(OCIManifest.self, bytes, what: "manifest \(descriptor.digest)")
            pending.append(manifest.config)
            let isImage = manifest.subject == nil
            for layer in manifest.layers {
                if isImage && deferLayers && layer.size > Int64(ImageVerifier.smallBlobLimit) {
                    try checkPresent(layer, in: directory)
                } else {
                    pending.append(layer)
                }
            }
        }
        for export in ImageLayout.exports.map(\.file) + [ImageLayout.modelSignatureFile] {
            let path = directory + "/" + ImageLayout.exportsDirectory + "/" + export
            if FileSystem.exists(path) { exports[export] = try read(path, limit: 16 << 20) }
        }
    }

    private mutating func readBlob(_ descriptor: OCIDescriptor, in directory: String) throws(ImageError) {
        guard let digest = descriptor.sha256 else { throw ImageError(blobName(descriptor.digest), "is not a sha256 digest") }
        let path = directory + "/blobs/sha256/" + digest.hex
        guard FileSystem.exists(path) else { throw ImageError(blobName(descriptor.digest), "is missing") }
        var keep = descriptor.size <= Int64(ImageVerifier.smallBlobLimit) ? [UInt8]() : nil
        let alreadyHashed = hashed
        let progress = self.progress
        let result: (digest: SHA256Digest, size: Int64)
        do {
            var hasher = SHA256()
            let size = try FileHashing.stream(path, progress: { progress?(alreadyHashed + $0) }) { chunk in
                hasher.update(chunk)
                if keep != nil, (keep?.count ?? 0) + chunk.count <= ImageVerifier.smallBlobLimit { keep?.append(contentsOf: chunk) } else { keep = nil }
            }
            result = (hasher.finalize(), size)
        } catch { throw ImageError(blobName(descriptor.digest), error.reason) }
        hashed += result.size
        try check(result, against: descriptor)
        if let keep { small[descriptor.digest] = keep }
        sizes[descriptor.digest] = result.size
        checked.insert(descriptor.digest)
    }

    private mutating func checkPresent(_ descriptor: OCIDescriptor, in directory: String) throws(ImageError) {
        guard let digest = descriptor.sha256 else { throw ImageError(blobName(descriptor.digest), "is not a sha256 digest") }
        var info = stat()
        guard stat(directory + "/blobs/sha256/" + digest.hex, &info) == 0 else { throw ImageError(blobName(descriptor.digest), "is missing") }
        guard Int64(info.st_size) == descriptor.size else {
            throw ImageError(blobName(descriptor.digest), "is \(info.st_size) bytes, its descriptor says \(descriptor.size)")
        }
        sizes[descriptor.digest] = descriptor.size
    }

    // MARK: Archive

    mutating func readArchive(_ path: String) throws(ImageError) {
        var state = self
        do {
            try TarReader.forEachEntryStreaming(inFile: path) { (entry, chunks) throws(ArchiveError) in
                let name = entry.path.hasPrefix("./") ? String(entry.path.dropFirst(2)) : entry.path
                if entry.isDirectory { return }
                if name == "index.json" {
                    state.indexBytes = try chunks.collect(limit: 1 << 20)
                } else if name.hasPrefix("blobs/sha256/") {
                    let hex = String(name.dropFirst("blobs/sha256/".count))
                    guard let expected = SHA256Digest(hex: hex) else { throw ArchiveError(path: "\(path): \(name)", reason: "is not named by a sha256 digest") }
                    var hasher = SHA256()
                    var keep: [UInt8]? = entry.size <= Int64(ImageVerifier.smallBlobLimit) ? [] : nil
                    let size = try chunks.forEach { chunk in
                        hasher.update(chunk)
                        keep?.append(contentsOf: chunk)
                    }
                    state.hashed += size
                    state.progress?(state.hashed)
                    guard hasher.finalize() == expected else {
                        throw ArchiveError(path: state.blobName(expected.prefixed), reason: "content does not match its digest")
                    }
                    state.sizes[expected.prefixed] = size
                    state.checked.insert(expected.prefixed)
                    if let keep { state.small[expected.prefixed] = keep }
                } else if name.hasPrefix(ImageLayout.exportsDirectory + "/") {
                    state.exports[String(name.dropFirst(ImageLayout.exportsDirectory.count + 1))] = try chunks.collect(limit: 16 << 20)
                }
            }
        } catch { throw ImageError.from(error) }
        self = state
    }

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
        for layer in manifest.layers {
            guard layer.mediaType == OCIMediaType.layerTar else {
                throw ImageError(blobName(layer.digest), "has media type \(layer.mediaType), expected \(OCIMediaType.layerTar)")
            }
            guard sizes[layer.digest] == layer.size else {
                throw ImageError(blobName(layer.digest), sizes[layer.digest] == nil ? "is missing" : "is \(sizes[layer.digest] ?? 0) bytes, its descriptor says \(layer.size)")
            }
        }
        // The index layer is small: read image.json out of it now.
        guard let indexLayer = manifest.layers.last else { throw ImageError(blobName(imageDescriptor.digest), "lists no layers") }
        let imageFile = try readImageFile(from: try blobBytes(indexLayer, expecting: OCIMediaType.layerTar), layer: indexLayer)

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
            referrers.append(VerifiedImage.Referrer(descriptor: descriptor, manifest: referrer, payload: payload))
        }
        // Exported copies, where present, must be the referrers' own bytes.
        for (name, bytes) in exports {
            let matching: Bool
            if name == ImageLayout.modelSignatureFile {
                matching = referrers.contains { $0.payload == bytes && $0.manifest.artifactType != OCIMediaType.dsseEnvelope }
            } else if let export = ImageLayout.exports.first(where: { $0.file == name }) {
                matching = referrers.contains { $0.payload == bytes && $0.descriptor.annotations?[SovereignAnnotation.predicateType] == export.predicateType }
            } else {
                continue
            }
            guard matching else { throw ImageError("\(source): \(ImageLayout.exportsDirectory)/\(name)", "differs from the signed copy inside the image") }
        }
        return VerifiedImage(source: source, index: index, imageDescriptor: imageDescriptor, manifest: manifest, config: config,
                             referrers: referrers, imageIndexFile: imageFile, checkedBlobs: checked, bytesHashed: hashed)
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
        guard checked.contains(descriptor.digest), let bytes = small[descriptor.digest] else {
            throw ImageError(blobName(descriptor.digest), sizes[descriptor.digest] == nil ? "is missing" : "is too large for its kind")
        }
        guard Int64(bytes.count) == descriptor.size else {
            throw ImageError(blobName(descriptor.digest), "is \(bytes.count) bytes, its descriptor says \(descriptor.size)")
        }
        return bytes
    }

    private func check(_ result: (digest: SHA256Digest, size: Int64), against descriptor: OCIDescriptor) throws(ImageError) {
        guard result.digest.prefixed == descriptor.digest else {
            throw ImageError(blobName(descriptor.digest), "content does not match its digest (sha256 is \(result.digest.hex))")
        }
        guard result.size == descriptor.size else {
            throw ImageError(blobName(descriptor.digest), "is \(result.size) bytes, its descriptor says \(descriptor.size)")
        }
    }

    private func readImageFile(from tar: [UInt8], layer: OCIDescriptor) throws(ImageError) -> [UInt8] {
        var found: [UInt8]?
        do {
            try TarReader.forEachEntry(in: tar, label: blobName(layer.digest)) { (entry, read) throws(ArchiveError) in
                if entry.path == ImageLayout.indexFile { found = try read(4 << 20) }
            }
        } catch { throw ImageError.from(error) }
        guard let found else { throw ImageError(blobName(layer.digest), "holds no \(ImageLayout.indexFile)") }
        return found
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(ImageError) -> T {
        do { return try StrictJSON.decode(T.self, from: bytes, source: "\(source): \(what)") } catch { throw ImageError.from(error) }
    }

    private func read(_ path: String, limit: Int) throws(ImageError) -> [UInt8] {
        do { return try FileSystem.readFile(path, limit: limit) } catch { throw ImageError.from(error) }
    }
}
