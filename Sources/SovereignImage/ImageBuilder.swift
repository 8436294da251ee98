import Foundation
import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive
import SovereignPolicy

/// Builds a signed, reproducible OCI image from a spec.
///
/// Everything is written into a temporary sibling of the output and renamed
/// into place only when complete, so a failed build leaves nothing behind.
/// The output depends only on the spec and its inputs: entries sorted, one
/// fixed time, canonical JSON, deterministic signatures.
public struct ImageBuilder {
    public struct Options {
        /// Release key(s): each signs every DSSE envelope.
        public var signingKeys: [Ed25519.PrivateKey]
        /// Environment consulted for SOURCE_DATE_EPOCH.
        public var environment: [String: String]
        /// If set, also sign the `sovereign/` tree as an OpenSSF model-signing bundle.
        public var modelSigningKey: ECDSAP256.PrivateKey?
        /// What the model is (read from its GGUF header by the caller), for the BOM.
        public var modelDescription: ModelDescription
        /// Progress while large files stream: (path, done, total).
        public var progress: ((String, Int64, Int64) -> Void)?
        /// Policy authors' signed approvals of the constraint layer, beside
        /// the spec's `layerApprovals`: (name for messages, envelope bytes).
        public var layerApprovals: [(source: String, bytes: [UInt8])] = []
        /// For tests only: carry the approvals without checking that they
        /// are signed and approve the layer packaged (a forged image with a
        /// stale or unsigned one).
        var carriesUncheckedApprovals = false
        /// For tests only: an extra layer, written as given (raw tar bytes)
        /// before the index layer, its files listed in image.json without
        /// the name checks. It models a compromised release key or a builder
        /// bug, so the tests can prove the verifier and installer hold even
        /// against a validly signed hostile image.
        var injectedLayer: (tar: [UInt8], files: [FileRecord])?
        public init(signingKeys: [Ed25519.PrivateKey], modelDescription: ModelDescription,
                    environment: [String: String] = ProcessInfo.processInfo.environment,
                    progress: ((String, Int64, Int64) -> Void)? = nil) {
            self.signingKeys = signingKeys
            self.modelDescription = modelDescription
            self.environment = environment
            self.progress = progress
        }
    }

    public struct Result: Sendable {
        public let output: String
        public let manifest: OCIDescriptor
        public let layers: [OCIDescriptor]
        public let files: [FileRecord]
        public let created: String
        public let exports: [String]
        /// The approvals carried, in the order given (spec's first).
        public let layerApprovals: [CarriedLayerApproval]
    }

    public let spec: ImageSpec
    public let options: Options

    public init(spec: ImageSpec, options: Options) {
        self.spec = spec
        self.options = options
    }

    public static let builderID = "https://sovereign.dev/sovereign-build"
    public static let toolVersion = "0.1.0"

    /// Builds into `output` (an OCI layout directory) and, if given, also
    /// `archive` (the same layout as one tar). Both appear, or neither.
    public func build(output: String, archive: String? = nil) throws(ImageError) -> Result {
        if FileSystem.exists(output) { throw ImageError(output, "already exists; refusing to overwrite") }
        if let archive, FileSystem.exists(archive) { throw ImageError(archive, "already exists; refusing to overwrite") }
        let parent = FileSystem.directoryName(output)
        guard FileSystem.isDirectory(parent) else { throw ImageError(parent, "no such directory") }

        // Read and cross-check everything small before writing a byte.
        let layer: ConstraintLayer
        do { layer = try ConstraintLayer(directory: spec.constraintLayer) } catch { throw ImageError.from(error) }
        let suites = try loadSuites(checkedAgainst: layer)
        let approvals = try loadApprovals()
        // Checked here against the folder, to fail before the model is
        // hashed, and again against the bytes packaged, which are what count.
        let folderEntries: [ConstraintLayerDigest.Entry]
        do { folderEntries = try ConstraintLayerDigest.entries(of: layer) } catch { throw ImageError.from(error) }
        try check(approvals, layer: layer.name, entries: folderEntries)
        guard FileSystem.exists(spec.model.path) else { throw ImageError(spec.model.path, "model file not found (run scripts/fetch-model?)") }
        let createdSeconds = try spec.resolvedCreated(environment: options.environment)
        let created = Timestamp.format(createdSeconds)

        let temporary = try makeTemporaryDirectory(beside: output)
        do throws(ImageError) {
            let result = try writeImage(into: temporary, layer: layer, suites: suites, approvals: approvals, created: created, mtime: createdSeconds)
            let temporaryArchive = temporary + ".tar"
            if archive != nil {
                try ImageArchiveWriter.write(layout: temporary, to: temporaryArchive, mtime: createdSeconds)
            }
            do {
                try FileSystem.syncDirectory(temporary)
                try FileSystem.renameNoReplace(temporary, to: output)
                if let archive {
                    do { try FileSystem.renameNoReplace(temporaryArchive, to: archive) } catch {
                        // Put the directory back where it was, so neither appears.
                        _ = rename(output, temporary)
                        unlink(temporaryArchive)
                        throw error
                    }
                    try FileSystem.syncDirectory(FileSystem.directoryName(archive))
                }
                try FileSystem.syncDirectory(parent)
            } catch {
                throw ImageError.from(error)
            }
            return Result(output: output, manifest: result.manifest, layers: result.layers, files: result.files,
                          created: created, exports: result.exports, layerApprovals: approvals.map(\.approval))
        } catch {
            FileSystem.removeTree(temporary)
            throw error
        }
    }

