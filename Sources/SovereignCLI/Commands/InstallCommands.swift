import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage
import SovereignTrust
import SovereignInstall

/// `sovereign verify`, `install`, `status`, `rollback`, `gc`: the customer's side.
enum InstallCommands {
    static let policyOption = OptionSpec.value("--policy", "<policy.json>", "Trust policy (sovereign.trust-policy/v1; see 'sovereign policy init').", required: true)
    static let rootOption = OptionSpec.value("--root", "<dir>", "Appliance root (store/, current, previous, state.json, .lock).", required: true)
    static let noWait = OptionSpec.flag("--no-wait", "Fail at once if another installer holds the root's lock, instead of waiting.")

    static let verify = CommandSpec(
        name: "verify",
        abstract: "Verify an image offline against a trust policy.",
        discussion: """
        Reads the image once, checking every blob's size and SHA-256 as it streams, then \
        checks the DSSE signatures and the policy: distinct trusted, unexpired, unrevoked \
        release keys meeting the threshold, attestations about this image (not copied from \
        another), required predicates, minimum sequence, allowed models, the policy's expiry. \
        With --vsa-key, also writes a signed SLSA verification summary (VSA v1) of the result.
        """,
        arguments: [ArgumentSpec(name: "<image>", help: "OCI layout directory or archive (.tar).")],
        options: [
            policyOption,
            .value("--vsa-key", "<key>", "Sign a SLSA VSA v1 of the result with this private key (.key)."),
            .value("--vsa-out", "<file>", "Where to write the VSA envelope (required with --vsa-key; must not exist)."),
        ] + CommonOptions.passphrase + [CommonOptions.json],
        run: runVerify
    )

    static let install = CommandSpec(
        name: "install",
        abstract: "Verify an image and install it atomically into an appliance root.",
        discussion: """
        Verifies as 'sovereign verify' does, refuses an image older than the highest \
        sequence ever installed (unless the policy allows downgrades), extracts every layer \
        into <root>/store/.partial-* (refusing links, devices, '..', absolute paths, \
        unlisted files, oversize entries), checks every file against the signed \
        sovereign/image.json, fsyncs, renames it to <root>/store/<digest>, records the \
        new sequence in <root>/state.json, then swaps <root>/previous and <root>/current by \
        rename. Installing the current image again does nothing. One installer at a time \
        (<root>/.lock). For crash tests, SOVEREIGN_INSTALL_CRASH_AT=<step> makes it kill \
        itself at a named step (locked, extracted, exchanged, stored, state-written, previous-swapped, current-swapped).
        """,
        arguments: [ArgumentSpec(name: "<image>", help: "OCI layout directory or archive (.tar).")],
        options: [policyOption, rootOption, noWait, CommonOptions.json],
        run: runInstall
    )

    static let status = CommandSpec(
        name: "status",
        abstract: "Show what an appliance root has installed.",
        options: [rootOption, CommonOptions.json],
        run: runStatus
    )

    static let rollback = CommandSpec(
        name: "rollback",
        abstract: "Make the previous image current again (the anti-rollback mark does not move).",
        options: [rootOption, noWait, CommonOptions.json],
        run: runRollback
    )

    static let gc = CommandSpec(
        name: "gc",
        abstract: "Remove stored images other than current and previous.",
        options: [rootOption, noWait, CommonOptions.json],
        run: runGC
    )

    // MARK: verify

