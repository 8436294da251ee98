import Glibc
import SovereignSystem
import SovereignPolicy
import SovereignInference
import SovereignInstall
import SovereignSteering
import SovereignLog
import SovereignHTTP
import SovereignServe

/// `sovereign serve`: the installed appliance as an OpenAI-compatible
/// server, the constraint layer always on, every exchange in the log.
enum ServeCommand {
    static let spec = CommandSpec(
        name: "serve",
        abstract: "Serve the installed image over the OpenAI API, under its constraint layer, logging every exchange.",
        discussion: """
        Routes: POST /v1/chat/completions and /v1/completions (stream: true \
        for server-sent events), GET /v1/models, /health (503 until the model \
        is loaded) and /metrics (Prometheus text). Concurrent requests on the \
        --parallel slots are decoded together in one forward pass per step; \
        each gets exactly the tokens it would get alone. A stream sends only \
        text no rule can still take back; a refusal is a 200 with \
        finish_reason content_filter. A client that disconnects cancels its \
        generation at the next token. Binds loopback by default; any other \
        address needs --token-file (clients send Authorization: Bearer <token>). \
        SIGTERM or SIGINT stops accepting, finishes the requests in flight and \
        writes a log checkpoint. The address actually bound is printed on \
        stderr as 'listening on HOST:PORT' (useful with port 0). With \
        --engine, the same constraint layer steers remote OpenAI-compatible \
        engines (llama-server, vLLM, Ollama) instead of the image's model: \
        the stream is closed at the first broken rule and the answer \
        regenerated with the blip; a stream is released once final; an engine \
        that fails is set aside and the next one asked; the log names the \
        engine that answered. Such answers are not claimed to replay bit for bit.
        """,
        options: [
            .value("--root", "<dir>", "The appliance root.", required: true),
            .value("--listen", "<host:port>", "Address to bind (default 127.0.0.1:8080; port 0 picks a free one)."),
            .value("--token-file", "<file>", "A file holding the bearer token (at least 16 bytes; required off loopback)."),
            .value("--threads", "<n>", "Threads for the forward pass (default: the online CPUs, at most 8)."),
            .value("--parallel", "<n>", "Slots: requests generated at once, batched together (default 4)."),
            .value("--max-queue", "<n>", "Requests that may wait for a slot before 503s (default 64)."),
            .value("--queue-timeout", "<seconds>", "How long a request may wait for a slot before a 503 (default 60, at most 3600)."),
            .value("--kernels", "<k>", "automatic (the default) or portable. Both give the same tokens."),
            .flag("--no-steering", "Serve the bare model (no persona, passages or rules), for benchmarks and ablation; still logged."),
        ] + RemoteEngineOptions.options,
        run: run
    )

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        let root = InstallRoot(path: try arguments.required("--root"))
        let listen = arguments.value("--listen") ?? "127.0.0.1:8080"
        let address: HTTPAddress
        do { address = try HTTPAddress.parse(listen) } catch { throw ModelCommands.invalid(arguments, "--listen") }
        let engine = try EngineOptions(arguments)
        let threads = engine.threads
        let parallel = try arguments.positiveInteger("--parallel", default: 4)
        guard parallel <= 64 else { throw ModelCommands.invalid(arguments, "--parallel") }
        let maxQueue = try arguments.positiveInteger("--max-queue", default: 64)
        let queueTimeout = try arguments.positiveInteger("--queue-timeout", default: 60)
        guard queueTimeout <= 3600 else { throw ModelCommands.invalid(arguments, "--queue-timeout") }
        let kernels = engine.kernels
        let remote = try RemoteEngineOptions(arguments)
        var token: [UInt8]?
        if let path = arguments.value("--token-file") { token = try readToken(path) }
        guard address.isLoopback || token != nil else {
            throw CLIError.failure(thing: listen, reason: "is not a loopback address; binding it needs --token-file (a bearer token)")
        }

