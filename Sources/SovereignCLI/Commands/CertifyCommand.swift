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
import SovereignTrust

/// `sovereign certify`: replays the installed image's audit suites with and
/// without its constraint layer and signs the verdict.
enum CertifyCommand {
    static let spec = CommandSpec(
        name: "certify",
        abstract: "Replay audit suites with and without the constraint layer; sign a VSA and an audit report.",
        discussion: """
        Intact: R/current is checked byte for byte against its signed file \
        list (a changed file is named and nothing is certified), and the \
        image's signatures are checked again against the trust policy it \
        was installed with (a key or the policy expired since is named). \
        Then every \
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
        --html F writes the auditor's page: verdict, digests, per-rule table, \
        and each case's steered and bare answers side by side with the \
        violating text marked. \
        Deterministic: the same image and suites give the same transcript \
        digests with any --threads or --kernels. With --engine openai:URL the \
        suites are answered by a remote OpenAI-compatible engine instead of \
        the image's model (see serve --engine); the VSA names the engine \
        (verifier.version: engine, engineURL, engineModel, engineVersion) and \
        says replay is not claimed, and a trust policy's --certified-engine \
        decides whether such a certification counts. Exit status 1 when the \
        layer is not load-bearing (the attestations are still written).
        """,
        options: [
            .value("--root", "<dir>", "The appliance root.", required: true),
            .value("--suite", "<file>", "An audit suite to replay; repeat for several (default: the image's own suites).", repeatable: true),
            .value("--key", "<key>", "The certifier's private key (.key).", required: true),
            .value("--out", "<dir>", "Where to write the two envelopes (created; files are never overwritten).", required: true),
            .value("--html", "<file>", "Also write the auditor's page: one self-contained HTML file (no scripts, nothing fetched)."),
            .value("--threads", "<n>", "Threads for the forward pass (default: the online CPUs, at most 8)."),
            .value("--kernels", "<k>", "automatic (the default) or portable. Both give the same transcripts."),
            CommonOptions.json,
        ] + RemoteEngineOptions.options.map { option in
            option.name == "--engine" ? .value("--engine", "openai:<url>", "A remote OpenAI-compatible engine to certify on instead of the image's model (once).")
                                      : option
        } + CommonOptions.passphrase,
        run: run
    )

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let root = InstallRoot(path: try arguments.required("--root"))
        let out = try arguments.required("--out")
        let engine = try EngineOptions(arguments)
        let summaryPath = out + "/" + CertificationAttestations.summaryFileName
        let reportPath = out + "/" + CertificationAttestations.reportFileName
        let htmlPath = arguments.value("--html")
        for path in [summaryPath, reportPath] + (htmlPath.map { [$0] } ?? []) where FileSystem.exists(path) {
            throw CLIError.failure(thing: path, reason: "already exists; refusing to overwrite")
        }
        // One engine (the option is not repeatable here): a certification names the engine it was made on.
        let remote = try RemoteEngineOptions(arguments)?.engines
        let key = try KeyLoading.privateKey(at: try arguments.required("--key"), arguments: arguments)

        let bench = try Bench(root: root, suitePaths: arguments.allValues("--suite"), engine: engine, remote: remote?.first)
        let intactTime = bench.intactTime
        let appliance = bench.appliance
        let log = try AuditLog.open(applianceRoot: root.path)
        let json = arguments.flag("--json")
        let certification = try bench.run()

