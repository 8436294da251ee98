import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage
import SovereignInstall
import SovereignTrust
import SovereignCertify

/// `sovereign verify-attestation`: an auditor's check of a certification
/// VSA against the certifier role of a trust policy (or given keys), an
/// image or an installed appliance, and optionally a replay of the audit.
enum VerifyAttestationCommand {
    static let spec = CommandSpec(
        name: "verify-attestation",
        abstract: "Check a certification VSA: the certifier's signatures, its subjects against the image, its verdict; optionally replay it.",
        discussion: """
        Signatures: with --policy, thresholds.certifier distinct keys with \
        the certifier role in the policy (neither revoked nor expired, the \
        policy itself unexpired); with --pub, --threshold of the given keys. \
        The statement must be a SLSA VSA v1 from sovereign certify whose \
        subjects are exactly the image manifest digest and the constraint \
        layer digest of --image DIR (an OCI layout, checked blob by blob) \
        or of R/current (--root, checked byte for byte against its signed \
        list): an attestation of another image, or of another layer, is \
        refused. Its verdict must be PASSED with \
        SOVEREIGN_CONSTRAINT_LAYER_INTACT and SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING. \
        --replay (needs --root) reads the audit report the VSA names (beside \
        the VSA, or --report F; its SHA-256 must be the one the VSA signs), \
        replays its suites on R and requires every transcript digest to be \
        identical: the same bits on any x86-64 or aarch64 machine. Exit \
        status 1, naming the reason, otherwise.
        """,
        arguments: [ArgumentSpec(name: "<vsa>", help: "The VSA envelope (vsa.dsse.json) sovereign certify wrote.")],
        options: [
            .value("--policy", "<policy.json>", "A trust policy whose certifier role and threshold decide whose signatures count."),
            .value("--pub", "<public-key>", "A certifier's public key, instead of --policy; repeat for several.", repeatable: true),
            .value("--threshold", "<n>", "With --pub: distinct keys that must have signed (default 1)."),
            .value("--image", "<dir>", "The OCI image layout the VSA must be about."),
            .value("--root", "<dir>", "The appliance root whose current image the VSA must be about."),
            .flag("--replay", "Replay the audit report's suites on --root and require identical transcript digests."),
            .value("--report", "<file>", "With --replay: the audit report (default: the one the VSA names, beside it)."),
            .value("--suite", "<file>", "With --replay: a suite file the report names, if the appliance does not carry it; repeat for several.", repeatable: true),
            .value("--threads", "<n>", "With --replay: threads for the forward pass. Any count gives the same transcripts."),
            .value("--kernels", "<k>", "With --replay: automatic (the default) or portable. Both give the same transcripts."),
            CommonOptions.json,
        ],
        run: run
    )

    /// What the VSA must be about.
    private struct Target {
        let manifest: SHA256Digest
        let constraintLayer: SHA256Digest
        /// With --root: the root and its appliance (checked byte for byte).
        let installed: (root: InstallRoot, appliance: InstalledAppliance)?
    }

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let command = arguments.command
        let policyPath = arguments.value("--policy")
        guard (policyPath == nil) != arguments.allValues("--pub").isEmpty else {
            throw CLIError.usage("Give exactly one of '--policy' or '--pub'", command: command)
        }
        if policyPath != nil, arguments.value("--threshold") != nil {
            throw CLIError.usage("'--threshold' goes with '--pub'; with '--policy' the policy's certifier threshold counts", command: command)
        }
        let replay = arguments.flag("--replay")
        if !replay, let stray = ["--report", "--suite", "--threads", "--kernels"].first(where: { arguments.value($0) != nil }) {
            throw CLIError.usage("'\(stray)' goes with '--replay'", command: command)
        }
        let target = try target(arguments, replay: replay)

