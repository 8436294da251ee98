import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage
import SovereignInference

/// `sovereign build`: an image spec becomes a signed, reproducible OCI image.
enum BuildCommand {
    static let spec = CommandSpec(
        name: "build",
        abstract: "Build a signed, reproducible OCI image from an image spec.",
        discussion: """
        Writes an OCI image layout to <dir> (and, with --archive, the same layout as one tar): \
        uncompressed tar layers (model, runtime, policies, attestation, index), sovereign/image.json \
        listing every file, and a SLSA provenance and a CycloneDX BOM signed as DSSE envelopes, \
        stored as OCI referrers and exported under <dir>/attestations/. The same spec and inputs \
        give the same bytes. The time is the spec's 'created', else SOURCE_DATE_EPOCH, else 1970. \
        Policy authors' approvals of the constraint layer ('sovereign layer sign'), from the spec's \
        'layerApprovals' and --layer-approval, are carried the same way, as they were signed; \
        each must approve exactly the layer packaged (every file, byte for byte), or nothing is built.
        """,
        arguments: [ArgumentSpec(name: "<spec>", help: "The image spec (e.g. Image/reference.image.json).")],
        options: [
            .value("--key", "<key>", "Release private key (.key) that signs the attestations.", required: true),
            .value("--out", "<dir>", "Output OCI layout directory (must not exist).", required: true),
            .value("--archive", "<file.tar>", "Also write the layout as one tar (must not exist)."),
            .value("--layer-approval", "<file>",
                   "A policy author's signed approval of the constraint layer (from 'sovereign layer sign'); repeat for several.",
                   repeatable: true),
            .value("--model-signing-key", "<p256.pem>", "Also sign the sovereign/ tree as an OpenSSF model-signing bundle (ECDSA P-256 PEM private key, unencrypted)."),
        ] + CommonOptions.passphrase + [CommonOptions.json],
        run: run
    )

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let specPath = arguments.positionals[0]
        let output = try arguments.required("--out")
        let archive = arguments.value("--archive")
        let spec = try ImageSpec(path: specPath)
        // Fail on an existing output before asking for a passphrase.
        for path in [output] + (archive.map { [$0] } ?? []) where FileSystem.exists(path) {
            throw CLIError.failure(thing: path, reason: "already exists; refusing to overwrite")
        }
        guard FileSystem.exists(spec.model.path) else {
            throw CLIError.failure(thing: spec.model.path, reason: "model file not found (run scripts/fetch-model?)")
        }
        var modelSigningKey: ECDSAP256.PrivateKey?
        if let pemPath = arguments.value("--model-signing-key") {
            guard let text = String(validating: try readInput(pemPath, limit: 64 << 10), as: UTF8.self) else {
                throw CLIError.failure(thing: pemPath, reason: "not a PEM private key")
            }
            modelSigningKey = try ECDSAP256.PrivateKey(pem: text, source: pemPath)
        }
        let key = try KeyLoading.privateKey(at: try arguments.required("--key"), arguments: arguments)
        let showProgress = !arguments.flag("--json") && Output.stderrIsTerminal
        var meter: Progress?
        var options = ImageBuilder.Options(signingKeys: [key], modelDescription: try describeModel(spec.model.path)) { path, done, total in
            guard showProgress, total >= 16 << 20 else { return }
            if meter == nil { meter = Progress(label: FileSystem.baseName(path), total: total) }
            meter?.update(done)
            if done == total { meter?.finish(); meter = nil }
        }
        options.modelSigningKey = modelSigningKey
        for path in arguments.allValues("--layer-approval") {
            options.layerApprovals.append((path, try readInput(path, limit: CarriedLayerApproval.sizeLimit)))
        }
        let result = try ImageBuilder(spec: spec, options: options).build(output: output, archive: archive)
        if arguments.flag("--json") {
            var object: [String: JSONValue] = [
                "output": .string(result.output), "manifest": .string(result.manifest.digest),
                "created": .string(result.created), "keyid": .string(key.publicKey.keyID),
                "layers": .array(result.layers.map {
                    .object(["title": .string($0.annotations?[OCIAnnotation.title] ?? ""), "digest": .string($0.digest), "size": .integer($0.size)])
                }),
                "exports": .array(result.exports.map { .string(output + "/" + $0) }),
                "layerApprovals": .array(result.layerApprovals.map(LayerApprovalOutput.json)),
            ]
            if let archive { object["archive"] = .string(archive) }
            Output.json(.object(object))
        } else {
            Output.line("built \(spec.name):\(spec.version) (sequence \(spec.sequence)) into \(output)")
            Output.line("  manifest \(result.manifest.digest)")
            for layer in result.layers {
                Output.line("  layer \(layer.annotations?[OCIAnnotation.title] ?? "?") \(layer.digest) \(Progress.bytes(layer.size))")
            }
            for export in result.exports where !ImageLayout.isLayerApprovalFile(FileSystem.baseName(export)) {
                Output.line("  signed \(output)/\(export) (key id \(key.publicKey.keyID))")
            }
            for approval in result.layerApprovals { Output.line("  carries " + LayerApprovalOutput.line(approval)) }
            if let archive { Output.line("  archive \(archive)") }
        }
        return ExitStatus.success
    }

    /// Reads the model's GGUF header (validated, nothing else loaded): its
    /// architecture and the hyper-parameters a model card states. A file
    /// that is not a well-formed GGUF fails the build here.
    static func describeModel(_ path: String) throws -> ModelDescription {
        let file: GGUFFile
        do { file = try GGUFFile(contentsOf: path) } catch { throw CLIError.failure(thing: path, reason: "not a usable GGUF model: \(error.reason)") }
        let architecture = (try? file.metadata.string("general.architecture")) ?? "unknown"
        var parameters: [String: String] = ["gguf_version": String(file.version), "tensor_count": String(file.tensors.count)]
        for key in ["block_count", "embedding_length", "context_length", "feed_forward_length", "attention.head_count", "attention.head_count_kv"] {
            if let value = try? file.metadata.integer("\(architecture).\(key)") { parameters[key] = String(value) }
        }
        if let fileType = try? file.metadata.integer("general.file_type") { parameters["file_type"] = String(fileType) }
        return ModelDescription(architecture: architecture, parameters: parameters)
    }
}