    @Sendable static func runVerify(_ arguments: ParsedArguments) throws -> Int32 {
        let image = arguments.positionals[0]
        let policyPath = try arguments.required("--policy")
        let vsaKeyPath = arguments.value("--vsa-key"), vsaOut = arguments.value("--vsa-out")
        guard (vsaKeyPath == nil) == (vsaOut == nil) else {
            throw CLIError.usage("Give '--vsa-key' and '--vsa-out' together", command: arguments.command)
        }
        if let vsaOut, FileSystem.exists(vsaOut) { throw CLIError.failure(thing: vsaOut, reason: "already exists; refusing to overwrite") }
        let policy = try loadTrustPolicy(policyPath)
        let vsaKey = try vsaKeyPath.map { (path) throws -> Ed25519.PrivateKey in try KeyLoading.privateKey(at: path, arguments: arguments) }

        let meter = Progress(label: "verifying \(image)", total: nil, enabled: !arguments.flag("--json") && Output.stderrIsTerminal)
        // Trust is decided on the small blobs first; only a trusted image's
        // layers (the weights) are then read, so an untrusted image cannot
        // make verify spend its time and memory.
        let verified = try ImageVerifier.open(image)
        let now = Int64(time(nil))
        let decision = TrustEvaluator.evaluate(try ImageEvidence(verified), policy: policy, context: TrustContext(now: now))
        if decision.passed { try ImageVerifier.checkLayers(verified, progress: meter.update) }
        meter.finish()
        if let vsaKey, let vsaOut {
            try writeVSA(decision, image: verified, policy: policy, key: vsaKey, to: vsaOut, now: now)
        }
        let annotations = verified.annotations
        if arguments.flag("--json") {
            var object = decision.json().objectValue ?? [:]
            object["image"] = .string(image)
            object["verified"] = .bool(decision.passed)
            object["name"] = .string(annotations[OCIAnnotation.title] ?? "")
            object["version"] = .string(annotations[OCIAnnotation.version] ?? "")
            object["sequence"] = .string(annotations[SovereignAnnotation.sequence] ?? "")
            object["bytesHashed"] = .integer(verified.bytesHashed)
            if let vsaOut { object["vsa"] = .string(vsaOut) }
            Output.json(.object(object))
        } else if decision.passed {
            Output.line("\(image): verified \(annotations[OCIAnnotation.title] ?? "?"):\(annotations[OCIAnnotation.version] ?? "?") (sequence \(annotations[SovereignAnnotation.sequence] ?? "?"))")
            Output.line("  manifest \(decision.manifestDigest.prefixed); \(verified.blobCount) blobs, \(Progress.bytes(verified.bytesHashed)) hashed")
            for check in decision.checks { Output.line("  ok    \(check.name)") }
            for (role, keys) in decision.acceptedSigners.sorted(by: { $0.key < $1.key }) {
                for key in keys { Output.line("  \(role.displayName) key \(key)") }
            }
            for carried in try verified.layerApprovals() { Output.line("  layer " + LayerApprovalOutput.line(carried)) }
            if let vsaOut { Output.line("  wrote \(vsaOut)") }
        }
        if let failure = decision.firstFailure {
            throw CLIError.failure(thing: image, reason: failure.failureReason ?? failure.name)
        }
        return ExitStatus.success
    }

    static func writeVSA(_ decision: TrustDecision, image: VerifiedImage, policy: TrustPolicy, key: Ed25519.PrivateKey,
                         to path: String, now: Int64) throws {
        let summary = decision.verificationSummary(resourceURI: "oci:" + image.source, policyDigest: policy.fileDigest,
                                                   verifierID: "https://sovereign.dev/sovereign-verify", timeVerified: now)
        let statement = try decision.verificationSummaryStatement(summary, subjectName: image.annotations[OCIAnnotation.title])
        var envelope = DSSEEnvelope(payload: statement.canonicalBytes, payloadType: DSSEEnvelope.inTotoPayloadType)
        try envelope.sign(with: key)
        try writeNewFiles([(path, try CanonicalJSON.encode(envelope) + [0x0A], 0o644)])
    }

    // MARK: install