        // Everything that can be refused is checked before the socket opens.
        let (appliance, _) = try InstalledAppliance.openTrusted(root, now: Int64(time(nil)))
        let layer = try ConstraintLayer(directory: appliance.constraintLayerDirectory, runtimeFile: appliance.runtimePath)
        let log = try AuditLog.open(applianceRoot: root.path)
        var configuration = APIServer.Configuration(token: token, maxQueue: maxQueue, queueTimeout: .seconds(queueTimeout))
        configuration.steering = !arguments.flag("--no-steering")
        let api = APIServer(identity: try appliance.identity, log: log, configuration: configuration)
        let server = try HTTPServer(address: address) { request, exchange in api.handle(request, exchange) }
        HTTPServer.blockSignalsAndStop(server, on: [SIGTERM, SIGINT])
        let engineText = remote.map { "engines " + $0.engines.map(\.url).joined(separator: ", ") } ?? "\(threads) threads"
        Output.error("sovereign serve: listening on \(server.boundAddress) (\(appliance.name), \(parallel) slots, \(engineText)"
                     + (configuration.steering ? ")" : "; WITHOUT the constraint layer: --no-steering)"))

        if let remote {
            guard spawnDetachedThread({ connect(remote, layer: layer, parallel: parallel, api: api, server: server) }) else {
                throw CLIError.failure(thing: "serve", reason: "cannot start the engine probe")
            }
            server.run()
            return try finish(log, api)
        }

        // Load while already answering /health with 503.
        let modelPath = appliance.modelPath
        let loaded = spawnDetachedThread {
            do {
                let engine = LlamaEngine(model: try LlamaModel(contentsOf: modelPath),
                                         configuration: .init(contextLength: 2048, threadCount: threads, kernels: kernels))
                let first = try InferenceSession(context: engine.makeContext())
                var runtimes = [try SteeringRuntime(session: first, layer: layer)]
                for _ in 1 ..< parallel { runtimes.append(try SteeringRuntime(session: first.makeSibling(), layer: layer)) }
                api.load(runtimes: runtimes)
                Output.error("sovereign serve: model loaded; ready")
            } catch {
                let failure = CLIError.from(error)
                if case .failure(let thing, let reason) = failure { Output.error("sovereign: \(thing): \(reason)") }
                server.requestStop()
            }
        }
        guard loaded else { throw CLIError.failure(thing: "serve", reason: "cannot start the loading thread") }

        server.run()
        return try finish(log, api)
    }

    private static func finish(_ log: AuditLog, _ api: APIServer) throws -> Int32 {
        let checkpoint = try log.checkpoint()
        try log.close()
        Output.error("sovereign serve: stopped; log checkpoint at size \(checkpoint.checkpoint.size)")
        return api.isReady ? ExitStatus.success : ExitStatus.failure
    }

    /// Waits (answering /health with 503) until one remote engine says which
    /// model it serves, then opens the slots; stops the server if none does
    /// within the engine timeout.
    private static func connect(_ remote: RemoteEngineOptions, layer: ConstraintLayer, parallel: Int, api: APIServer,
                                server: HTTPServer) {
        let failover = EngineFailover(remote.engines)
        let deadline = ContinuousClock.now + remote.startTimeout
        var failures: [(url: String, error: EngineError?)] = []
        while true {
            failures = failover.probeAll()
            if failures.contains(where: { $0.error == nil }) || ContinuousClock.now >= deadline { break }
            if failures.contains(where: { if case .rejected = $0.error?.kind { true } else { false } }) { break }
            usleep(500_000)
        }
        for failure in failures {
            if let error = failure.error { Output.error("sovereign serve: engine \(error.thing): \(error.reason)") }
        }
        guard let up = failures.first(where: { $0.error == nil }) else {
            Output.error("sovereign: engines: none answered within \(remote.startTimeout)")
            return server.requestStop()
        }
        do {
            let responders = try (0 ..< parallel).map { _ throws(SteeringError) in try RemoteSteeringRuntime(layer: layer, engines: failover) }
            api.load(responders: responders)
            let model = remote.engines.first { $0.url == up.url }?.discovery?.model ?? "?"
            Output.error("sovereign serve: engine \(up.url) serves '\(model)'; ready")
        } catch {
            Output.error("sovereign: \(error.thing): \(error.reason)")
            server.requestStop()
        }
    }

    /// The bearer token: the file's bytes without a trailing newline.
    static func readToken(_ path: String) throws -> [UInt8] {
        var bytes = try FileSystem.readFile(path, limit: 4096)
        while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard bytes.count >= 16 else { throw CLIError.failure(thing: path, reason: "holds a token of \(bytes.count) bytes; at least 16 are needed") }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw CLIError.failure(thing: path, reason: "the token must be printable ASCII without spaces")
        }
        return bytes
    }
}
