import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// `sovereign sign-file` and `sovereign verify-file`: minisign-compatible
/// detached signatures, so `minisign -V` checks what we sign and we check
/// what minisign signs.
enum FileSignatureCommands {
    static let sign = CommandSpec(
        name: "sign-file",
        abstract: "Sign a file with a minisign-compatible signature (<file>.minisig).",
        discussion: "Signs BLAKE2b-512 of the file (minisign's default 'ED' algorithm). `minisign -Vm <file> -p <key>.minisign.pub` verifies it.",
        arguments: [ArgumentSpec(name: "<file>", help: "The file to sign.")],
        options: [
            .value("--key", "<key>", "Private key file (.key).", required: true),
            .value("--out", "<signature>", "Where to write the signature (default: <file>.minisig)."),
            .value("--trusted-comment", "<text>", "Signed comment (default: 'file:<name>\\thashed')."),
        ] + CommonOptions.passphrase + [CommonOptions.json],
        run: runSign
    )

    static let verify = CommandSpec(
        name: "verify-file",
        abstract: "Verify a file's minisign signature.",
        arguments: [ArgumentSpec(name: "<file>", help: "The signed file.")],
        options: [
            .value("--pub", "<public-key>", "Public key: PEM (.pub) or minisign (.minisign.pub).", required: true),
            .value("--signature", "<signature>", "Signature file (default: <file>.minisig)."),
            CommonOptions.json,
        ],
        run: runVerify
    )

    @Sendable static func runSign(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let output = arguments.value("--out") ?? path + ".minisig"
        if FileSystem.exists(output) { throw CLIError.failure(thing: output, reason: "already exists; refusing to overwrite") }
        // Hash first: a missing or unreadable file fails before any passphrase prompt.
        let blake = try FileHashing.blake2b512(ofFile: path)
        let key = try KeyLoading.privateKey(at: try arguments.required("--key"), arguments: arguments)
        let comment = arguments.value("--trusted-comment") ?? "file:\(FileSystem.baseName(path))\thashed"
        let signature = try MinisignSignature(signingPrehash: blake, with: key, trustedComment: comment)
        try writeNewFiles([(output, Array(signature.fileContents.utf8), 0o644)])
        if arguments.flag("--json") {
            Output.json(.object(["file": .string(path), "signature": .string(output), "keyid": .string(key.publicKey.keyID)]))
        } else {
            Output.line("wrote \(output) (key id \(key.publicKey.keyID))")
        }
        return ExitStatus.success
    }

    @Sendable static func runVerify(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let signaturePath = arguments.value("--signature") ?? path + ".minisig"
        let key = try KeyLoading.publicKey(at: try arguments.required("--pub"))
        let signatureBytes = try readInput(signaturePath, limit: 64 << 10)
        guard let text = String(validating: signatureBytes, as: UTF8.self) else {
            throw CLIError.failure(thing: signaturePath, reason: "not a text minisign signature")
        }
        let signature = try MinisignSignature(parsing: text, source: signaturePath)
        let blake = try FileHashing.blake2b512(ofFile: path)
        let reason = try signature.failureReason(key: key, blake2b: blake) { () throws(CryptoError) in
            // Legacy signatures sign the whole file; cap what we load.
            do { return try FileSystem.readFile(path, limit: 1 << 30) } catch {
                throw CryptoError.malformedSignature(source: path, reason: "legacy ('Ed') signature over a file too large to load: \(error)")
            }
        }
        if let reason { throw CLIError.failure(thing: path, reason: reason) }
        if arguments.flag("--json") {
            Output.json(.object([
                "file": .string(path), "verified": .bool(true), "keyid": .string(key.key.keyID),
                "algorithm": .string(signature.algorithm.rawValue), "trustedComment": .string(signature.trustedComment),
            ]))
        } else {
            Output.line("\(path): signature verified (key id \(key.key.keyID))")
            Output.line("trusted comment: \(signature.trustedComment)")
        }
        return ExitStatus.success
    }
}