    @Sendable static func runInstall(_ arguments: ParsedArguments) throws -> Int32 {
        let image = arguments.positionals[0]
        let policy = try loadTrustPolicy(try arguments.required("--policy"))
        var installer = ImageInstaller(root: InstallRoot(path: try arguments.required("--root")))
        installer.waitForLock = !arguments.flag("--no-wait")
        let meter = Progress(label: "installing \(image)", total: nil, enabled: !arguments.flag("--json") && Output.stderrIsTerminal)
        installer.progress = meter.update
        defer { meter.finish() }
        let now = installer.now()
        let result = try installer.install(image) { (verified, installedSequence) throws(InstallError) in
            let decision = TrustEvaluator.evaluate(try ImageEvidence(verified), policy: policy,
                                                   context: TrustContext(now: now, installedSequence: installedSequence))
            if let failure = decision.firstFailure { throw InstallError(image, failure.failureReason ?? failure.name) }
            return policy
        }
        meter.finish()
        if arguments.flag("--json") {
            Output.json(.object([
                "image": .string(image), "outcome": .string(result.outcome.rawValue), "digest": .string(result.digest),
                "name": .string(result.name), "version": .string(result.version), "sequence": .integer(result.sequence),
                "previous": result.previous.map { .string("sha256:" + $0) } ?? .null, "bytesRead": .integer(result.bytesRead),
            ]))
        } else {
            switch result.outcome {
            case .alreadyCurrent: Output.line("\(result.name):\(result.version) (sequence \(result.sequence)) is already current: nothing to do")
            case .installed, .switched, .repaired:
                if result.outcome == .repaired { Output.line("the stored tree of this image failed its check and was replaced") }
                Output.line("installed \(result.name):\(result.version) (sequence \(result.sequence)) \(result.digest)")
                if let previous = result.previous { Output.line("  previous sha256:\(previous)") }
            }
        }
        return ExitStatus.success
    }

    // MARK: status, rollback, gc

    @Sendable static func runStatus(_ arguments: ParsedArguments) throws -> Int32 {
        let status = try RootMaintenance.status(InstallRoot(path: try arguments.required("--root")))
        func entry(_ e: RootStatus.Entry?) -> JSONValue {
            guard let e else { return .null }
            var object: [String: JSONValue] = ["digest": .string(e.digest)]
            if let image = e.image {
                object["name"] = .string(image.name)
                object["version"] = .string(image.version)
                object["sequence"] = .integer(image.sequence)
            }
            return .object(object)
        }
        if arguments.flag("--json") {
            Output.json(.object([
                "current": entry(status.current), "previous": entry(status.previous),
                "highestSequence": status.highestSequence.map(JSONValue.integer) ?? .null,
                "stored": .array(status.stored.map(JSONValue.string)),
                "history": .array(status.history.map {
                    .object(["action": .string($0.action), "digest": .string($0.digest), "sequence": .integer($0.sequence), "time": .string($0.time)])
                }),
            ]))
        } else {
            func line(_ label: String, _ e: RootStatus.Entry?) -> String {
                guard let e else { return "\(label) (none)" }
                return "\(label) \(e.image.map { "\($0.name):\($0.version) (sequence \($0.sequence)) " } ?? "")\(e.digest)"
            }
            Output.line(line("current ", status.current))
            Output.line(line("previous", status.previous))
            Output.line("anti-rollback mark: sequence \(status.highestSequence.map(String.init) ?? "(none)")")
            Output.line("stored: \(status.stored.count) image(s)")
            for event in status.history.suffix(10) { Output.line("  \(event.time) \(event.action) \(event.digest) (sequence \(event.sequence))") }
        }
        return ExitStatus.success
    }

    @Sendable static func runRollback(_ arguments: ParsedArguments) throws -> Int32 {
        let (from, to) = try RootMaintenance.rollback(InstallRoot(path: try arguments.required("--root")), now: Int64(time(nil)),
                                                      wait: !arguments.flag("--no-wait"))
        if arguments.flag("--json") {
            Output.json(.object(["from": .string(from), "to": .string(to)]))
        } else {
            Output.line("rolled back: current is \(to) (was \(from))")
        }
        return ExitStatus.success
    }

    @Sendable static func runGC(_ arguments: ParsedArguments) throws -> Int32 {
        let removed = try RootMaintenance.collectGarbage(InstallRoot(path: try arguments.required("--root")), wait: !arguments.flag("--no-wait"))
        if arguments.flag("--json") {
            Output.json(.object(["removed": .array(removed.map(JSONValue.string))]))
        } else {
            Output.line(removed.isEmpty ? "nothing to remove" : "removed \(removed.count): " + removed.joined(separator: ", "))
        }
        return ExitStatus.success
    }
}
