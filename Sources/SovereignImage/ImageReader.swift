import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive

/// Reads a Sovereign image from an OCI layout directory or its tar archive:
/// the index, the image manifest and config, the referrers, and
/// `sovereign/image.json`. Every blob it reads is checked against its digest
/// and size. (It reads; `sovereign verify` decides whether to trust.)
public struct ImageReader {
    public let source: String
    public let index: OCIIndex
    public let imageDescriptor: OCIDescriptor
    public let manifest: OCIManifest
    public let config: OCIImageConfig
    /// Small blobs by digest (manifests, configs, envelopes, the index layer).
    private let blobs: [String: [UInt8]]
    /// Sizes of every blob present, read or not.
    public let blobSizes: [String: Int64]

    /// Blobs above this are not loaded by `inspect` (layers of weights).
    static let smallBlobLimit = 16 << 20

    public init(path: String) throws(ImageError) {
        source = path
        var blobs: [String: [UInt8]] = [:]
        var sizes: [String: Int64] = [:]
        var indexBytes: [UInt8]?
        if FileSystem.isDirectory(path) {
            indexBytes = try Self.read(path + "/index.json", limit: 1 << 20)
            for name in try ImageArchiveWriter.listTree(path + "/blobs/sha256", prefix: "") {
                let blobPath = path + "/blobs/sha256/" + name
                var info = stat()
                guard stat(blobPath, &info) == 0 else { continue }
                sizes["sha256:" + name] = Int64(info.st_size)
                if info.st_size <= Self.smallBlobLimit { blobs["sha256:" + name] = try Self.read(blobPath, limit: Self.smallBlobLimit) }
            }
        } else {
            do {
                try TarReader.forEachEntry(inFile: path) { (entry, read) throws(ArchiveError) in
                    let name = entry.path.hasPrefix("./") ? String(entry.path.dropFirst(2)) : entry.path
                    if name == "index.json" { indexBytes = try read(1 << 20) }
                    if name.hasPrefix("blobs/sha256/"), !entry.isDirectory {
                        let digest = "sha256:" + name.dropFirst("blobs/sha256/".count)
                        sizes[digest] = entry.size
                        if entry.size <= Int64(Self.smallBlobLimit) { blobs[digest] = try read(Self.smallBlobLimit) }
                    }
                }
            } catch { throw ImageError.from(error) }
        }
        guard let indexBytes else { throw ImageError(path, "has no index.json (not an OCI image layout)") }
        for (digest, bytes) in blobs where SHA256.hash(bytes).prefixed != digest {
            throw ImageError("\(path): blob \(digest)", "content does not match its digest")
        }
        self.blobs = blobs
        blobSizes = sizes
        do {
            index = try StrictJSON.decode(OCIIndex.self, from: indexBytes, source: path + "/index.json")
        } catch { throw ImageError.from(error) }
        guard let image = index.manifests.first(where: { $0.artifactType == nil && $0.mediaType == OCIMediaType.imageManifest }) else {
            throw ImageError(path + "/index.json", "lists no image manifest")
        }
        imageDescriptor = image
        manifest = try Self.decode(OCIManifest.self, blobs, image, what: "image manifest", source: path)
        config = try Self.decode(OCIImageConfig.self, blobs, manifest.config, what: "image config", source: path)
    }

    /// The bytes of a small blob, checked against the descriptor's size.
    public func blob(_ descriptor: OCIDescriptor) throws(ImageError) -> [UInt8] {
        guard let bytes = blobs[descriptor.digest] else {
            throw ImageError("\(source): blob \(descriptor.digest)", blobSizes[descriptor.digest] == nil ? "is missing" : "is too large to load here")
        }
        guard Int64(bytes.count) == descriptor.size else {
            throw ImageError("\(source): blob \(descriptor.digest)", "is \(bytes.count) bytes, its descriptor says \(descriptor.size)")
        }
        return bytes
    }

    /// Manifests in the index whose `subject` is the image manifest.
    public func referrers() throws(ImageError) -> [(descriptor: OCIDescriptor, manifest: OCIManifest)] {
        var result: [(OCIDescriptor, OCIManifest)] = []
        for descriptor in index.manifests where descriptor.digest != imageDescriptor.digest {
            let manifest = try Self.decode(OCIManifest.self, blobs, descriptor, what: "referrer manifest", source: source)
            if manifest.subject?.digest == imageDescriptor.digest { result.append((descriptor, manifest)) }
        }
        return result
    }

    /// `sovereign/image.json`, read from the index layer.
    public func imageIndexFile() throws(ImageError) -> JSONValue {
        guard let layer = manifest.layers.last(where: { $0.annotations?[OCIAnnotation.title] == ImageLayout.Layer.index.rawValue })
                ?? manifest.layers.last else {
            throw ImageError(source, "image has no layers")
        }
        let tar = try blob(layer)
        var found: [UInt8]?
        do {
            try TarReader.forEachEntry(in: tar, label: "\(source): layer \(layer.digest)") { (entry, read) throws(ArchiveError) in
                if entry.path == ImageLayout.indexFile { found = try read(4 << 20) }
            }
            guard let found else { throw ImageError(source, "the last layer holds no \(ImageLayout.indexFile)") }
            return try JSONParser.parse(found, source: "\(source): \(ImageLayout.indexFile)")
        } catch { throw ImageError.from(error) }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ blobs: [String: [UInt8]], _ descriptor: OCIDescriptor,
                                             what: String, source: String) throws(ImageError) -> T {
        guard let bytes = blobs[descriptor.digest] else { throw ImageError("\(source): \(what) \(descriptor.digest)", "is missing") }
        guard Int64(bytes.count) == descriptor.size else {
            throw ImageError("\(source): \(what) \(descriptor.digest)", "is \(bytes.count) bytes, its descriptor says \(descriptor.size)")
        }
        do { return try StrictJSON.decode(T.self, from: bytes, source: "\(source): \(what) \(descriptor.digest)") } catch {
            throw ImageError.from(error)
        }
    }

    private static func read(_ path: String, limit: Int) throws(ImageError) -> [UInt8] {
        do { return try FileSystem.readFile(path, limit: limit) } catch { throw ImageError.from(error) }
    }
}
