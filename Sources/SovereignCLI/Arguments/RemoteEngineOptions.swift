import SovereignHTTP
import SovereignSteering

/// `--engine openai:URL` (repeatable, in order of preference), with
/// `--engine-model`, `--engine-token-file` (each given once for every
/// engine, or once per engine in the same order) and `--engine-timeout`.
struct RemoteEngineOptions {
    let engines: [OpenAIEngine]
    /// How long `serve` waits at start for one engine to answer.
    let startTimeout: Duration

    static let options: [OptionSpec] = [
        .value("--engine", "openai:<url>",
               "A remote OpenAI-compatible engine to steer instead of the image's model (its base URL, as OpenAI clients take it: "
               + "http://HOST:PORT/v1). Repeat for several, in order of preference: a request goes to the first that is up.",
               repeatable: true),
        .value("--engine-model", "<id>", "The model id to ask the engine for (default: the first it lists); once, or once per --engine.",
               repeatable: true),
        .value("--engine-token-file", "<file>", "A bearer token for the engine; once, or once per --engine.", repeatable: true),
        .value("--engine-timeout", "<seconds>",
               "Longest wait for an engine's answer to begin or continue, and for one engine to answer at start (default 60)."),
    ]

    /// nil when no `--engine` was given.
    init?(_ arguments: ParsedArguments) throws(CLIError) {
        let urls = arguments.allValues("--engine")
        let models = arguments.allValues("--engine-model")
        let tokenFiles = arguments.allValues("--engine-token-file")
        guard !urls.isEmpty else {
            for name in ["--engine-model", "--engine-token-file", "--engine-timeout"] where arguments.value(name) != nil {
                throw .usage("'\(name)' needs '--engine'", command: arguments.command)
            }
            return nil
        }
        guard urls.count <= 16 else { throw .usage("at most 16 '--engine' are allowed", command: arguments.command) }
        for (name, given) in [("--engine-model", models.count), ("--engine-token-file", tokenFiles.count)]
            where given > 1 && given != urls.count {
            throw .usage("'\(name)' is given \(given) times for \(urls.count) engine\(urls.count == 1 ? "" : "s"); give it once, or once per '--engine'",
                         command: arguments.command)
        }
        let seconds = try arguments.positiveInteger("--engine-timeout", default: 60)
        guard seconds <= 3600 else { throw ModelCommands.invalid(arguments, "--engine-timeout") }
        var engines: [OpenAIEngine] = []
        for (index, text) in urls.enumerated() {
            guard text.utf8.starts(with: "openai:".utf8) else {
                throw CLIError.failure(thing: text, reason: "an engine is named 'openai:<url>' (the only kind of remote engine)")
            }
            let endpoint: HTTPEndpoint
            do { endpoint = try HTTPEndpoint.parse(String(text.dropFirst("openai:".count))) } catch {
                throw CLIError.failure(thing: "--engine \(text)", reason: error.reason)
            }
            let model = models.isEmpty ? nil : models[models.count == 1 ? 0 : index]
            if let model, model.isEmpty || model.utf8.count > 256 {
                throw CLIError.failure(thing: "--engine-model", reason: "must be 1 to 256 bytes")
            }
            var token: [UInt8]?
            if !tokenFiles.isEmpty {
                let path = tokenFiles[tokenFiles.count == 1 ? 0 : index]
                do { token = try ServeCommand.readToken(path) } catch { throw CLIError.from(error) }
            }
            let limits = HTTPClientLimits(headTimeout: .seconds(seconds), idleTimeout: .seconds(seconds))
            engines.append(OpenAIEngine(.init(endpoint: endpoint, model: model, token: token, limits: limits)))
        }
        self.engines = engines
        startTimeout = .seconds(seconds)
    }
}