    private func loadSuites(checkedAgainst layer: ConstraintLayer) throws(ImageError) -> [(name: String, path: String)] {
        let names: [String]
        do { names = try ConstraintLayer.listFiles(spec.auditSuites, suffix: ".suite.json") } catch { throw ImageError.from(error) }
        guard !names.isEmpty else { throw ImageError(spec.auditSuites, "holds no audit suites (*.suite.json)") }
        var suites: [(String, String)] = []
        for name in names {
            let path = spec.auditSuites + "/" + name
            do {
                let suite = try AuditSuite(json: try FileSystem.readFile(path), source: path)
                try layer.check(suite, source: path)
            } catch {
                throw ImageError.from(error)
            }
            suites.append((name, path))
        }
        return suites
    }

    /// The spec's approvals, then the options', each read once (the same
    /// bytes given twice are carried once).
    private func loadApprovals() throws(ImageError) -> [(source: String, approval: CarriedLayerApproval)] {
        var given: [(source: String, bytes: [UInt8])] = []
        for path in spec.layerApprovals {
            do { given.append((path, try FileSystem.readFile(path, limit: CarriedLayerApproval.sizeLimit))) } catch { throw ImageError.from(error) }
        }
        given += options.layerApprovals
        var approvals: [(source: String, approval: CarriedLayerApproval)] = []
        for (source, bytes) in given where !approvals.contains(where: { $0.approval.bytes == bytes }) {
            approvals.append((source, options.carriesUncheckedApprovals ? try CarriedLayerApproval(bytes: bytes, source: source)
                                                                         : try CarriedLayerApproval.intake(bytes, source: source)))
        }
        guard approvals.count <= ImageLayout.maximumLayerApprovals else {
            throw ImageError(spec.specPath, "\(approvals.count) layer approvals given, more than the \(ImageLayout.maximumLayerApprovals) an image carries")
        }
        return approvals
    }

    /// Every approval must approve exactly the layer `entries` describe.
    private func check(_ approvals: [(source: String, approval: CarriedLayerApproval)], layer: String,
                       entries: [ConstraintLayerDigest.Entry]) throws(ImageError) {
        guard !options.carriesUncheckedApprovals else { return }
        for (source, approval) in approvals { try approval.checkApproves(layer: layer, entries: entries, source: source) }
    }

