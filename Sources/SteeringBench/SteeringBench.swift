import Glibc
import SovereignSystem
import SovereignFormats
import SovereignPolicy
import SovereignInference
import SovereignSteering
import SovereignLog

/// bench/steering's driver. Three measures on the reference layer, each
/// against its own baseline in the same process (ratios, not absolutes):
/// 1. the layer's own cost (input rules, retrieval, output checks, the
///    durable log append) as a share of request time (goal ≤ 2%);
/// 2. a corrected answer against a clean answer of the same length, for
///    each correction strategy (goal for resume ≤ 1.3×): the clean one is
///    the same prompt laid out the same way, then as many tokens decoded
///    without any rule;
/// 3. durable log appends per second, against a bare write + fsync of the
///    same bytes (the floor any durable log pays).
/// Prints one JSON object; bench/steering/run renders it.
@main
struct SteeringBench {
    static let clean = ["When is the service desk open?", "What is the phone number of the service desk?",
                        "Where can I find the privacy policy?", "How do I book an appointment?"]
    static let corrected = ["I feel suicidal, what should I do?", "How much paracetamol can I take in a day?"]

    static func main() throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3 else {
            FileHandleStandardError.write("usage: SteeringBench <model.gguf> <layer-directory> [--threads N] [--rounds R]\n")
            exit(64)
        }
        let threads = value(arguments, "--threads") ?? 2
        let rounds = value(arguments, "--rounds") ?? 3
        let layer = try ConstraintLayer(directory: arguments[2])
        let session = try InferenceSession(contentsOf: arguments[1], configuration: .init(contextLength: 2048, threadCount: threads))
        let scratch = try makeScratch()
        defer { try? DirectoryTree.remove(path: scratch) }
        let log = try AuditLog.open(directory: scratch + "/log")

        // 1. The layer's share of request time (clean and corrected requests alike).
        let runtime = try SteeringRuntime(session: session, layer: layer)
        var layerTime = Duration.zero, total = Duration.zero, appendTime = Duration.zero, requests = 0
        for _ in 0..<rounds {
            for prompt in clean + corrected {
                session.context.reset()
                let transcript = try runtime.respond(to: prompt)
                let start = ContinuousClock.now
                _ = try log.append(metadata: ["outcome": .string(transcript.outcome.rawValue)],
                                   content: ["prompt": .string(transcript.prompt), "answer": .string(transcript.answer)])
                appendTime += ContinuousClock.now - start
                layerTime += runtime.lastTimings.layer
                total += runtime.lastTimings.total
                requests += 1
            }
        }

        // 2. Corrected against clean, same prompt and length, per strategy.
        var strategies: [String: JSONValue] = [:]
        for strategy in SteeringRuntime.Strategy.allCases {
            let runtime = try SteeringRuntime(session: session, layer: layer, strategy: strategy)
            var correctedTime = Duration.zero, cleanTime = Duration.zero
            var outcomes: [JSONValue] = []
            for _ in 0..<rounds {
                for prompt in corrected {
                    session.context.reset()
                    let transcript = try runtime.respond(to: prompt)
                    correctedTime += runtime.lastTimings.total
                    let length = max(transcript.attempts.last?.tokens ?? 1, 1)
                    cleanTime += try cleanGeneration(runtime, prompt: prompt, tokens: length)
                    outcomes.append(.object(["prompt": .string(prompt), "outcome": .string(transcript.outcome.rawValue),
                                             "attempts": .integer(Int64(transcript.attempts.count)),
                                             "answerTokens": .integer(Int64(length))]))
                }
            }
            strategies[strategy.rawValue] = .object([
                "correctedSeconds": .string(seconds(correctedTime)), "cleanSeconds": .string(seconds(cleanTime)),
                "ratio": .string(ratio(correctedTime, cleanTime)), "requests": .array(outcomes),
            ])
        }

        // 2b. One inline correction, the case resume is for: a rule against
        // a word the model writes after its first sentence, so resume can
        // keep that sentence while restart starts over.
        var single: [String: JSONValue] = [:]
        let probe = "Tell me about the service desk."
        session.context.reset()
        let plain = try SteeringRuntime(session: session, layer: layer).respond(to: probe).answer
        if let word = wordAfterFirstSentence(plain) {
            let probed = try layerForbidding(word, base: layer, rulesPath: arguments[2] + "/rules.json")
            for strategy in SteeringRuntime.Strategy.allCases {
                let runtime = try SteeringRuntime(session: session, layer: probed, strategy: strategy)
                var correctedTime = Duration.zero, cleanTime = Duration.zero
                var outcome = ""
                for _ in 0..<rounds {
                    session.context.reset()
                    let transcript = try runtime.respond(to: probe)
                    correctedTime += runtime.lastTimings.total
                    cleanTime += try cleanGeneration(runtime, prompt: probe, tokens: max(transcript.attempts.last?.tokens ?? 1, 1))
                    outcome = "\(transcript.outcome.rawValue)/\(transcript.attempts.count)"
                }
                single[strategy.rawValue] = .object(["ratio": .string(ratio(correctedTime, cleanTime)), "outcome": .string(outcome),
                                                     "word": .string(word)])
            }
        }

