import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignPolicy
import SovereignInference
import SovereignInstall
import SovereignSteering
import SovereignLog
import SovereignCertify

/// `sovereign certify`: replays the installed image's audit suites with and
/// without its constraint layer and signs the verdict.
enum CertifyCommand {
    static let spec = CommandSpec(
        name: "certify",
        abstract: "Replay audit suites with and without the constraint layer; sign a VSA and an audit report.",
        discussion: """
        Intact: R/current is checked byte for byte against its signed file \
        list (a changed file is named and nothing is certified). Then every \
        case of every suite (the image's own, or --suite files) is answered \
        twice: under the constraint layer, its expectations checked, and by \
        the bare model, the rules its answer breaks recorded. The layer is \
        load-bearing when every case passes steered and, for every rule the \
        suites name, some case breaks it bare and passes steered. Writes \
        DIR/vsa.dsse.json (SLSA VSA v1: SOVEREIGN_CONSTRAINT_LAYER_INTACT, \
        and SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING when it holds) and \
        DIR/audit-report.dsse.json (per case, both transcripts' digests), \
        both signed with --key and about the image manifest and the \
        constraint-layer digests, and appends their digests to R/log. \
        Deterministic: the same image and suites give the same transcript \
        digests with any --threads or --kernels. Exit status 1 when the \
        layer is not load-bearing (the attestations are still written).
        """,
        options: [
            .value("--root", "<dir>", "The appliance root.", required: true),
            .value("--suite", "<file>", "An audit suite to replay (repeatable; default: the image's own suites)."),
            .value("--key", "<key>", "The certifier's private key (.key).", required: true),
            .value("--out", "<dir>", "Where to write the two envelopes (created; files are never overwritten).", required: true),
            .value("--threads", "<n>", "Threads for the forward pass (default: the online CPUs, at most 8)."),
            .value("--kernels", "<k>", "automatic (the default) or portable. Both give the same transcripts."),
            CommonOptions.json,
        ] + CommonOptions.passphrase,
        run: run
    )

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let root = InstallRoot(path: try arguments.required("--root"))
        let out = try arguments.required("--out")
        let engine = try EngineOptions(arguments)
        let summaryPath = out + "/vsa.dsse.json", reportPath = out + "/audit-report.dsse.json"
        for path in [summaryPath, reportPath] where FileSystem.exists(path) {
            throw CLIError.failure(thing: path, reason: "already exists; refusing to overwrite")
        }
        let key = try KeyLoading.privateKey(at: try arguments.required("--key"), arguments: arguments)

        // Intact: the installed tree against its signed list (names the first file that differs).
        let clock = ContinuousClock()
        let intactStart = clock.now
        let appliance = try InstalledAppliance.open(root)
        let intactTime = clock.now - intactStart
        let layer = try ConstraintLayer(directory: appliance.constraintLayerDirectory, runtimeFile: appliance.runtimePath)
        let suitePaths = arguments.allValues("--suite").isEmpty
            ? try ConstraintLayer.listFiles(appliance.auditSuiteDirectory, suffix: ".suite.json").map { appliance.auditSuiteDirectory + "/" + $0 }
            : arguments.allValues("--suite")
        guard !suitePaths.isEmpty else { throw CLIError.failure(thing: appliance.auditSuiteDirectory, reason: "holds no audit suites") }
        var suites: [AuditSuite] = []
        var suiteDigests: [(name: String, sha256: SHA256Digest)] = []
        for path in suitePaths {
            let bytes = try FileSystem.readFile(path, limit: 16 << 20)
            let suite = try AuditSuite(json: bytes, source: path)
            try layer.check(suite, source: path)
            if let pinned = suite.constraintLayer, pinned != appliance.constraintLayerDigest.prefixed {
                throw CLIError.failure(thing: path, reason: "targets constraint layer \(pinned), but the installed layer is \(appliance.constraintLayerDigest.prefixed)")
            }
            suites.append(suite)
            suiteDigests.append((FileSystem.baseName(path), SHA256.hash(bytes)))
        }
        let log = try AuditLog.open(applianceRoot: root.path)