    private func makeTemporaryDirectory(beside output: String) throws(ImageError) -> String {
        let template = FileSystem.directoryName(output) + "/." + FileSystem.baseName(output) + ".partial-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else {
            throw ImageError.from(SystemError(path: template, operation: "mkdtemp", errno: errno))
        }
        let path = String(cString: made)
        // mkdtemp makes it 0700; the finished image is an ordinary, readable directory.
        chmod(path, 0o755)
        return path
    }

    private struct Written {
        let manifest: OCIDescriptor
        let layers: [OCIDescriptor]
        let files: [FileRecord]
        let exports: [String]
    }

    private func writeImage(into directory: String, layer: ConstraintLayer, suites: [(name: String, path: String)],
                            approvals: [(source: String, approval: CarriedLayerApproval)],
                            created: String, mtime: Int64) throws(ImageError) -> Written {
        let layout = try OCILayoutWriter(root: directory)
        let writer = LayerWriter(mtime: mtime, progress: options.progress)
        let modelFile = FileSystem.baseName(spec.model.path)

        var plans: [LayerPlan] = []
        var model = LayerPlan(layer: .model)
        model.add(ImageLayout.modelPath(modelFile), .file(spec.model.path))
        plans.append(model)
        var runtime = LayerPlan(layer: .runtime)
        runtime.add(ImageLayout.runtimeFile, .file(layer.directory + "/runtime.json"))
        plans.append(runtime)
        var policies = LayerPlan(layer: .policies)
        for file in layer.files where file != "runtime.json" {
            policies.add(ImageLayout.policyDirectory(layer.name) + "/" + file, .file(layer.directory + "/" + file))
        }
        plans.append(policies)
        var attestation = LayerPlan(layer: .attestation)
        for suite in suites { attestation.add(ImageLayout.attestationDirectory(layer.name) + "/" + suite.name, .file(suite.path)) }
        plans.append(attestation)
        // Every name is checked before a byte is written: the installer
        // refuses the same names, so an image it would refuse is never made.
        for plan in plans {
            for entry in plan.entries {
                let input: String
                switch entry.source {
                case .file(let path): input = path
                case .bytes: input = spec.name
                }
                try SignedImageListing.checkPath(entry.path, source: input)
            }
        }

        var layers: [OCIDescriptor] = []
        var files: [FileRecord] = []
        for plan in plans {
            let (descriptor, records) = try writer.write(plan, into: layout)
            layers.append(descriptor)
            files += records
        }
        guard let modelRecord = files.first(where: { $0.layer == .model }) else { throw ImageError(spec.model.path, "missing from the model layer") }
        guard modelRecord.sha256 == spec.model.sha256 else {
            throw ImageError(spec.model.path, "sha256 is \(modelRecord.sha256.hex), the spec pins \(spec.model.sha256.hex)")
        }

        if let injected = options.injectedLayer {
            layers.append(try layout.writeBlob(injected.tar, mediaType: OCIMediaType.layerTar,
                                               annotations: [OCIAnnotation.title: ImageLayout.Layer.policies.rawValue]))
        }
        // sovereign/image.json: the signed list of every file, in its own layer.
        let listing = try SignedImageListing(
            name: spec.name, version: spec.version, sequence: spec.sequence, created: created, constraintLayer: layer.name,
            specSHA256: spec.specDigest,
            model: .init(name: spec.model.name, path: modelRecord.path, sha256: modelRecord.sha256, size: modelRecord.size,
                         license: spec.model.license, source: spec.model.source),
            runtime: ImageLayout.runtimeFile, files: files, source: spec.source, revision: spec.revision)
        try check(approvals, layer: layer.name, entries: listing.constraintLayerEntries)
        var imageIndex = listing.canonicalBytes
        if let injected = options.injectedLayer, case .object(var object) = listing.json {
            let all = (files + injected.files).sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            object["files"] = .array(all.map(\.json))
            imageIndex = CanonicalJSON.serialize(.object(object))
        }
        var indexPlan = LayerPlan(layer: .index)
        indexPlan.add(ImageLayout.indexFile, .bytes(imageIndex))
        let (indexDescriptor, indexRecords) = try writer.write(indexPlan, into: layout)
        layers.append(indexDescriptor)
        files += indexRecords

        let labels = annotations(created: created)
        let config = OCIImageConfig(
            created: created, platform: spec.platform, labels: labels, diffIDs: layers.map(\.digest),
            history: ImageLayout.Layer.allCases.map {
                OCIImageConfig.History(created: created, createdBy: "sovereign build \(Self.toolVersion)", comment: "\($0.rawValue) layer")
            })
        let configDescriptor = try layout.writeBlob(try encode(config), mediaType: OCIMediaType.imageConfig)
        let manifest = OCIManifest(config: configDescriptor, layers: layers, annotations: labels)
        var manifestDescriptor = try layout.writeBlob(try encode(manifest), mediaType: OCIMediaType.imageManifest)

        var exports: [String] = []
        let referrers = try ImageAttestations(spec: spec, layer: layer, created: created, files: files,
                                              modelRecord: modelRecord, modelDescription: options.modelDescription,
                                              layerApprovals: approvals.map(\.approval))
            .write(subject: manifestDescriptor, into: layout, signingKeys: options.signingKeys,
                   modelSigningKey: options.modelSigningKey, exports: &exports)

        manifestDescriptor.annotations = [OCIAnnotation.refName: spec.version]
        let index = OCIIndex(manifests: [manifestDescriptor] + referrers)
        try layout.writeFile("index.json", try encode(index))
        try layout.writeFile("oci-layout", try encode(OCILayoutMarker()))
        return Written(manifest: manifestDescriptor, layers: layers, files: files, exports: exports)
    }

    func annotations(created: String) -> [String: String] {
        var annotations = [
            OCIAnnotation.title: spec.name, OCIAnnotation.version: spec.version, OCIAnnotation.created: created,
            SovereignAnnotation.sequence: String(spec.sequence), SovereignAnnotation.modelSHA256: spec.model.sha256.hex,
        ]
        if let source = spec.source { annotations[OCIAnnotation.source] = source }
        if let revision = spec.revision { annotations[OCIAnnotation.revision] = revision }
        return annotations
    }
}

/// Canonical JSON of an OCI document.
func encode<T: Encodable>(_ value: T) throws(ImageError) -> [UInt8] {
    do { return try CanonicalJSON.encode(value) } catch { throw ImageError.from(error) }
}
