import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignInference

/// `sovereign model info|tokenize|generate`: look inside a GGUF model and
/// run it with nothing but this binary.
enum ModelCommands {
    static let spec = CommandSpec(
        name: "model",
        abstract: "Inspect, tokenize with and run GGUF language models.",
        subcommands: [info, tokenize, generate]
    )

    static let modelArgument = ArgumentSpec(name: "<file>", help: "A GGUF model file.")

    static let info = CommandSpec(
        name: "info",
        abstract: "Show a model's architecture, hyper-parameters, tensors, vocabulary and digest.",
        discussion: "Every offset and size in the file is checked first; a damaged file gets one line saying what is wrong.",
        arguments: [modelArgument],
        options: [CommonOptions.json],
        run: runInfo
    )

    static let tokenize = CommandSpec(
        name: "tokenize",
        abstract: "Print the token ids and pieces of a text, as llama-tokenize does.",
        discussion: """
        Special tokens in the text (<|im_start|>, …) are recognised, and BOS is \
        added when the model asks for it. Each line is '<id> -> '<piece>'' with \
        the piece's raw bytes.
        """,
        arguments: [modelArgument],
        options: [
            .value("--text", "<text>", "The text to tokenize ('-' reads standard input).", required: true),
            CommonOptions.json,
        ],
        run: runTokenize
    )

    static let generate = CommandSpec(
        name: "generate",
        abstract: "Generate text from a prompt, streaming it to standard output.",
        discussion: """
        Greedy unless --temperature is above 0; sampling is seeded (--seed, \
        default 0), so a run can be replayed exactly, with any thread count. \
        Timings and tokens/s go to standard error. Without --chat the prompt \
        is raw text and special tokens written in it (<|im_start|>, …) are \
        recognised; with --chat it is a user message, and markup in it stays \
        plain text.
        """,
        arguments: [modelArgument],
        options: [
            .value("--prompt", "<text>", "The prompt ('-' reads standard input).", required: true),
            .flag("--chat", "Send the prompt as a user message through the model's chat template."),
            .value("--max-tokens", "<n>", "Most tokens to generate (default 256)."),
            .value("--temperature", "<t>", "Sampling temperature; 0 (the default) is greedy."),
            .value("--seed", "<s>", "Seed of the sampler (default 0)."),
            .value("--threads", "<n>", "Threads for the forward pass (default: the online CPUs, at most 8)."),
            .value("--context", "<n>", "Context length in tokens (default 2048)."),
            .value("--kernels", "<k>", "automatic (the fastest this CPU has; the default) or portable. Both give the same tokens."),
            CommonOptions.json,
        ],
        run: runGenerate
    )

    // MARK: info

