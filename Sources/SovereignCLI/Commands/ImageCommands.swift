import Foundation
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage

/// `sovereign inspect` and `sovereign sign`: read an image; co-sign it.
enum ImageCommands {
    static let inspect = CommandSpec(
        name: "inspect",
        abstract: "Show what an image holds: manifest, layers, model, constraint layer and who approved it, files, signatures.",
        discussion: "Reads an OCI layout directory or its tar archive. Checks each small blob it reads against its digest; it does not decide trust (that is 'sovereign verify').",
        arguments: [ArgumentSpec(name: "<image>", help: "OCI layout directory or archive (.tar).")],
        options: [CommonOptions.json],
        run: runInspect
    )

    static let sign = CommandSpec(
        name: "sign",
        abstract: "Co-sign an image: add a release key's signature to its attestations.",
        discussion: "Adds a signature to every DSSE envelope (provenance, BOM) of the image directory and re-exports them. No byte of the image itself (manifest, config, layers) changes. Signing again with the same key changes nothing.",
        arguments: [ArgumentSpec(name: "<dir>", help: "OCI layout directory built by 'sovereign build'.")],
        options: [.value("--key", "<key>", "Release private key (.key).", required: true)] + CommonOptions.passphrase + [CommonOptions.json],
        run: runSign
    )

    static let attach = CommandSpec(
        name: "attach",
        abstract: "Attach signed statements (a certification VSA, its audit report, a layer approval) to an image as OCI referrers.",
        discussion: """
        Each <envelope> must be a signed DSSE envelope whose in-toto statement \
        is about the image's manifest, or a policy author's approval ('sovereign \
        layer sign') of exactly the constraint layer the image carries; it is stored as an OCI 1.1 referrer \
        (subject: the image manifest) and listed in index.json, where \
        'sovereign verify' and 'install' count it (a trust policy with a \
        certifier threshold needs a passing certification attached) and \
        registries serve it through the referrers API. The image's manifest, \
        config and layers do not change, so neither does its digest. An \
        envelope already attached is skipped.
        """,
        arguments: [ArgumentSpec(name: "<envelope>", help: "DSSE envelopes to attach (e.g. vsa.dsse.json audit-report.dsse.json).", isVariadic: true)],
        options: [.value("--image", "<dir>", "The OCI image layout directory.", required: true), CommonOptions.json],
        run: runAttach
    )

    @Sendable static func runAttach(_ arguments: ParsedArguments) throws -> Int32 {
        let directory = try arguments.required("--image")
        var envelopes: [(source: String, bytes: [UInt8])] = []
        for path in arguments.positionals { envelopes.append((path, try readInput(path, limit: 16 << 20))) }
        let result = try ImageAttacher.attach(envelopes, to: directory)
        if arguments.flag("--json") {
            Output.json(.object([
                "image": .string(directory), "manifest": .string(result.manifestDigest.prefixed),
                "attached": .array(result.attached.map(JSONValue.string)), "alreadyAttached": .array(result.alreadyAttached.map(JSONValue.string)),
            ]))
        } else {
            for type in result.attached { Output.line("attached \(type) to \(result.manifestDigest.prefixed)") }
            for type in result.alreadyAttached { Output.line("already attached: \(type)") }
        }
        return ExitStatus.success
    }

