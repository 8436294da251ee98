import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// `sovereign attest` and `sovereign verify-envelope`: in-toto statements
/// in DSSE envelopes.
enum EnvelopeCommands {
    static let attest = CommandSpec(
        name: "attest",
        abstract: "Sign an in-toto statement into a DSSE envelope, or co-sign an envelope.",
        discussion: """
        With --statement, validates the in-toto Statement v1, serialises it \
        canonically (RFC 8785) and signs it. With --envelope, adds this key's \
        signature to an existing envelope (co-signing); the payload is unchanged.
        """,
        options: [
            .value("--statement", "<statement.json>", "The in-toto statement to sign."),
            .value("--envelope", "<envelope.dsse.json>", "An existing envelope to co-sign."),
            .value("--key", "<key>", "Private key file (.key).", required: true),
            .value("--out", "<envelope.dsse.json>", "Where to write the envelope.", required: true),
        ] + CommonOptions.passphrase + [CommonOptions.json],
        run: runAttest
    )

    static let verify = CommandSpec(
        name: "verify-envelope",
        abstract: "Verify a DSSE envelope's signatures against public keys.",
        discussion: "Succeeds when at least <n> distinct given keys signed and no signature claiming a given key fails.",
        arguments: [ArgumentSpec(name: "<envelope>", help: "A DSSE envelope (JSON).")],
        options: [
            .value("--pub", "<public-key>", "A trusted public key (PEM or minisign); repeat for several.", required: true, repeatable: true),
            .value("--threshold", "<n>", "Distinct trusted keys that must have signed (default 1)."),
            CommonOptions.json,
        ],
        run: runVerify
    )

    @Sendable static func runAttest(_ arguments: ParsedArguments) throws -> Int32 {
        let output = try arguments.required("--out")
        let keyPath = try arguments.required("--key")
        var envelope: DSSEEnvelope
        switch (arguments.value("--statement"), arguments.value("--envelope")) {
        case (let statementPath?, nil):
            let statement = try InTotoStatement(parsing: try readInput(statementPath), source: statementPath)
            envelope = DSSEEnvelope(payload: statement.canonicalBytes, payloadType: DSSEEnvelope.inTotoPayloadType)
        case (nil, let envelopePath?):
            envelope = try readEnvelope(envelopePath)
            _ = try statement(in: envelope, source: envelopePath)
        default:
            throw CLIError.usage("Give exactly one of '--statement' or '--envelope'", command: arguments.command)
        }
        if FileSystem.exists(output) { throw CLIError.failure(thing: output, reason: "already exists; refusing to overwrite") }
        let key = try KeyLoading.privateKey(at: keyPath, arguments: arguments)
        try envelope.sign(with: key, source: arguments.value("--envelope") ?? output)
        try writeNewFiles([(output, try CanonicalJSON.encode(envelope) + [0x0A], 0o644)])
        if arguments.flag("--json") {
            Output.json(.object([
                "envelope": .string(output), "keyid": .string(key.publicKey.keyID),
                "signatures": .integer(Int64(envelope.signatures.count)),
            ]))
        } else {
            Output.line("wrote \(output) (\(envelope.signatures.count) signature\(envelope.signatures.count == 1 ? "" : "s"), added key id \(key.publicKey.keyID))")
        }
        return ExitStatus.success
    }

    @Sendable static func runVerify(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let threshold = try arguments.positiveInteger("--threshold", default: 1)
        let keyPaths = arguments.allValues("--pub")
        var keys: [Ed25519.PublicKey] = []
        var keyFiles: [String: String] = [:]
        for keyPath in keyPaths {
            let key = try KeyLoading.publicKey(at: keyPath).key
            if keyFiles[key.keyID] == nil { keys.append(key) }
            keyFiles[key.keyID] = keyFiles[key.keyID] ?? keyPath
        }
        if threshold > keys.count {
            throw CLIError.usage("'--threshold \(threshold)' is more than the \(keys.count) distinct public keys given", command: arguments.command)
        }
        let envelope = try readEnvelope(path)
        let result = envelope.verify(trustedKeys: keys, threshold: threshold)
        if let reason = result.failureReason { throw CLIError.failure(thing: path, reason: reason) }
        let statement = envelope.payloadType == DSSEEnvelope.inTotoPayloadType ? try statement(in: envelope, source: path) : nil

        if arguments.flag("--json") {
            var object: [String: JSONValue] = [
                "envelope": .string(path), "verified": .bool(true), "threshold": .integer(Int64(threshold)),
                "payloadType": .string(envelope.payloadType),
                "keys": .array(result.acceptedKeyIDs.map { .object(["keyid": .string($0), "file": .string(keyFiles[$0] ?? "")]) }),
            ]
            if let statement {
                object["predicateType"] = .string(statement.predicateType)
                object["subjects"] = .array(statement.subjects.map { subject in
                    .object(["name": subject.name.map(JSONValue.string) ?? .null,
                             "digest": .object(subject.digest.mapValues(JSONValue.string))])
                })
            }
            Output.json(.object(object))
        } else {
            Output.line("\(path): verified, \(result.acceptedKeyIDs.count) of \(threshold) required keys signed")
            for keyid in result.acceptedKeyIDs { Output.line("  signed by \(keyid) (\(keyFiles[keyid] ?? "?"))") }
            Output.line("  payload type \(envelope.payloadType)")
            if let statement {
                Output.line("  predicate type \(statement.predicateType)")
                for subject in statement.subjects {
                    let digests = subject.digest.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
                    Output.line("  subject \(subject.name ?? "(unnamed)") \(digests)")
                }
            }
        }
        return ExitStatus.success
    }

    static func readEnvelope(_ path: String) throws(CLIError) -> DSSEEnvelope {
        let bytes = try readInput(path)
        do {
            let envelope = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: path)
            guard !envelope.payloadType.isEmpty else { throw CLIError.failure(thing: path, reason: "payloadType is empty") }
            return envelope
        } catch { throw CLIError.from(error) }
    }

    /// The in-toto statement an envelope carries; its payload type must say so.
    static func statement(in envelope: DSSEEnvelope, source: String) throws(CLIError) -> InTotoStatement {
        guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
            throw .failure(thing: source, reason: "payloadType is '\(envelope.payloadType)', expected '\(DSSEEnvelope.inTotoPayloadType)'")
        }
        do { return try InTotoStatement(parsing: envelope.payload, source: "\(source): payload") } catch { throw CLIError.from(error) }
    }
}