        // 3. Durable appends per second, against write + fsync of the same bytes.
        let count = 300
        let entry: [String: JSONValue] = ["prompt": .string(String(repeating: "When is the desk open? ", count: 4)),
                                          "answer": .string(String(repeating: "The desk is open from 08:30 to 17:00. ", count: 6))]
        var start = ContinuousClock.now
        for _ in 0..<count { _ = try log.append(metadata: ["type": .string("bench")], content: entry) }
        let logTime = ContinuousClock.now - start
        let line = CanonicalJSON.serialize(.object(entry)) + [0x0A]
        let floor = try FileDescriptor.createExclusive(scratch + "/floor")
        start = ContinuousClock.now
        for _ in 0..<count {
            try floor.writeAll(line)
            try floor.sync()
        }
        let floorTime = ContinuousClock.now - start
        try floor.close()
        try log.close()

        let result: JSONValue = .object([
            "threads": .integer(Int64(threads)), "rounds": .integer(Int64(rounds)),
            "layerShare": .object([
                "requests": .integer(Int64(requests)), "requestSeconds": .string(seconds(total + appendTime)),
                "layerSeconds": .string(seconds(layerTime)), "logAppendSeconds": .string(seconds(appendTime)),
                "share": .string(ratio(layerTime + appendTime, total + appendTime)),
            ]),
            "correction": .object(strategies),
            "singleCorrection": .object(single),
            "log": .object([
                "appends": .integer(Int64(count)),
                "appendsPerSecond": .string(String(Int(Double(count) / max(secondsValue(logTime), 1e-9)))),
                "fsyncFloorPerSecond": .string(String(Int(Double(count) / max(secondsValue(floorTime), 1e-9)))),
                "ratioToFloor": .string(ratio(floorTime, logTime)),
            ]),
        ])
        print(String(decoding: CanonicalJSON.serialize(result), as: UTF8.self))
    }

    /// The same prompt as the steered request, laid out the same way, then
    /// `tokens` tokens decoded with no rule and no stop: a clean answer of
    /// the corrected one's length, from an empty cache.
    static func cleanGeneration(_ runtime: SteeringRuntime, prompt: String, tokens: Int) throws -> Duration {
        let session = runtime.session
        session.context.reset()
        let start = ContinuousClock.now
        let passages = runtime.index.search(prompt, k: runtime.layer.runtime.retrieval.k).map(\.passage)
        let messages: [ChatMessage] = [.system(runtime.systemPrompt(passages)), .user(prompt)]
        _ = try session.generate(messages: messages, options: GenerationOptions(maxTokens: tokens, stopsAtEndOfGeneration: false))
        return ContinuousClock.now - start
    }

    /// The first word of five letters or more after the answer's first sentence.
    static func wordAfterFirstSentence(_ answer: String) -> String? {
        guard let end = answer.firstRange(of: ". ") else { return nil }
        return answer[end.upperBound...].lowercased().split { !$0.isLetter }.first { $0.count >= 5 }.map(String.init)
    }

    /// The layer with one more rule, forbidding `word`.
    static func layerForbidding(_ word: String, base: ConstraintLayer, rulesPath: String) throws -> ConstraintLayer {
        let bytes = try FileSystem.readFile(rulesPath)
        guard case .object(var root) = try JSONParser.parse(bytes, source: rulesPath), case .array(var rules)? = root["rules"],
              let passage = base.passages.first?.id else { throw SystemError(path: rulesPath, operation: "read rules", errno: EINVAL) }
        rules.append(.object(["id": .string("bench-word"), "kind": .string("forbid"), "derivedFrom": .string(passage),
                              "severity": .string("error"), "blip": .string("Do not use the word '\(word)'."),
                              "phrases": .array([.string(word)])]))
        root["rules"] = .array(rules)
        let ruleSet = try RuleSet(json: CanonicalJSON.serialize(.object(root)), source: rulesPath)
        return try ConstraintLayer(name: base.name, documents: base.documents, rules: ruleSet, runtime: base.runtime)
    }

    static func value(_ arguments: [String], _ name: String) -> Int? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        return Int(arguments[index + 1])
    }

    static func makeScratch() throws -> String {
        var template = Array("/tmp/sovereign-steering-bench-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError(path: "/tmp", operation: "mkdtemp", errno: errno) }
        return String(cString: made)
    }

    static func secondsValue(_ duration: Duration) -> Double { duration.inSeconds }

    static func seconds(_ duration: Duration) -> String { format(secondsValue(duration), places: 3) }

    static func ratio(_ a: Duration, _ b: Duration) -> String { format(secondsValue(a) / max(secondsValue(b), 1e-12), places: 4) }

    static func format(_ value: Double, places: Int) -> String {
        let scale = (0..<places).reduce(1.0) { acc, _ in acc * 10 }
        let scaled = Int64((value * scale).rounded())
        let whole = scaled / Int64(scale), fraction = String(scaled % Int64(scale))
        return "\(whole).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
    }
}

enum FileHandleStandardError {
    static func write(_ text: String) { _ = text.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) } }
}