    @Sendable static func runInspect(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let reader = try ImageVerifier.open(path)
        let annotations = reader.annotations
        let listing = reader.listing
        var referrerValues: [JSONValue] = []
        var referrerLines: [String] = []
        for referrer in reader.referrers {
            let (descriptor, manifest) = (referrer.descriptor, referrer.manifest)
            let predicateType = descriptor.annotations?[SovereignAnnotation.predicateType] ?? manifest.annotations?[SovereignAnnotation.predicateType]
            var keyids: [String] = []
            if manifest.artifactType == OCIMediaType.dsseEnvelope, let layer = manifest.layers.first {
                let envelope = try StrictJSON.decode(DSSEEnvelope.self, from: referrer.payload, source: "\(path): envelope \(layer.digest)")
                keyids = envelope.signatures.map(\.keyid)
            }
            referrerValues.append(.object([
                "digest": .string(descriptor.digest), "artifactType": .string(manifest.artifactType ?? ""),
                "predicateType": predicateType.map(JSONValue.string) ?? .null, "keyids": .array(keyids.map(JSONValue.string)),
                "refName": descriptor.annotations?[OCIAnnotation.refName].map(JSONValue.string) ?? .null,
            ]))
            let signers = keyids.isEmpty ? "" : ", signed by " + keyids.joined(separator: ", ")
            referrerLines.append("    \(predicateType ?? manifest.artifactType ?? "?") \(descriptor.digest)\(signers)")
        }
        let model = listing.model
        let files = listing.files
        let layerDigest = listing.constraintLayerDigest
        let approvals = try reader.layerApprovals()
        if arguments.flag("--json") {
            Output.json(.object([
                "source": .string(path),
                "name": .string(annotations[OCIAnnotation.title] ?? ""), "version": .string(annotations[OCIAnnotation.version] ?? ""),
                "sequence": .string(annotations[SovereignAnnotation.sequence] ?? ""),
                "created": .string(annotations[OCIAnnotation.created] ?? ""),
                "manifest": .object(["digest": .string(reader.imageDescriptor.digest), "size": .integer(reader.imageDescriptor.size)]),
                "config": .object(["digest": .string(reader.manifest.config.digest), "size": .integer(reader.manifest.config.size)]),
                "platform": .string("\(reader.config.os)/\(reader.config.architecture)"),
                "layers": .array(reader.manifest.layers.map {
                    .object(["title": .string($0.annotations?[OCIAnnotation.title] ?? ""), "digest": .string($0.digest),
                             "size": .integer($0.size), "mediaType": .string($0.mediaType)])
                }),
                "model": model.json,
                "constraintLayer": .object([
                    "name": .string(listing.constraintLayer), "digest": .string(layerDigest.prefixed),
                    "approvals": .array(approvals.map { carried in
                        var object = LayerApprovalOutput.json(carried).objectValue ?? [:]
                        object["approvesThisLayer"] = .bool(carried.approval.layerDigest == layerDigest)
                        return .object(object)
                    }),
                ]),
                "files": .array(files.map(\.json)),
                "referrers": .array(referrerValues),
            ]))
        } else {
            Output.line("image \(annotations[OCIAnnotation.title] ?? "?"):\(annotations[OCIAnnotation.version] ?? "?") (sequence \(annotations[SovereignAnnotation.sequence] ?? "?"), created \(annotations[OCIAnnotation.created] ?? "?"))")
            Output.line("  manifest \(reader.imageDescriptor.digest) (\(reader.imageDescriptor.size) bytes)")
            Output.line("  config   \(reader.manifest.config.digest) (\(reader.config.os)/\(reader.config.architecture))")
            Output.line("  model    \(model.name) sha256:\(model.sha256.hex) (\(model.license))")
            Output.line("  constraint layer \(listing.constraintLayer) \(layerDigest.prefixed)"
                        + (approvals.isEmpty ? ", approved by no policy author" : ""))
            for carried in approvals {
                let stale = carried.approval.layerDigest == layerDigest ? "" : " [approves \(carried.approval.layerDigest.prefixed), NOT this layer]"
                Output.line("    " + LayerApprovalOutput.line(carried) + stale)
            }
            Output.line("  layers")
            for layer in reader.manifest.layers {
                let title = layer.annotations?[OCIAnnotation.title] ?? "?"
                Output.line("    \(title.padding(toLength: 12, withPad: " ", startingAt: 0)) \(layer.digest) \(Progress.bytes(layer.size))")
            }
            Output.line("  files (\(files.count), listed in \(ImageLayout.indexFile))")
            for file in files {
                Output.line("    \(file.sha256.hex)  \(file.path)")
            }
            Output.line("  referrers")
            referrerLines.forEach { Output.line($0) }
        }
        return ExitStatus.success
    }

    @Sendable static func runSign(_ arguments: ParsedArguments) throws -> Int32 {
        let directory = arguments.positionals[0]
        // Read the image before asking for a passphrase, so a wrong path fails first.
        _ = try ImageVerifier.open(directory)
        let key = try KeyLoading.privateKey(at: try arguments.required("--key"), arguments: arguments)
        let result = try ImageCoSigner.sign(directory: directory, with: key)
        if arguments.flag("--json") {
            Output.json(.object([
                "image": .string(directory), "keyid": .string(key.publicKey.keyID),
                "signed": .array(result.signed.map(JSONValue.string)), "alreadySigned": .array(result.alreadySigned.map(JSONValue.string)),
            ]))
        } else {
            for kind in result.signed { Output.line("signed \(kind) (key id \(key.publicKey.keyID))") }
            for kind in result.alreadySigned { Output.line("already signed \(kind) by key id \(key.publicKey.keyID)") }
        }
        return ExitStatus.success
    }
}
