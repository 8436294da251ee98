import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignPolicy
import SovereignInference
import SovereignInstall
import SovereignSteering
import SovereignLog
import SovereignServe

/// `sovereign chat`: one question answered by the installed appliance under
/// its constraint layer, the exchange recorded in the log before the answer
/// is shown.
enum ChatCommand {
    static let spec = CommandSpec(
        name: "chat",
        abstract: "Answer a question with the installed image, under its constraint layer, and log the exchange.",
        discussion: """
        Opens R/current (the tree is checked against its signed file list \
        first), retrieves the reference passages that fit the question, and \
        generates with every rule checked as each token is decoded; a broken \
        rule is corrected with a one-line blip (restart or resume) or, after \
        maxAttempts, refused. The exchange is appended to R/log, and the answer \
        is printed only once that entry is on disk. Deterministic: the same \
        image, question and settings give the same transcript with any \
        --threads. --no-steering answers with the bare model (same decode \
        settings, no persona, passages or rules), for comparison.
        """,
        arguments: [ArgumentSpec(name: "<question>", help: "The question ('-' reads standard input).")],
        options: [
            .value("--root", "<dir>", "The appliance root.", required: true),
            .flag("--no-steering", "Answer with the bare model: no persona, passages or rules (still logged)."),
            .value("--strategy", "<s>", "Correction strategy: restart or resume (default: the layer's runtime.json)."),
            .value("--threads", "<n>", "Threads for the forward pass (default: the online CPUs, at most 8)."),
            .value("--kernels", "<k>", "automatic (the default) or portable. Both give the same tokens."),
            CommonOptions.json,
        ],
        run: run
    )

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let question = try ModelCommands.textOrStandardInput(arguments.positionals[0])
        let root = InstallRoot(path: try arguments.required("--root"))
        let engine = try EngineOptions(arguments)
        let threads = engine.threads
        let kernels = engine.kernels
        var strategy: SteeringRuntime.Strategy?
        if let text = arguments.value("--strategy") {
            guard let choice = SteeringRuntime.Strategy(rawValue: text) else { throw ModelCommands.invalid(arguments, "--strategy") }
            strategy = choice
        }
        let steering = !arguments.flag("--no-steering")

        let (appliance, _) = try InstalledAppliance.openTrusted(root, now: Int64(time(nil)))
        let identity = try appliance.identity
        let layer = try ConstraintLayer(directory: appliance.constraintLayerDirectory, runtimeFile: appliance.runtimePath)
        let session = try InferenceSession(contentsOf: appliance.modelPath,
                                           configuration: .init(contextLength: 2048, threadCount: threads, kernels: kernels))
        let runtime = try SteeringRuntime(session: session, layer: layer, strategy: strategy)
        // Open the log before generating: an appliance that cannot log does not answer.
        let log = try AuditLog.open(applianceRoot: root.path)
        let transcript = try runtime.respond(to: question, steering: steering)
        let record = ExchangeRecord(transcript, type: "chat", requestID: Hex.encode(SecureRandom.bytes(16)),
                                    identity: identity, threads: session.context.threadCount)
        let index = try log.append(metadata: record.metadata, content: record.content)
        try log.close()

        if arguments.flag("--json") {
            var object = transcript.json.objectValue ?? [:]
            object["logIndex"] = .integer(Int64(index))
            object["image"] = .string(appliance.manifestDigest)
            object["model"] = .string(appliance.modelSHA256.prefixed)
            object["constraintLayer"] = .string(appliance.constraintLayerDigest.prefixed)
            Output.json(.object(object))
        } else {
            Output.line(transcript.answer)
        }
        return ExitStatus.success
    }
}

extension InstalledAppliance {
    /// The digests every log entry and API answer names.
    var identity: ExchangeRecord.Identity {
        get throws(InstallError) {
            ExchangeRecord.Identity(name: name, manifestDigest: manifestDigest, modelDigest: modelSHA256.prefixed,
                                    constraintLayerDigest: constraintLayerDigest.prefixed,
                                    layerApprovals: try layerApprovals().map(\.envelopeDigest.prefixed))
        }
    }
}