        let approvals = try appliance.layerApprovals().map(\.envelopeDigest)
        let subject = CertificationAttestations.Subject(imageName: appliance.name, manifestDigest: appliance.manifestSHA256,
                                                        constraintLayerDigest: appliance.constraintLayerDigest, suites: bench.suites.files,
                                                        layerApprovals: approvals)
        let engineVersion = try Self.engineVersion(certification, remote: remote?.first, embedded: engine, appliance: appliance)
        let attestations = try CertificationAttestations(certification, subject: subject, engine: engineVersion, key: key)
        let summaryBytes = attestations.summaryBytes, reportBytes = attestations.reportBytes
        if !FileSystem.isDirectory(out), mkdir(out, 0o755) != 0 {
            throw CLIError.failure(thing: out, reason: "cannot be created: \(String(cString: strerror(errno)))")
        }
        var files = [(summaryPath, summaryBytes, UInt32(0o644)), (reportPath, reportBytes, UInt32(0o644))]
        if let htmlPath {
            let page = AuditReportPage.render(certification, subject: subject, engine: engineVersion, files: [
                (CertificationAttestations.summaryFileName, SHA256.hash(summaryBytes)), (CertificationAttestations.reportFileName, SHA256.hash(reportBytes)),
            ])
            files.append((htmlPath, page, 0o644))
        }
        try writeNewFiles(files)
        let index = try log.append(metadata: [
            "type": .string("certification"), "image": .string(appliance.manifestDigest),
            "constraintLayer": .string(appliance.constraintLayerDigest.prefixed),
            "verificationResult": .string(certification.isLoadBearing ? "PASSED" : "FAILED"),
            "vsa": .string(SHA256.hash(summaryBytes).prefixed), "auditReport": .string(SHA256.hash(reportBytes).prefixed),
            "cases": .integer(Int64(certification.results.count)),
            "layerApprovals": .array(approvals.map { .string($0.prefixed) }),
        ], content: [:])
        try log.close()