        let session = try InferenceSession(contentsOf: appliance.modelPath,
                                           configuration: .init(contextLength: 2048, threadCount: engine.threads, kernels: engine.kernels))
        let runtime = try SteeringRuntime(session: session, layer: layer)
        let json = arguments.flag("--json")
        let certification = try Certifier(runtime: runtime).run(suites) { result, done, total in
            let bare = result.bareViolations.isEmpty ? "no rule fired" : "fired " + result.bareViolations.joined(separator: ", ")
            let verdict = result.passed ? "pass" : "FAIL: " + result.steeredFailures.joined(separator: "; ")
            Output.error("[\(done)/\(total)] \(result.suite)/\(result.testCase.id): steered \(result.steered.outcome.rawValue), \(verdict); bare: \(bare)")
        }

        let subject = CertificationAttestations.Subject(imageName: appliance.name, manifestDigest: appliance.manifestDigest,
                                                        constraintLayerDigest: appliance.constraintLayerDigest, suites: suiteDigests)
        let engineVersion = ["sovereign": Sovereign.version, "kernels": engine.kernels.instructionSet,
                             "model": appliance.modelSHA256.prefixed]
        let attestations = try CertificationAttestations(certification, subject: subject, engine: engineVersion, key: key)
        let summaryBytes = try CanonicalJSON.encode(attestations.summary) + [0x0A]
        let reportBytes = try CanonicalJSON.encode(attestations.report) + [0x0A]
        if !FileSystem.isDirectory(out), mkdir(out, 0o755) != 0 {
            throw CLIError.failure(thing: out, reason: "cannot be created: \(String(cString: strerror(errno)))")
        }
        try writeNewFiles([(summaryPath, summaryBytes, 0o644), (reportPath, reportBytes, 0o644)])
        let index = try log.append(metadata: [
            "type": .string("certification"), "image": .string(appliance.manifestDigest),
            "constraintLayer": .string(appliance.constraintLayerDigest.prefixed),
            "verificationResult": .string(certification.isLoadBearing ? "PASSED" : "FAILED"),
            "vsa": .string(SHA256.hash(summaryBytes).prefixed), "auditReport": .string(SHA256.hash(reportBytes).prefixed),
            "cases": .integer(Int64(certification.results.count)),
        ], content: [:])
        try log.close()

        let loadBearing = certification.loadBearing
        if json {
            Output.json(.object([
                "verificationResult": .string(certification.isLoadBearing ? "PASSED" : "FAILED"),
                "cases": .integer(Int64(certification.results.count)),
                "passed": .integer(Int64(certification.results.count - certification.failedCases.count)),
                "barePassed": .integer(Int64(certification.barePassed)),
                "falseRefusals": .integer(Int64(certification.falseRefusals.count)),
                "loadBearing": .object(Dictionary(uniqueKeysWithValues: loadBearing.map { ($0.rule, JSONValue.array($0.cases.map(JSONValue.string))) })),
                "transcripts": .object(Dictionary(uniqueKeysWithValues: certification.results.map {
                    ("\($0.suite)/\($0.testCase.id)", JSONValue.array([.string(CaseResult.digest($0.steered).hex), .string(CaseResult.digest($0.bare).hex)]))
                })),
                "vsa": .string(summaryPath), "auditReport": .string(reportPath), "logIndex": .integer(Int64(index)),
                "seconds": .object(["intact": .number(intactTime.inSeconds), "steered": .number(certification.timings.steered.inSeconds),
                                    "bare": .number(certification.timings.bare.inSeconds)]),
            ]))
        } else {
            Output.line("cases \(certification.results.count), passed \(certification.results.count - certification.failedCases.count), "
                        + "failed \(certification.failedCases.count), bare passed \(certification.barePassed), "
                        + "false refusals \(certification.falseRefusals.count) of \(certification.benignCount) benign")
            for entry in loadBearing {
                Output.line("  \(entry.rule): " + (entry.cases.isEmpty ? "NOT load-bearing" : "load-bearing (" + entry.cases.joined(separator: ", ") + ")"))
            }
            Output.line("\(certification.isLoadBearing ? "PASSED" : "FAILED"): wrote \(summaryPath) and \(reportPath); log entry \(index)")
        }
        return certification.isLoadBearing ? ExitStatus.success : ExitStatus.failure
    }
}
