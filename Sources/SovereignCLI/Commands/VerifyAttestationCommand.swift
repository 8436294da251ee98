import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignInstall
import SovereignCertify

/// `sovereign verify-attestation`: an auditor's check of a certification
/// VSA against the certifier's keys and the installed appliance.
enum VerifyAttestationCommand {
    static let spec = CommandSpec(
        name: "verify-attestation",
        abstract: "Check a certification VSA: the certifier's signatures, its subjects against the installed image, its verdict.",
        discussion: """
        The envelope must be signed by --threshold of the --pub keys; its \
        statement must be a SLSA VSA v1 from sovereign certify whose subjects \
        are exactly R/current's image manifest digest and constraint-layer \
        digest (an attestation of another image, or of another layer, is \
        refused); and its verdict must be PASSED with \
        SOVEREIGN_CONSTRAINT_LAYER_INTACT and SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING. \
        Exit status 1, naming the reason, otherwise.
        """,
        arguments: [ArgumentSpec(name: "<vsa>", help: "The VSA envelope (vsa.dsse.json) sovereign certify wrote.")],
        options: [
            .value("--pub", "<public-key>", "A certifier's public key; repeat for several.", required: true, repeatable: true),
            .value("--threshold", "<n>", "Distinct certifier keys that must have signed (default 1)."),
            .value("--root", "<dir>", "The appliance root whose current image the VSA must be about.", required: true),
            CommonOptions.json,
        ],
        run: run
    )

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let threshold = try arguments.positiveInteger("--threshold", default: 1)
        var keys: [Ed25519.PublicKey] = []
        for keyPath in arguments.allValues("--pub") {
            let key = try KeyLoading.publicKey(at: keyPath).key
            if !keys.contains(where: { $0.keyID == key.keyID }) { keys.append(key) }
        }
        guard threshold <= keys.count else {
            throw CLIError.usage("'--threshold \(threshold)' is more than the \(keys.count) distinct public keys given", command: arguments.command)
        }
        let envelope = try EnvelopeCommands.readEnvelope(path)
        let signatures = envelope.verify(trustedKeys: keys, threshold: threshold)
        if let reason = signatures.failureReason { throw CLIError.failure(thing: path, reason: reason) }
        let statement = try EnvelopeCommands.statement(in: envelope, source: path)
        let summary = try SLSAVerificationSummary(statement: statement, source: "\(path): predicate")
        guard summary.verifier.id == CertificationAttestations.verifierID else {
            throw CLIError.failure(thing: path, reason: "was written by verifier '\(summary.verifier.id)', not sovereign certify")
        }

        let appliance = try InstalledAppliance.open(InstallRoot(path: try arguments.required("--root")))
        let expected: [String: String] = [
            "manifest": String(appliance.manifestDigest.dropFirst("sha256:".count)),
            "constraint-layer": appliance.constraintLayerDigest.hex,
        ]
        let subjects = statement.subjects.map { $0.digest["sha256"] ?? "" }
        guard subjects.count == 2, subjects[0] == expected["manifest"], statement.subjects[1].name == "constraint-layer",
              subjects[1] == expected["constraint-layer"] else {
            throw CLIError.failure(thing: path, reason: "is about sha256:\(subjects.first ?? "?"), not the installed image \(appliance.manifestDigest) "
                                   + "and its constraint layer \(appliance.constraintLayerDigest.prefixed)")
        }
        let levels = [CertificationAttestations.intactLevel, CertificationAttestations.loadBearingLevel]
        let passed = summary.verificationResult == .passed && levels.allSatisfy(summary.verifiedLevels.contains)

        if arguments.flag("--json") {
            Output.json(.object([
                "vsa": .string(path), "verified": .bool(passed), "verificationResult": .string(summary.verificationResult.rawValue),
                "verifiedLevels": .array(summary.verifiedLevels.map(JSONValue.string)),
                "signedBy": .array(signatures.acceptedKeyIDs.map(JSONValue.string)),
                "image": .string(appliance.manifestDigest), "constraintLayer": .string(appliance.constraintLayerDigest.prefixed),
            ]))
        } else {
            Output.line("\(path): signed by \(signatures.acceptedKeyIDs.count) of \(threshold) certifier keys; about \(appliance.manifestDigest)")
            Output.line("  \(summary.verificationResult.rawValue): " + summary.verifiedLevels.joined(separator: ", "))
        }
        guard passed else {
            throw CLIError.failure(thing: path, reason: "the certification is \(summary.verificationResult.rawValue) with levels "
                                   + "[\(summary.verifiedLevels.joined(separator: ", "))]: the constraint layer was not shown intact and load-bearing")
        }
        return ExitStatus.success
    }
}