        let loadBearing = certification.loadBearing
        /// Tokens generated on one side, every attempt counted (corrections included).
        func generated(_ side: KeyPath<CaseResult, SteeringTranscript>) -> Int {
            certification.results.reduce(0) { $0 + $1[keyPath: side].attempts.reduce(0) { $0 + $1.tokens } }
        }
        if json {
            Output.json(.object([
                "verificationResult": .string(certification.isLoadBearing ? "PASSED" : "FAILED"),
                "cases": .integer(Int64(certification.results.count)),
                "passed": .integer(Int64(certification.results.count - certification.failedCases.count)),
                "barePassed": .integer(Int64(certification.barePassed)),
                "falseRefusals": .integer(Int64(certification.falseRefusals.count)),
                "rulesNotLoadBearing": .array(certification.rulesNotLoadBearing.map(JSONValue.string)),
                "rulesAbsent": .array(certification.absentRules.map(JSONValue.string)),
                "loadBearing": .object(Dictionary(uniqueKeysWithValues: loadBearing.map { ($0.rule, JSONValue.array($0.cases.map(JSONValue.string))) })),
                "transcripts": .object(Dictionary(uniqueKeysWithValues: certification.results.map {
                    ("\($0.suite)/\($0.testCase.id)", JSONValue.array([.string(CaseResult.digest($0.steered).hex), .string(CaseResult.digest($0.bare).hex)]))
                })),
                "vsa": .string(summaryPath), "auditReport": .string(reportPath), "logIndex": .integer(Int64(index)),
                "html": htmlPath.map(JSONValue.string) ?? .null,
                "signers": .object(Dictionary(uniqueKeysWithValues: bench.trust.acceptedSigners.map { ($0.key.rawValue, JSONValue.array($0.value.map(JSONValue.string))) })),
                "seconds": .object(["intact": .number(intactTime.inSeconds), "steered": .number(certification.timings.steered.inSeconds),
                                    "bare": .number(certification.timings.bare.inSeconds)]),
                "tokens": .object(["steered": .integer(Int64(generated(\.steered))), "bare": .integer(Int64(generated(\.bare)))]),
            ]))
        } else {
            Output.line("cases \(certification.results.count), passed \(certification.results.count - certification.failedCases.count), "
                        + "failed \(certification.failedCases.count), bare passed \(certification.barePassed), "
                        + "false refusals \(certification.falseRefusals.count) of \(certification.benignCount) benign")
            for entry in loadBearing {
                let verdict = certification.absentRules.contains(entry.rule) ? "NOT load-bearing: the layer has no such rule"
                    : entry.cases.isEmpty ? "NOT load-bearing" : "load-bearing (" + entry.cases.joined(separator: ", ") + ")"
                Output.line("  \(entry.rule): " + verdict)
            }
            Output.line("\(certification.isLoadBearing ? "PASSED" : "FAILED"): wrote \(summaryPath) and \(reportPath); log entry \(index)")
            if let htmlPath { Output.line("auditor's page: \(htmlPath) (open it in any browser; it needs no network)") }
        }
        return certification.isLoadBearing ? ExitStatus.success : ExitStatus.failure
    }

    /// What the certification was made on, as the VSA's `verifier.version`
    /// says it (`CertificationClaim.engine` reads it back): the embedded
    /// engine with its kernels and the image's model, or the one remote
    /// engine that answered every case, with the model id and version it
    /// reported. Replay is claimed for the embedded engine only.
    static func engineVersion(_ certification: Certification, remote: OpenAIEngine?, embedded: EngineOptions,
                              appliance: InstalledAppliance) throws(CLIError) -> [String: String] {
        var version = ["sovereign": Sovereign.version]
        guard let remote else {
            version[CertificationClaim.engineKey] = CertificationClaim.embeddedEngine
            version["kernels"] = embedded.kernels.instructionSet
            version["model"] = appliance.modelSHA256.prefixed
            version["replay"] = "bit-exact"
            return version
        }
        let answered = certification.remoteEngines
        guard answered.count <= 1 else {
            throw CLIError.failure(thing: remote.url, reason: "changed during the certification (it answered as "
                                   + answered.map { "\($0.model ?? "?") \($0.version ?? "?")" }.joined(separator: ", then ") + "); certify again")
        }
        version[CertificationClaim.engineKey] = EngineIdentity.Kind.openai.rawValue
        version["engineURL"] = remote.url
        version[CertificationClaim.engineModelKey] = answered.first?.model ?? remote.discovery?.model ?? ""
        version["engineVersion"] = answered.first?.version ?? "not reported"
        version["replay"] = "not claimed"
        return version
    }

    /// An installed appliance ready to replay suites: checked intact (the
    /// tree byte for byte against its signed list, naming the first file
    /// that differs; the image's signatures against the trust policy it was
    /// installed with), its suites read (a layer pin checked), its
    /// steering runtime loaded. Shared by certify and verify-attestation --replay.
    struct Bench {
        let appliance: InstalledAppliance
        let suites: CertificationSuites
        let certifier: Certifier
        /// The image's trust, decided again under the policy it was installed with.
        let trust: TrustDecision
        /// How long the intact check (the tree, then the trust) took.
        let intactTime: Duration

        init(root: InstallRoot, suitePaths: [String], engine: EngineOptions, remote: OpenAIEngine? = nil) throws {
            let clock = ContinuousClock()
            let start = clock.now
            (appliance, trust) = try InstalledAppliance.openTrusted(root, now: Int64(time(nil)))
            intactTime = clock.now - start
            let layer = try ConstraintLayer(directory: appliance.constraintLayerDirectory, runtimeFile: appliance.runtimePath)
            let paths = suitePaths.isEmpty ? try CertificationSuites.installedPaths(in: appliance.auditSuiteDirectory) : suitePaths
            suites = try CertificationSuites(paths: paths, layerDigest: appliance.constraintLayerDigest)
            if let remote {
                do { try remote.probe() } catch { throw CLIError.failure(thing: error.thing, reason: error.reason) }
                certifier = Certifier(remote: try RemoteSteeringRuntime(layer: layer, engines: EngineFailover([remote])))
                return
            }
            let session = try InferenceSession(contentsOf: appliance.modelPath,
                                               configuration: .init(contextLength: 2048, threadCount: engine.threads, kernels: engine.kernels))
            certifier = Certifier(runtime: try SteeringRuntime(session: session, layer: layer))
        }

        /// Replays every case, a progress line on stderr after each.
        func run() throws -> Certification {
            try certifier.run(suites.suites) { result, done, total in
                let bare = result.bareViolations.isEmpty ? "no rule fired" : "fired " + result.bareViolations.joined(separator: ", ")
                let verdict = result.passed ? "pass" : "FAIL: " + result.steeredFailures.joined(separator: "; ")
                Output.error("[\(done)/\(total)] \(result.suite)/\(result.testCase.id): steered \(result.steered.outcome.rawValue), \(verdict); bare: \(bare)")
            }
        }
    }
}
