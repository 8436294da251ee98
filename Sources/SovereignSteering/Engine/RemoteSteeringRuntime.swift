import SovereignPolicy
import SovereignInference

/// The control loop in front of remote OpenAI-compatible engines: the same
/// input rules, retrieval, system prompt, incremental output checks, blips
/// and refusals as the embedded engine's loop (`LayerEnforcement`,
/// `OutputMonitor`), over text streamed from the engine.
///
/// A remote engine's cache cannot be rolled back to a sentence, so every
/// correction is a `restart`: the moment a rule is broken the stream is
/// closed (the engine stops generating), the blips so far are added as
/// system turns after the question, and the piece in which the violating
/// text began is discouraged through `logit_bias` on engines that take it
/// (llama-server). Streamed answers are therefore released whole, once no
/// rule can take them back.
///
/// Answers are not claimed to replay bit for bit: the engine's arithmetic
/// and batching are its own. Transcripts name the engine that answered.
public final class RemoteSteeringRuntime: SteeringResponder {
    public let enforcement: LayerEnforcement
    public let engines: EngineFailover
    public var layer: ConstraintLayer { enforcement.layer }
    /// How strongly a violating continuation's first piece is discouraged.
    static let discouragement = -10

    public init(layer: ConstraintLayer, engines: EngineFailover) throws(SteeringError) {
        guard !engines.engines.isEmpty else { throw SteeringError("engines", "none given") }
        enforcement = try LayerEnforcement(layer: layer)
        self.engines = engines
    }

    public var engineIdentity: EngineIdentity {
        let first = engines.engines[0]
        return EngineIdentity(kind: .openai, url: first.url, model: first.discovery?.model ?? first.configuration.model, version: nil)
    }

    public var threadCount: Int? { nil }
    public func becameIdle() {}

    public func respond(to request: SteeringRequest, release sink: ((String) -> Bool)?,
                        shouldStop: () -> Bool) throws(SteeringError) -> SteeringTranscript {
        var release = AnswerRelease(sink: sink)
        let decoding = EffectiveDecoding(layer: layer.runtime.decoding, request: request)
        var failures: [String] = []
        var transcript = request.steering
            ? try steered(request, decoding, &release, &failures, shouldStop)
            : try bare(request, decoding, &release, &failures, shouldStop)
        transcript.engineFailures = failures
        if transcript.outcome != .refused { try release.finish(transcript.answer) }
        return transcript
    }

    private func bare(_ request: SteeringRequest, _ decoding: EffectiveDecoding, _ release: inout AnswerRelease,
                      _ failures: inout [String], _ shouldStop: () -> Bool) throws(SteeringError) -> SteeringTranscript {
        var monitor: OutputMonitor? = nil
        let (run, engine) = try generate(request.history + [.user(request.prompt)], decoding, attempt: 0, discouraged: [],
                                         monitor: &monitor, release: &release, failures: &failures, shouldStop)
        let attempt = SteeringTranscript.Attempt(text: run.text, tokens: run.tokens, violations: [], blip: nil, keptBytes: nil)
        var transcript = SteeringTranscript(steering: false, strategy: "none", prompt: request.prompt, history: request.history,
                                            decoding: decoding, redactions: [], passages: [], announced: [], attempts: [attempt],
                                            inputViolations: [], outcome: .answered, answer: run.text, refusalReason: nil,
                                            finishReason: run.finish, promptTokens: run.promptTokens, reusedPromptTokens: 0)
        transcript.engine = engine
        return transcript
    }

