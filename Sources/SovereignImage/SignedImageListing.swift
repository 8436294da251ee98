import SovereignCrypto
import SovereignFormats
import SovereignArchive
import SovereignPolicy

/// `sovereign/image.json`: the signed list of every file of an image tree
/// and what the image is, written by the builder and read by the verifier,
/// the installer and `InstalledAppliance`, in this one place.
///
/// Every path is held to `SafeTarPath`'s rules (bytes, the portable
/// character set, depth and length caps) and must lie under `sovereign/`;
/// a listing that breaks them is refused whoever made it, so a careless or
/// compromised builder cannot sign its way past the installer.
public struct SignedImageListing: Sendable, Equatable {
    public struct Model: Sendable, Equatable {
        public let name: String
        public let path: String
        public let sha256: SHA256Digest
        public let size: Int64
        public let license: String
        public let source: String

        public var json: JSONValue {
            .object(["name": .string(name), "path": .string(path), "sha256": .string(sha256.hex), "size": .integer(size),
                     "license": .string(license), "source": .string(source)])
        }
    }

    public let name: String
    public let version: String
    public let sequence: Int64
    public let created: String
    /// The constraint layer's name: its files lie under `sovereign/policies/<name>/`.
    public let constraintLayer: String
    public let specSHA256: SHA256Digest
    public let model: Model
    /// The runtime settings file's path in the tree.
    public let runtime: String
    /// Every file but image.json itself, sorted by path bytes.
    public let files: [FileRecord]
    public let source: String?
    public let revision: String?

    public init(name: String, version: String, sequence: Int64, created: String, constraintLayer: String,
                specSHA256: SHA256Digest, model: Model, runtime: String, files: [FileRecord],
                source: String?, revision: String?, checkedAs place: String = ImageLayout.indexFile) throws(ImageError) {
        self.name = name
        self.version = version
        self.sequence = sequence
        self.created = created
        self.constraintLayer = constraintLayer
        self.specSHA256 = specSHA256
        self.model = model
        self.runtime = runtime
        self.files = files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        self.source = source
        self.revision = revision
        try check(source: place)
    }

    /// The signed files as the extractor takes them, image.json itself included.
    public func signedFiles(indexFileBytes: [UInt8]) -> [SignedFile] {
        files.map { SignedFile(path: $0.path, size: $0.size, sha256: $0.sha256) }
            + [SignedFile(path: ImageLayout.indexFile, size: Int64(indexFileBytes.count), sha256: SHA256.hash(indexFileBytes))]
    }

    /// The constraint layer's files as its folder held them (the policy
    /// folder's, and the runtime settings as `runtime.json`).
    public var constraintLayerEntries: [ConstraintLayerDigest.Entry] {
        let prefix = ImageLayout.policyDirectory(constraintLayer) + "/"
        var entries: [ConstraintLayerDigest.Entry] = files.compactMap { file in
            file.path.utf8.starts(with: prefix.utf8) ? .init(path: String(file.path.dropFirst(prefix.count)), sha256: file.sha256) : nil
        }
        if let runtimeFile = files.first(where: { $0.path.utf8.elementsEqual(runtime.utf8) }) {
            entries.append(.init(path: "runtime.json", sha256: runtimeFile.sha256))
        }
        return entries
    }

    /// The constraint layer's digest (see `ConstraintLayerDigest`).
    public var constraintLayerDigest: SHA256Digest { ConstraintLayerDigest.of(constraintLayerEntries) }

    /// Checks every path and the cross-references (model, runtime) between fields.
    private func check(source: String) throws(ImageError) {
        var seen = Set<[UInt8]>()
        for file in files {
            try Self.checkPath(file.path, source: source)
            guard file.size >= 0 else { throw ImageError(source, "files: '\(file.path)' has a negative size") }
            guard seen.insert(Array(file.path.utf8)).inserted else { throw ImageError(source, "files: '\(file.path)' is listed twice") }
            guard file.path != ImageLayout.indexFile else { throw ImageError(source, "files: lists \(ImageLayout.indexFile) itself") }
        }
        guard let modelFile = files.first(where: { $0.path.utf8.elementsEqual(model.path.utf8) }),
              modelFile.sha256 == model.sha256, modelFile.size == model.size else {
            throw ImageError(source, "model.path '\(model.path)' is not a listed file with the model's sha256 and size")
        }
        guard files.contains(where: { $0.path.utf8.elementsEqual(runtime.utf8) }) else {
            throw ImageError(source, "runtime '\(runtime)' is not a listed file")
        }
        if case .failure(let refusal) = SafeTarPath.parse(Array(constraintLayer.utf8), as: .canonical) {
            throw ImageError(source, "constraintLayer '\(SafeTarPath.display(Array(constraintLayer.utf8)))' \(refusal.reason)")
        }
        guard !constraintLayer.utf8.contains(UInt8(ascii: "/")) else { throw ImageError(source, "constraintLayer must be one name") }
    }

