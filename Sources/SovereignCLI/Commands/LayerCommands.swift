import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignPolicy
import SovereignImage
import SovereignTrust

/// `sovereign layer`: what policy authors do with a constraint layer folder
/// before any image is built: see its digest, and sign their approval of it.
enum LayerCommands {
    static let spec = CommandSpec(
        name: "layer",
        abstract: "Constraint layers: their digest, and policy authors' signed approvals.",
        subcommands: [digest, sign]
    )

    static let digest = CommandSpec(
        name: "digest",
        abstract: "Print a constraint layer's digest and its files' digests, as an image built from it will carry them.",
        arguments: [ArgumentSpec(name: "<layer-dir>", help: "The layer's folder (reference/*.md, rules.json, runtime.json).")],
        options: [CommonOptions.json],
        run: runDigest
    )

    static let sign = CommandSpec(
        name: "sign",
        abstract: "Sign a policy author's approval of a constraint layer (in-toto, https://sovereign.dev/layer-approval/v1).",
        discussion: """
        The layer is loaded and checked as 'sovereign build' checks it; the \
        approval is an in-toto Statement whose subjects are the layer's digest \
        ('constraint-layer') and each of its files, with the layer's name, \
        --layer-version, --role (who approves: a role or an office, free \
        text), the approval time and, with --previous, the digest of the \
        version approved before. It is signed with --key in a DSSE envelope; \
        more authors co-sign the same envelope with 'sovereign attest \
        --envelope F --key K2'. Changing one byte of the layer afterwards \
        changes its digest, so the approval no longer covers it. Refuses to \
        overwrite --out.
        """,
        arguments: [ArgumentSpec(name: "<layer-dir>", help: "The layer's folder.")],
        options: [
            .value("--key", "<key>", "The author's private key (.key).", required: true),
            .value("--out", "<file>", "Where to write the signed approval (a DSSE envelope).", required: true),
            .value("--role", "<text>", "Who approves: a role or an office, e.g. 'Clinical governance board'.", required: true),
            .value("--layer-version", "<version>", "The version of the layer approved, e.g. 1.0.0.", required: true),
            .value("--previous", "<sha256>", "The digest of the layer version approved before this one (64 hex, 'sha256:' optional)."),
            .value("--approved-on", "<time>", "When it was approved: RFC 3339 UTC (default: now)."),
            CommonOptions.json,
        ] + CommonOptions.passphrase,
        run: runSign
    )

    private static func load(_ directory: String) throws -> (ConstraintLayer, [ConstraintLayerDigest.Entry]) {
        let layer: ConstraintLayer
        do { layer = try ConstraintLayer(directory: directory) } catch { throw CLIError.failure(thing: error.source, reason: error.reason) }
        return (layer, try ConstraintLayerDigest.entries(of: layer))
    }

    @Sendable static func runDigest(_ arguments: ParsedArguments) throws -> Int32 {
        let (layer, entries) = try load(arguments.positionals[0])
        let digest = ConstraintLayerDigest.of(entries)
        if arguments.flag("--json") {
            Output.json(.object([
                "layer": .string(layer.name), "digest": .string(digest.prefixed),
                "files": .array(entries.map { .object(["path": .string($0.path), "sha256": .string($0.sha256.hex)]) }),
            ]))
        } else {
            Output.line("\(digest.prefixed)  \(layer.name)")
            for entry in entries { Output.line("  \(entry.sha256.hex)  \(entry.path)") }
        }
        return ExitStatus.success
    }

    @Sendable static func runSign(_ arguments: ParsedArguments) throws -> Int32 {
        let output = try arguments.required("--out")
        var previous: SHA256Digest?
        if let text = arguments.value("--previous") {
            guard let digest = SHA256Digest(hex: text.hasPrefix("sha256:") ? String(text.dropFirst("sha256:".count)) : text) else {
                throw ModelCommands.invalid(arguments, "--previous")
            }
            previous = digest
        }
        let approvedOn = arguments.value("--approved-on") ?? Timestamp.format(Int64(time(nil)))
        guard Timestamp.parse(approvedOn) != nil else { throw ModelCommands.invalid(arguments, "--approved-on") }
        if FileSystem.exists(output) { throw CLIError.failure(thing: output, reason: "already exists; refusing to overwrite") }
        let (layer, entries) = try load(arguments.positionals[0])
        let approval = try LayerApproval(layer: layer.name, version: try arguments.required("--layer-version"),
                                         approver: try arguments.required("--role"), approvedOn: approvedOn, previous: previous, files: entries)
        let statement = try approval.statement()
        let key = try KeyLoading.privateKey(at: try arguments.required("--key"), arguments: arguments)
        var envelope = DSSEEnvelope(payload: statement.canonicalBytes, payloadType: DSSEEnvelope.inTotoPayloadType)
        try envelope.sign(with: key, source: output)
        try writeNewFiles([(output, try CanonicalJSON.encode(envelope) + [0x0A], 0o644)])
        let digest = approval.layerDigest
        if arguments.flag("--json") {
            Output.json(.object([
                "approval": .string(output), "layer": .string(layer.name), "digest": .string(digest.prefixed),
                "version": .string(approval.version), "role": .string(approval.approver), "approvedOn": .string(approvedOn),
                "keyid": .string(key.publicKey.keyID), "files": .integer(Int64(entries.count)),
            ]))
        } else {
            Output.line("wrote \(output): \(approval.approver) approves \(layer.name) \(approval.version) (\(digest.prefixed), "
                        + "\(entries.count) files), signed by key id \(key.publicKey.keyID)")
        }
        return ExitStatus.success
    }
}