    private func steered(_ request: SteeringRequest, _ decoding: EffectiveDecoding, _ release: inout AnswerRelease,
                         _ failures: inout [String], _ shouldStop: () -> Bool) throws(SteeringError) -> SteeringTranscript {
        let settings = layer.runtime
        let input = try enforcement.checkInputs(request)
        if let refusal = input.refusal {
            return enforcement.refusedAtInput(input, refusal, strategy: "restart", decoding: decoding)
        }
        let retrieved = enforcement.index.search(input.prompt, k: settings.retrieval.k)
        var passages = retrieved.map(\.passage)
        let announced = enforcement.rules.requirements(triggeredBy: input.prompt)
        let messages: [ChatMessage] = [.system(enforcement.systemPrompt(passages, requirements: announced))] + input.history
            + [.user(input.prompt)]
        release.holdsEverything = true
        var attempts: [SteeringTranscript.Attempt] = []
        var blips: [String] = []
        var discouraged: [String] = []
        var engine = engineIdentity
        var promptTokens = 0
        func transcript(outcome: SteeringTranscript.Outcome, answer: String, refusalReason: SteeringTranscript.Finding?,
                        finish: String) -> SteeringTranscript {
            var transcript = SteeringTranscript(
                steering: true, strategy: "restart", prompt: input.prompt, history: input.history, decoding: decoding,
                redactions: input.redactions, passages: retrieved.map { .init(id: $0.passage.id, score: $0.score) },
                announced: announced.map(\.id), attempts: attempts, inputViolations: [], outcome: outcome, answer: answer,
                refusalReason: refusalReason, finishReason: finish, promptTokens: promptTokens, reusedPromptTokens: 0)
            transcript.engine = engine
            return transcript
        }
        for number in 0..<settings.maxAttempts {
            var monitor: OutputMonitor? = OutputMonitor(rules: enforcement.rules, prompt: input.prompt, passages: passages)
            let (run, answeredBy) = try generate(messages + blips.map(ChatMessage.system), decoding, attempt: number,
                                                 discouraged: discouraged, monitor: &monitor, release: &release,
                                                 failures: &failures, shouldStop)
            engine = answeredBy
            promptTokens = run.promptTokens
            var violations = run.violation.map { [$0] } ?? []
            if violations.isEmpty, var monitor { violations = monitor.finish() }
            let findings = violations.map(LayerEnforcement.finding)
            guard let first = violations.first else {
                attempts.append(.init(text: run.text, tokens: run.tokens, violations: [], blip: nil, keptBytes: nil))
                return transcript(outcome: number == 0 ? .answered : .corrected, answer: run.text, refusalReason: nil, finish: run.finish)
            }
            let isLast = number == settings.maxAttempts - 1
            attempts.append(.init(text: run.text, tokens: run.tokens, violations: findings, blip: isLast ? nil : first.blip, keptBytes: nil))
            if isLast { break }
            blips.append(first.blip)
            enforcement.addInvokedPassage(of: first, to: &passages)
            // The piece in which the violating text begins: what the model
            // chose at the point it went wrong.
            if !first.range.isEmpty, let culprit = run.piece(at: first.outputOffset),
               culprit.utf8.contains(where: { ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") || ($0 >= 48 && $0 <= 57) }),
               !discouraged.contains(culprit) {
                discouraged.append(culprit)
            }
        }
        let reason = attempts.last?.violations.first
        return transcript(outcome: .refused, answer: enforcement.refusalText(reason), refusalReason: reason, finish: "content_filter")
    }

    struct Run {
        var text = ""
        var pieces: [String] = []
        var tokens = 0
        var violation: Violation?
        var finish = "stop"
        var promptTokens = 0

        /// The piece holding the answer's byte `offset`.
        func piece(at offset: Int) -> String? {
            var end = 0
            for piece in pieces {
                end += piece.utf8.count
                if end > offset { return piece }
            }
            return nil
        }
    }

    /// One generation on the first engine that answers, the monitor fed as
    /// the text arrives and the stream closed at the first violation. An
    /// engine that fails before the answer is final is set aside and the
    /// next one asked; the failure is kept for the log.
    private func generate(_ messages: [ChatMessage], _ decoding: EffectiveDecoding, attempt: Int, discouraged: [String],
                          monitor: inout OutputMonitor?, release: inout AnswerRelease, failures: inout [String],
                          _ shouldStop: () -> Bool) throws(SteeringError) -> (Run, EngineIdentity) {
        let request = OpenAIEngine.ChatRequest(messages: messages, decoding: decoding, seed: decoding.seed &+ Int64(attempt),
                                               textBias: Dictionary(discouraged.map { ($0, Self.discouragement) }) { a, _ in a })
        for engine in engines.order() {
            var checker = monitor
            var answer: [UInt8] = []
            var violation: Violation?
            var stopped: SteeringError?
            let result: OpenAIEngine.ChatResult
            do throws(EngineError) {
                result = try engine.streamChat(request, onPiece: { piece in
                    answer += piece.utf8
                    if let found = checker?.append(piece) {
                        violation = found
                        return false
                    }
                    // Steered answers are held whole (a restart replaces all of them).
                    do throws(SteeringError) { try release.offer(answer, upTo: release.holdsEverything ? 0 : answer.count) } catch {
                        stopped = error
                        return false
                    }
                    return true
                }, keepGoing: { !shouldStop() })
            } catch {
                switch error.kind {
                case .cancelled: throw SteeringError.cancelled
                case .rejected(let status):
                    throw SteeringError(error.thing, error.reason, invalidRequest: status == 400 || status == 413)
                case .unavailable, .broken:
                    engines.failed(engine)
                    failures.append("\(error.thing): \(error.reason)")
                    // Text already streamed to the client cannot be taken back by another engine's answer.
                    guard release.released.isEmpty else { throw SteeringError(error.thing, error.reason, engineUnavailable: true) }
                    continue
                }
            }
            if let stopped { throw stopped }
            engines.answered(engine)
            monitor = checker
            let identity = EngineIdentity(kind: .openai, url: engine.url, model: result.model ?? engine.discovery?.model,
                                          version: result.fingerprint)
            // A stream closed early has no usage chunk: its pieces are its tokens.
            let run = Run(text: result.text, pieces: result.pieces, tokens: result.completionTokens ?? result.pieces.count,
                          violation: violation, finish: violation == nil ? result.finish : "violation",
                          promptTokens: result.promptTokens ?? 0)
            return (run, identity)
        }
        throw SteeringError("engines", "no engine answered: " + failures.suffix(engines.engines.count).joined(separator: "; "),
                            engineUnavailable: true)
    }
}