    /// A signed path: `SafeTarPath`'s rules, under `sovereign/`.
    public static func checkPath(_ path: String, source: String) throws(ImageError) {
        let bytes = Array(path.utf8)
        switch SafeTarPath.parse(bytes, as: .canonical) {
        case .failure(let refusal):
            throw ImageError(source, "'\(SafeTarPath.display(bytes))' \(refusal.reason)")
        case .success(let parsed):
            guard parsed.components.count >= 2, parsed.components[0] == Array(ImageLayout.root.utf8) else {
                throw ImageError(source, "'\(SafeTarPath.display(bytes))' is not under \(ImageLayout.root)/")
            }
        }
    }

    // MARK: JSON

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "schema": .string(ImageLayout.indexSchema), "name": .string(name), "version": .string(version),
            "sequence": .integer(sequence), "created": .string(created), "constraintLayer": .string(constraintLayer),
            "spec": .object(["sha256": .string(specSHA256.hex)]),
            "model": model.json,
            "runtime": .string(runtime),
            "files": .array(files.map(\.json)),
        ]
        if let source { object["source"] = .string(source) }
        if let revision { object["revision"] = .string(revision) }
        return .object(object)
    }

    /// The canonical bytes, as signed into the index layer.
    public var canonicalBytes: [UInt8] { CanonicalJSON.serialize(json) }

    /// Reads image.json strictly: unknown fields, wrong types and unsafe paths are refused.
    public init(json bytes: [UInt8], source: String) throws(ImageError) {
        let fields: (name: String, version: String, sequence: Int64, created: String, constraintLayer: String, spec: SHA256Digest,
                     model: Model, runtime: String, files: [FileRecord], source: String?, revision: String?)
        do throws(FormatsError) {
            var reader = try JSONObjectReader(parsing: bytes, source: source, mode: .strict)
            let schema = try reader.string("schema")
            guard schema == ImageLayout.indexSchema else {
                throw FormatsError(source: source, reason: "schema is '\(schema)', expected '\(ImageLayout.indexSchema)'")
            }
            let name = try reader.string("name"), version = try reader.string("version")
            let sequence = try reader.integer("sequence", in: 0...Int64.max)
            let created = try reader.string("created"), constraintLayer = try reader.string("constraintLayer")
            var spec = try reader.object("spec")
            let specSHA256 = try spec.sha256("sha256")
            try spec.finish()
            var model = try reader.object("model")
            let modelValue = Model(name: try model.string("name"), path: try model.string("path"), sha256: try model.sha256("sha256"),
                                   size: try model.integer("size", in: 0...Int64.max), license: try model.string("license"),
                                   source: try model.string("source"))
            try model.finish()
            let runtime = try reader.string("runtime")
            var files: [FileRecord] = []
            for var file in try reader.objects("files") {
                let layerName = try file.string("layer")
                guard let layer = ImageLayout.Layer(rawValue: layerName) else {
                    throw file.error("layer", "'\(layerName)' is not a layer of an image")
                }
                files.append(FileRecord(path: try file.string("path"), size: try file.integer("size", in: 0...Int64.max),
                                        sha256: try file.sha256("sha256"), layer: layer))
                try file.finish()
            }
            let sourceValue = try reader.optionalString("source"), revision = try reader.optionalString("revision")
            try reader.finish()
            fields = (name, version, sequence, created, constraintLayer, specSHA256, modelValue, runtime, files, sourceValue, revision)
        } catch {
            throw ImageError(error.source, error.reason)
        }
        try self.init(name: fields.name, version: fields.version, sequence: fields.sequence, created: fields.created,
                      constraintLayer: fields.constraintLayer, specSHA256: fields.spec, model: fields.model, runtime: fields.runtime,
                      files: fields.files, source: fields.source, revision: fields.revision, checkedAs: source)
        // The listing must be the canonical form of itself: one spelling per image.
        guard canonicalBytes == bytes else { throw ImageError(source, "is not in canonical form (sorted files, RFC 8785 JSON)") }
    }
}