    @Sendable static func runInfo(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let file = try GGUFFile(contentsOf: path)
        let shape = try LlamaHyperParameters(file: file)
        let tokenizer = try BPETokenizer(file: file)
        let template: String
        var defaultSystemMessage: String?
        do {
            let chat = try ChatTemplate(file: file)
            template = chat.family.rawValue
            defaultSystemMessage = chat.defaultSystemMessage
        } catch {
            template = "unsupported (\(error.reason))"
        }
        let progress = Progress(label: path, total: Int64(file.fileSize))
        let digest = try FileHashing.sha256(ofFile: path, progress: progress.update).digest
        progress.finish()

        var census: [GGMLType: Int] = [:]
        for tensor in file.tensors { census[tensor.type, default: 0] += 1 }
        let types = census.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key.rawValue < $1.key.rawValue) }
        let parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        let name = (try? file.metadata.string("general.name")) ?? ""
        let vocabulary = tokenizer.vocabulary
        func id(_ token: TokenID?) -> JSONValue { token.map { .integer(Int64($0)) } ?? .null }

        if arguments.flag("--json") {
            Output.json(.object([
                "file": .string(path),
                "sha256": .string(digest.hex),
                "size": .integer(Int64(file.fileSize)),
                "ggufVersion": .integer(Int64(file.version)),
                "name": .string(name),
                "architecture": .string(shape.architecture),
                "parameters": .integer(Int64(parameters)),
                "hyperParameters": .object([
                    "blockCount": .integer(Int64(shape.blockCount)),
                    "embeddingLength": .integer(Int64(shape.embeddingLength)),
                    "headCount": .integer(Int64(shape.headCount)),
                    "keyValueHeadCount": .integer(Int64(shape.keyValueHeadCount)),
                    "headDimension": .integer(Int64(shape.headDimension)),
                    "feedForwardLength": .integer(Int64(shape.feedForwardLength)),
                    "contextLength": .integer(Int64(shape.contextLength)),
                    "ropeFrequencyBase": .number(Double(shape.ropeFrequencyBase)),
                    "ropeDimensionCount": .integer(Int64(shape.ropeDimensionCount)),
                    "rmsNormEpsilon": .number(Double(shape.rmsNormEpsilon)),
                    "vocabularySize": .integer(Int64(shape.vocabularySize)),
                    "tiedEmbeddings": .bool(shape.tiesEmbeddings),
                ]),
                "tensorCount": .integer(Int64(file.tensors.count)),
                "tensorTypes": .object(Dictionary(uniqueKeysWithValues: types.map { ($0.key.name, JSONValue.integer(Int64($0.value))) })),
                "vocabulary": .object([
                    "size": .integer(Int64(vocabulary.count)),
                    "model": .string((try? file.metadata.string("tokenizer.ggml.model")) ?? ""),
                    "preTokenizer": .string(tokenizer.preTokenizer.rawValue),
                    "bos": id(vocabulary.bos), "eos": id(vocabulary.eos),
                    "addsBOS": .bool(vocabulary.addsBOS),
                ]),
                "chatTemplate": .object([
                    "family": .string(template),
                    "defaultSystemMessage": defaultSystemMessage.map(JSONValue.string) ?? .null,
                ]),
            ]))
        } else {
            let rows: [(String, String)] = [
                ("file", path),
                ("sha256", digest.hex),
                ("size", "\(file.fileSize) bytes (GGUF v\(file.version))"),
                ("name", name.isEmpty ? "-" : name),
                ("architecture", shape.architecture),
                ("parameters", "\(parameters)"),
                ("blocks", "\(shape.blockCount)"),
                ("embedding", "\(shape.embeddingLength)"),
                ("heads", "\(shape.headCount) (\(shape.keyValueHeadCount) key/value, head size \(shape.headDimension))"),
                ("feed-forward", "\(shape.feedForwardLength)"),
                ("context", "\(shape.contextLength) (trained)"),
                ("rope", "base \(shape.ropeFrequencyBase), \(shape.ropeDimensionCount) dimensions"),
                ("rms epsilon", "\(shape.rmsNormEpsilon)"),
                ("embeddings", shape.tiesEmbeddings ? "tied (output uses token_embd)" : "separate output matrix"),
                ("tensors", "\(file.tensors.count): " + types.map { "\($0.key.name) ×\($0.value)" }.joined(separator: ", ")),
                ("vocabulary", "\(vocabulary.count) tokens (\(tokenizer.preTokenizer.rawValue) pre-tokenizer), "
                    + "BOS \(vocabulary.bos.map(String.init) ?? "-"), EOS \(vocabulary.eos.map(String.init) ?? "-")"),
                ("chat template", template + (defaultSystemMessage == nil ? "" : " (with a default system message)")),
            ]
            for (label, value) in rows {
                Output.line(label + ":" + String(repeating: " ", count: max(1, 15 - label.count)) + value)
            }
        }
        return ExitStatus.success
    }

    // MARK: tokenize

    @Sendable static func runTokenize(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let text = try textArgument(arguments, "--text")
        let file = try GGUFFile(contentsOf: path)
        let tokenizer = try BPETokenizer(file: file)
        // The operator's own text, tokenised as llama-tokenize does by default.
        let ids = tokenizer.encode(text, parseSpecial: true, addSpecial: true)
        if arguments.flag("--json") {
            Output.json(.object([
                "ids": .array(ids.map { .integer(Int64($0)) }),
                "pieces": .array(ids.map { .string(String(decoding: tokenizer.vocabulary.piece(for: $0), as: UTF8.self)) }),
            ]))
        } else {
            // llama-tokenize's "%6d -> '%s'" with the piece's raw bytes (a
            // piece may be part of a character).
            var out: [UInt8] = []
            for id in ids {
                let number = String(id)
                out += Array((String(repeating: " ", count: max(0, 6 - number.count)) + number + " -> '").utf8)
                out += tokenizer.vocabulary.piece(for: id)
                out += Array("'\n".utf8)
            }
            try? Output.Stream.standardOutput.descriptor.writeAll(out)
        }
        return ExitStatus.success
    }

    // MARK: generate

    @Sendable static func runGenerate(_ arguments: ParsedArguments) throws -> Int32 {
        let path = arguments.positionals[0]
        let prompt = try textArgument(arguments, "--prompt")
        let maxTokens = try arguments.positiveInteger("--max-tokens", default: 256)
        let contextLength = try arguments.positiveInteger("--context", default: 2048)
        let engine = try EngineOptions(arguments)
        let threads = engine.threads
        var sampling = SamplingParameters.greedy
        if let text = arguments.value("--temperature") {
            guard let temperature = Float(text), temperature.isFinite, temperature >= 0 else {
                throw invalid(arguments, "--temperature")
            }
            if temperature > 0 { sampling = SamplingParameters(temperature: temperature) }
        }
        if let text = arguments.value("--seed") {
            guard let seed = UInt64(text) else { throw invalid(arguments, "--seed") }
            sampling.seed = seed
        }
        let kernels = engine.kernels
        let json = arguments.flag("--json")

        let session = try InferenceSession(
            contentsOf: path, configuration: .init(contextLength: contextLength, threadCount: threads, kernels: kernels))
        // --chat: the prompt is a user message, whose text never becomes
        // special tokens; without it, the operator's raw prompt, in which
        // they are recognised.
        let tokens = arguments.flag("--chat") ? try session.promptTokens(for: [.user(prompt)]) : session.promptTokens(for: prompt)
        guard tokens.count < contextLength else {
            throw CLIError.failure(thing: path, reason: "the prompt is \(tokens.count) tokens; the context holds \(contextLength) (see --context)")
        }
        let result = try session.generate(tokens: tokens, options: GenerationOptions(maxTokens: maxTokens, sampling: sampling)) { token in
            if !json { Output.write(TerminalText.escape(token.text, keepingNewlines: true), to: .standardOutput) }
            return true
        }
        let timings = result.timings
        if json {
            Output.json(.object([
                "text": .string(result.text),
                "tokens": .array(result.tokens.map { .integer(Int64($0)) }),
                "promptTokens": .integer(Int64(tokens.count)),
                "finishReason": .string(result.finishReason.rawValue),
                "sampling": .object([
                    "temperature": .number(Double(sampling.isGreedy ? 0 : sampling.temperature)),
                    "topK": .integer(Int64(sampling.topK)), "topP": .number(Double(sampling.topP)),
                    "seed": .string(String(sampling.seed)),
                ]),
                "threads": .integer(Int64(session.context.threadCount)),
                "kernels": .string(session.context.configuration.kernels.instructionSet),
                "timings": .object([
                    "promptSeconds": .number(timings.promptSeconds),
                    "promptTokensPerSecond": .number(timings.promptTokensPerSecond),
                    "generationSeconds": .number(timings.generationSeconds),
                    "generationTokensPerSecond": .number(timings.generationTokensPerSecond),
                ]),
            ]))
        } else {
            Output.line()
        }
        Output.error("timings: prompt \(timings.promptTokens) tokens in \(format(timings.promptSeconds)) s "
            + "(\(format(timings.promptTokensPerSecond)) tokens/s), generated \(timings.generatedTokens) tokens in "
            + "\(format(timings.generationSeconds)) s (\(format(timings.generationTokensPerSecond)) tokens/s), "
            + "\(session.context.threadCount) thread\(session.context.threadCount == 1 ? "" : "s"), "
            + "\(session.context.configuration.kernels.instructionSet) kernels, "
            + "stopped: \(describe(result.finishReason))")
        return ExitStatus.success
    }

    // MARK: Helpers

    /// An option's text, or standard input when it is '-'.
    static func textArgument(_ arguments: ParsedArguments, _ name: String) throws(CLIError) -> String {
        try textOrStandardInput(try arguments.required(name))
    }

    /// `value` itself, or standard input (at most 64 MiB) when it is '-'.
    static func textOrStandardInput(_ value: String) throws(CLIError) -> String {
        guard value == "-" else { return value }
        let input = FileDescriptor(rawValue: STDIN_FILENO, path: "stdin")
        let limit = 64 << 20
        var bytes: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count: Int
            do { count = try input.read(into: buffer) } catch { throw CLIError.from(error) }
            if count == 0 { break }
            bytes += buffer[..<count]
            guard bytes.count <= limit else {
                throw CLIError.failure(thing: "stdin", reason: "more than \(limit >> 20) MiB of input")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func invalid(_ arguments: ParsedArguments, _ name: String) -> CLIError {
        .usage("The value '\(arguments.value(name) ?? "")' is invalid for '\(name)'", command: arguments.command)
    }

    static func format(_ value: Double) -> String {
        let hundredths = (value * 100).rounded()
        guard hundredths.isFinite, abs(hundredths) < 1e15 else { return "\(value)" }
        let whole = Int64(hundredths) / 100, fraction = abs(Int64(hundredths)) % 100
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    static func describe(_ reason: GenerationResult.FinishReason) -> String {
        switch reason {
        case .endOfGeneration: return "end of generation"
        case .maxTokens: return "--max-tokens reached"
        case .contextFull: return "context full"
        case .stopped: return "stopped"
        }
    }
}
