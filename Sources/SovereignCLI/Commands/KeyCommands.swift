import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// `sovereign key generate` and `sovereign key show`.
enum KeyCommands {
    static let spec = CommandSpec(
        name: "key",
        abstract: "Create and inspect Ed25519 signing keys.",
        subcommands: [generate, show]
    )

    static let generate = CommandSpec(
        name: "generate",
        abstract: "Generate an Ed25519 key pair.",
        discussion: """
        Writes <name>.key (the private key, encrypted with Argon2id and \
        XSalsa20-Poly1305 under a passphrase), <name>.pub (PEM \
        SubjectPublicKeyInfo) and <name>.minisign.pub (minisign's format). \
        Refuses to overwrite any of them.
        """,
        options: [
            .value("--out", "<name>", "Path prefix of the key files.", required: true),
            .value("--strength", "<strength>", "Argon2id cost: interactive, moderate (default) or sensitive."),
        ] + CommonOptions.passphrase + [CommonOptions.json],
        run: runGenerate
    )

    static let show = CommandSpec(
        name: "show",
        abstract: "Show a key file's algorithm, key id and public key.",
        discussion: "Reads a private key (no passphrase needed), a PEM public key or a minisign public key.",
        arguments: [ArgumentSpec(name: "<file>", help: "A .key, .pub or .minisign.pub file.")],
        options: [CommonOptions.json],
        run: runShow
    )

    @Sendable static func runGenerate(_ arguments: ParsedArguments) throws -> Int32 {
        let prefix = try arguments.required("--out")
        let strengthName = arguments.value("--strength") ?? "moderate"
        guard let strength = EncryptedPrivateKey.Strength(rawValue: strengthName) else {
            throw CLIError.usage("The value '\(strengthName)' is invalid for '--strength'", command: arguments.command)
        }
        let paths = (key: prefix + ".key", pub: prefix + ".pub", minisign: prefix + ".minisign.pub")
        // Check before asking for a passphrase: nobody should type one for nothing.
        for path in [paths.key, paths.pub, paths.minisign] where FileSystem.exists(path) {
            throw CLIError.failure(thing: path, reason: "already exists; refusing to overwrite")
        }
        let passphrase = try PassphraseSource.from(arguments).read(purpose: paths.key, confirm: true)
        let key = Ed25519.PrivateKey()
        let sealed = try EncryptedPrivateKey(sealing: key, passphrase: passphrase, strength: strength)
        let minisign = MinisignPublicKey(key: key.publicKey)
        try writeNewFiles([
            (paths.key, sealed.jsonBytes(), 0o600),
            (paths.pub, Array(PublicKeyFile.pem(key.publicKey).utf8), 0o644),
            (paths.minisign, Array(minisign.fileContents.utf8), 0o644),
        ])
        if arguments.flag("--json") {
            Output.json(.object([
                "keyid": .string(key.publicKey.keyID),
                "minisignKeyID": .string(MinisignPublicKey.displayKeyID(minisign.keyID)),
                "privateKey": .string(paths.key), "publicKey": .string(paths.pub),
                "minisignPublicKey": .string(paths.minisign),
            ]))
        } else {
            Output.line("key id \(key.publicKey.keyID)")
            Output.line("wrote \(paths.key), \(paths.pub), \(paths.minisign)")
        }
        return ExitStatus.success
    }

    @Sendable static func runShow(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let bytes = try readInput(path, limit: 1 << 20)
        var fields: [(String, JSONValue)] = []
        let publicKey: Ed25519.PublicKey
        let minisignID: [UInt8]
        if bytes.first == UInt8(ascii: "{") {
            let sealed = try KeyLoading.sealedKey(at: path)
            publicKey = try sealed.storedPublicKey
            minisignID = MinisignPublicKey.derivedKeyID(for: publicKey)
            fields.append(("type", .string("private key (encrypted)")))
            fields.append(("kdf", .string("\(sealed.kdf.algorithm), \(sealed.kdf.opsLimit) passes, \(sealed.kdf.memLimit >> 20) MiB")))
            fields.append(("cipher", .string(sealed.cipher.algorithm)))
        } else {
            let parsed = try KeyLoading.publicKey(at: path)
            publicKey = parsed.key
            minisignID = parsed.minisignKeyID
            fields.append(("type", .string(parsed.format == .pem ? "public key (PEM)" : "public key (minisign)")))
        }
        let summary: [(String, JSONValue)] = [
            ("algorithm", .string("ed25519")),
            ("keyid", .string(publicKey.keyID)),
            ("minisignKeyID", .string(MinisignPublicKey.displayKeyID(minisignID))),
            ("publicKey", .string(Base64.encode(publicKey.rawRepresentation))),
        ]
        if arguments.flag("--json") {
            var object = Dictionary(uniqueKeysWithValues: fields + summary)
            object["file"] = .string(path)
            // The key as securesystemslib / TUF metadata writes it, for
            // independent verifiers.
            object["securesystemslib"] = .object([
                "keytype": .string("ed25519"), "scheme": .string("ed25519"),
                "keyval": .object(["public": .string(Hex.encode(publicKey.rawRepresentation))]),
            ])
            Output.json(.object(object))
        } else {
            for (name, value) in fields + summary {
                Output.line("\(name + ":")\(String(repeating: " ", count: max(1, 15 - name.count)))\(value.stringValue ?? "")")
            }
        }
        return ExitStatus.success
    }
}
