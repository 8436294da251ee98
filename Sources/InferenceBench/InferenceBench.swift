// inference-bench: our side of bench/inference/run, measured the way
// llama-bench measures (prompt processing of N tokens from an empty
// context; generation of N tokens one at a time from an empty context, no
// sampling), so the two print comparable tokens/s.
//
// Usage: inference-bench MODEL.gguf [--threads N] [--prompt N] [--generate N]
//                        [--repetitions N] [--context N] [--batch N]
// Prints one JSON object per test on stdout.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SovereignSystem
import SovereignInference

@main
struct InferenceBench {
    static let usage = "usage: inference-bench MODEL.gguf [--threads N] [--prompt N] [--generate N] "
        + "[--repetitions N] [--context N] [--batch N]"

    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let path = arguments.first, !path.hasPrefix("-") else { fail(usage, status: 64) }
        arguments.removeFirst()
        var options = ["--threads": 1, "--prompt": 128, "--generate": 128, "--repetitions": 5, "--context": 0, "--batch": 128]
        while !arguments.isEmpty {
            let name = arguments.removeFirst()
            guard options[name] != nil, let text = arguments.first, let value = Int(text), value >= 0 else {
                fail("bad option \(name)\n\(usage)", status: 64)
            }
            arguments.removeFirst()
            options[name] = value
        }
        let promptTokens = options["--prompt", default: 128]
        let generateTokens = options["--generate", default: 128]
        let requestedContext = options["--context", default: 0]
        let configuration = LlamaContext.Configuration(
            contextLength: requestedContext > 0 ? requestedContext : max(promptTokens + generateTokens, 1),
            threadCount: max(1, options["--threads", default: 1]),
            batchSize: max(1, options["--batch", default: 128]))
        do {
            // A whole session (tokenizer and chat template too), so peak RSS
            // is what `sovereign model generate` costs.
            let session = try InferenceSession(contentsOf: path, configuration: configuration)
            let bench = Bench(context: session.context, repetitions: max(1, options["--repetitions", default: 5]))
            let prompt = (0 ..< promptTokens).map { _ in bench.nextToken() }
            try bench.run("pp\(promptTokens)", tokens: promptTokens) {
                bench.context.reset()
                try bench.context.evaluate(prompt)
            }
            try bench.run("tg\(generateTokens)", tokens: generateTokens) {
                bench.context.reset()
                for _ in 0 ..< generateTokens { try bench.context.evaluate([bench.nextToken()]) }
            }
        } catch {
            fail("\(error)", status: 1)
        }
    }

    static func fail(_ message: String, status: Int32) -> Never {
        let line = "inference-bench: \(message)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        exit(status)
    }
}

final class Bench {
    let context: LlamaContext
    let repetitions: Int
    let clock = ContinuousClock()
    /// Deterministic pseudo-random tokens (llama-bench uses random tokens too).
    private var state: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(context: LlamaContext, repetitions: Int) {
        self.context = context
        self.repetitions = repetitions
    }

    func nextToken() -> TokenID {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return TokenID(truncatingIfNeeded: (state >> 33) % UInt64(context.model.hyperParameters.vocabularySize))
    }

    /// A warm-up run, then `repetitions` timed runs; prints their mean rate.
    func run(_ name: String, tokens: Int, _ body: () throws -> Void) throws {
        guard tokens > 0 else { return }
        try body()
        var rates: [Double] = []
        for _ in 0 ..< repetitions {
            let elapsed = try clock.measure(body)
            let seconds = elapsed.inSeconds
            rates.append(Double(tokens) / seconds)
        }
        let mean = rates.reduce(0, +) / Double(rates.count)
        let variance = rates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(rates.count - 1, 1))
        print("{\"test\":\"\(name)\",\"threads\":\(context.threadCount),\"tokens\":\(tokens),"
            + "\"kernels\":\"\(context.configuration.kernels.instructionSet)\","
            + "\"tokensPerSecond\":\(mean),\"stddev\":\(variance.squareRoot()),\"samples\":\(rates)}")
    }
}