        let bytes = try readInput(path)
        let envelope: DSSEEnvelope
        do { envelope = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: path) } catch { throw CLIError.from(error) }
        let statement = try EnvelopeCommands.statement(in: envelope, source: path)
        let claim: CertificationClaim
        do { claim = try CertificationClaim(statement: statement, source: path) } catch {
            throw CLIError.failure(thing: error.source, reason: error.reason)
        }

        // Whose signatures count, and are there enough on a certification of this image and layer?
        let signers: [String], threshold: Int
        if let policyPath {
            let policy = try loadTrustPolicy(policyPath)
            if let problem = claim.problem(manifest: target.manifest, constraintLayer: target.constraintLayer) {
                throw CLIError.failure(thing: path, reason: problem)
            }
            let attestation = ImageEvidence.Attestation(envelope: envelope, envelopeDigest: SHA256.hash(bytes), uri: FileSystem.baseName(path))
            let decision: TrustDecision
            do {
                decision = try TrustEvaluator.evaluateCertification(attestation, manifest: target.manifest, constraintLayer: target.constraintLayer,
                                                                    policy: policy, context: TrustContext(now: Int64(time(nil))), source: policyPath)
            } catch {
                throw CLIError.failure(thing: error.source, reason: error.reason)
            }
            if let failure = decision.firstFailure?.failureReason { throw CLIError.failure(thing: path, reason: failure) }
            signers = decision.acceptedSigners[.certifier] ?? []
            threshold = policy.thresholds[.certifier] ?? 1
        } else {
            threshold = try arguments.positiveInteger("--threshold", default: 1)
            var keys: [Ed25519.PublicKey] = []
            for keyPath in arguments.allValues("--pub") {
                let key = try KeyLoading.publicKey(at: keyPath).key
                if !keys.contains(where: { $0.keyID == key.keyID }) { keys.append(key) }
            }
            guard threshold <= keys.count else {
                throw CLIError.usage("'--threshold \(threshold)' is more than the \(keys.count) distinct public keys given", command: command)
            }
            let verification = envelope.verify(trustedKeys: keys, threshold: threshold)
            if let reason = verification.failureReason { throw CLIError.failure(thing: path, reason: reason) }
            if let problem = claim.problem(manifest: target.manifest, constraintLayer: target.constraintLayer) {
                throw CLIError.failure(thing: path, reason: problem)
            }
            signers = verification.acceptedKeyIDs
        }

        var replayed: Int?
        if replay, let installed = target.installed {
            replayed = try self.replay(claim, vsaPath: path, installed: installed, arguments: arguments)
        }

        if arguments.flag("--json") {
            var result: [String: JSONValue] = [
                "vsa": .string(path), "verified": .bool(true), "verificationResult": .string(claim.summary.verificationResult.rawValue),
                "verifiedLevels": .array(claim.summary.verifiedLevels.map(JSONValue.string)),
                "signedBy": .array(signers.map(JSONValue.string)), "threshold": .integer(Int64(threshold)),
                "image": .string(target.manifest.prefixed), "constraintLayer": .string(target.constraintLayer.prefixed),
                "engine": .string(claim.engine),
            ]
            if let replayed { result["replayedCases"] = .integer(Int64(replayed)) }
            Output.json(.object(result))
        } else {
            Output.line("\(path): signed by \(signers.count) certifier key\(signers.count == 1 ? "" : "s") (threshold \(threshold)); "
                        + "about \(target.manifest.prefixed) and constraint layer \(target.constraintLayer.prefixed)")
            Output.line("  \(claim.summary.verificationResult.rawValue): " + claim.summary.verifiedLevels.joined(separator: ", "))
            Output.line("  made on engine \(claim.engine)" + (claim.engine == CertificationClaim.embeddedEngine ? "" : " (replay not claimed)"))
            if let replayed { Output.line("  replayed \(replayed) cases: every transcript digest identical") }
        }
        return ExitStatus.success
    }

    /// The image the VSA must be about: an OCI layout, or an appliance root's current image.
    private static func target(_ arguments: ParsedArguments, replay: Bool) throws -> Target {
        switch (arguments.value("--image"), arguments.value("--root")) {
        case (let image?, nil):
            guard !replay else { throw CLIError.usage("'--replay' needs '--root' (the suites replay on an installed appliance)", command: arguments.command) }
            let verified = try ImageVerifier.open(image)
            guard let manifest = verified.manifestDigest else { throw CLIError.failure(thing: image, reason: "its manifest digest is not sha256") }
            return Target(manifest: manifest, constraintLayer: verified.listing.constraintLayerDigest, installed: nil)
        case (nil, let path?):
            let root = InstallRoot(path: path)
            let appliance = try InstalledAppliance.open(root)
            return Target(manifest: appliance.manifestSHA256, constraintLayer: appliance.constraintLayerDigest, installed: (root, appliance))
        default:
            throw CLIError.usage("Give exactly one of '--image' or '--root'", command: arguments.command)
        }
    }

    /// Replays the audit report the VSA names; returns the cases replayed.
    private static func replay(_ claim: CertificationClaim, vsaPath: String, installed: (root: InstallRoot, appliance: InstalledAppliance),
                               arguments: ParsedArguments) throws -> Int {
        guard claim.engine == CertificationClaim.embeddedEngine else {
            throw CLIError.failure(thing: vsaPath, reason: "was made on engine '\(claim.engine)', whose answers are not claimed to replay "
                                   + "bit for bit; --replay checks certifications made on the embedded engine")
        }
        guard let named = claim.summary.inputAttestations?.first(where: { $0.name == CertificationAttestations.reportFileName }),
              let signed = named.digest["sha256"].flatMap(SHA256Digest.init(hex:)) else {
            throw CLIError.failure(thing: vsaPath, reason: "names no audit report among its inputAttestations")
        }
        let reportPath = arguments.value("--report") ?? FileSystem.directoryName(vsaPath) + "/" + CertificationAttestations.reportFileName
        let bytes = try readInput(reportPath)
        guard SHA256.hash(bytes) == signed else {
            throw CLIError.failure(thing: reportPath, reason: "sha256 is \(SHA256.hash(bytes).hex), but the VSA signs \(signed.hex): not the audit report it names")
        }
        let envelope: DSSEEnvelope
        do { envelope = try StrictJSON.decode(DSSEEnvelope.self, from: bytes, source: reportPath) } catch { throw CLIError.from(error) }
        let statement = try EnvelopeCommands.statement(in: envelope, source: reportPath)
        let report = try AuditReport(statement: statement, source: reportPath)

        // The report's suites, by digest: the appliance's own, or files given.
        var byDigest: [SHA256Digest: String] = [:]
        let candidates = arguments.allValues("--suite") + (try CertificationSuites.installedPaths(in: installed.appliance.auditSuiteDirectory))
        for candidate in candidates {
            let digest = SHA256.hash(try readInput(candidate, limit: 16 << 20))
            if byDigest[digest] == nil { byDigest[digest] = candidate }
        }
        var paths: [String] = []
        for suite in report.suites {
            guard let found = byDigest[suite.sha256] else {
                throw CLIError.failure(thing: reportPath, reason: "names suite \(suite.name) (sha256 \(suite.sha256.hex)), which neither the appliance nor a --suite file holds")
            }
            paths.append(found)
        }

        let bench = try CertifyCommand.Bench(root: installed.root, suitePaths: paths, engine: try EngineOptions(arguments))
        let certification = try bench.run()
        var differing: [String] = []
        for (index, expected) in report.cases.enumerated() {
            guard index < certification.results.count else { differing.append("\(expected.name) (not replayed)"); continue }
            let result = certification.results[index]
            let name = "\(result.suite)/\(result.testCase.id)"
            if name != expected.name {
                differing.append("\(expected.name) (replayed \(name) in its place)")
            } else if CaseResult.digest(result.steered) != expected.steered || CaseResult.digest(result.bare) != expected.bare {
                differing.append(name)
            }
        }
        if certification.results.count > report.cases.count { differing.append("\(certification.results.count - report.cases.count) cases the report lacks") }
        guard differing.isEmpty else {
            throw CLIError.failure(thing: reportPath, reason: "the replay differs from the signed transcripts in " + differing.joined(separator: ", "))
        }
        return certification.results.count
    }
}
