import SovereignFormats
import SovereignPolicy
import SovereignInference

/// The control loop: input rules → retrieval → generation with every output
/// rule checked as each token is decoded (generation stops at the first
/// violating token, not at the end) → a correction with a one-line blip →
/// at most `maxAttempts` → a refusal naming the rule and its passage.
///
/// Two corrections, both keeping the shared prefix (persona, passages,
/// question) in the KV cache so it is never recomputed:
/// - `restart`: the cache is rolled back to the end of the question, the
///   blips so far are added as short system turns, and the answer is
///   generated again with the violating token banned at the position where
///   it began (if the model walks the same path again).
/// - `resume` (the "sidecar" blip): the cache is rolled back to the last
///   sentence boundary before the violation, the blip is injected there as
///   a short system turn, the violating continuation is banned, and the
///   answer continues from that point; the compliant sentences before it
///   are kept, not regenerated.
///
/// Deterministic: the engine's logits are bit-identical for any thread
/// count, sampling is seeded, bans are exact; the same layer, prompt and
/// settings give the same transcript byte for byte.
public final class SteeringRuntime {
    public enum Strategy: String, Sendable, CaseIterable {
        case restart, resume
    }

    /// Where the time of the last request went: the layer's own work
    /// (input rules, retrieval, output checks) against the whole. Kept
    /// apart from the transcript, which must be the same on every run.
    public struct Timings: Sendable, Equatable {
        public var total: Duration = .zero
        public var inputRules: Duration = .zero
        public var retrieval: Duration = .zero
        public var outputChecks: Duration = .zero
        /// Input rules, retrieval and output checks together.
        public var layer: Duration { inputRules + retrieval + outputChecks }
    }

    public let session: InferenceSession
    public let layer: ConstraintLayer
    /// Where the time of the last `respond` went.
    public private(set) var lastTimings = Timings()
    private let clock = ContinuousClock()
    /// The layer's own steps, shared with the remote engine's loop.
    public let enforcement: LayerEnforcement
    public var rules: SteeringRules { enforcement.rules }
    public var index: BM25Index { enforcement.index }
    /// The correction strategy in use (the layer's, unless overridden).
    public let strategy: Strategy
    private let template: ChatTemplate
    private let startToken: TokenID
    private let endToken: TokenID
    private let newline: [TokenID]
    private let opener: [TokenID]
    private let endOfGeneration: Set<TokenID>

    public init(session: InferenceSession, layer: ConstraintLayer, strategy: Strategy? = nil) throws(SteeringError) {
        self.session = session
        self.layer = layer
        enforcement = try LayerEnforcement(layer: layer)
        let settings = layer.runtime
        self.strategy = strategy ?? Strategy(rawValue: settings.correction.rawValue) ?? .resume
        do {
            template = try session.chatTemplate()
        } catch { throw SteeringError.from(error) }
        let tokenizer = session.tokenizer
        guard let start = tokenizer.specialToken("<|im_start|>"), let end = tokenizer.specialToken("<|im_end|>") else {
            throw SteeringError(session.model.file.source, "the model's vocabulary has no ChatML markers; steering needs them")
        }
        startToken = start
        endToken = end
        newline = tokenizer.encode("\n", parseSpecial: false)
        opener = [start] + tokenizer.encode("assistant\n", parseSpecial: false)
        endOfGeneration = Set(tokenizer.vocabulary.endOfGeneration)
    }

    // MARK: - One request

    /// Answers `prompt` under the constraint layer, or, with `steering`
    /// false, with the bare model (same decode settings, no persona, no
    /// passages, no rules): the ablation certification compares against.
    public func respond(to prompt: String, steering: Bool = true) throws(SteeringError) -> SteeringTranscript {
        try respond(to: SteeringRequest(prompt: prompt, steering: steering))
    }

    /// Answers `request`. With `release`, streams the answer as it becomes
    /// final (see `AnswerRelease`): the pieces it is given add up to a
    /// prefix of the transcript's answer, all of it unless refused; it is
    /// called after every decoded token and returning false cancels the
    /// request (`SteeringError.cancelled`). The transcript is the same with
    /// or without `release`.
    public func respond(to request: SteeringRequest,
                        release sink: ((String) -> Bool)? = nil) throws(SteeringError) -> SteeringTranscript {
        lastTimings = Timings()
        let start = clock.now
        defer { lastTimings.total = clock.now - start }
        var release = AnswerRelease(sink: sink)
        let decoding = EffectiveDecoding(layer: layer.runtime.decoding, request: request)
        let transcript = request.steering ? try steered(request, decoding, &release) : try bare(request, decoding, &release)
        if transcript.outcome != .refused { try release.finish(transcript.answer) }
        return transcript
    }

    /// Runs `body`, adding its time to the timing at `key`.
    private func timed<T, E: Error>(_ key: WritableKeyPath<Timings, Duration>, _ body: () throws(E) -> T) throws(E) -> T {
        let start = clock.now
        defer { lastTimings[keyPath: key] += clock.now - start }
        return try body()
    }

    private func bare(_ request: SteeringRequest, _ decoding: EffectiveDecoding,
                      _ release: inout AnswerRelease) throws(SteeringError) -> SteeringTranscript {
        let base: [TokenID]
        do {
            base = try template.tokens(for: request.history + [.user(request.prompt)], addGenerationPrompt: true,
                                       using: session.tokenizer)
        } catch { throw SteeringError.from(error) }
        let reused = try evaluatePrefix(base)
        var noBans = TokenBans()
        var monitor: OutputMonitor? = nil
        let run = try generate(keptText: "", keptTokens: [], bans: &noBans, monitor: &monitor, attempt: 0,
                               decoding: decoding, release: &release)
        let attempt = SteeringTranscript.Attempt(text: run.text, tokens: run.tokens.count, violations: [], blip: nil, keptBytes: nil)
        return SteeringTranscript(steering: false, strategy: "none", prompt: request.prompt, history: request.history,
                                  decoding: decoding, redactions: [], passages: [], announced: [], attempts: [attempt],
                                  inputViolations: [], outcome: .answered, answer: run.text, refusalReason: nil, finishReason: run.finish,
                                  promptTokens: base.count, reusedPromptTokens: reused)
    }

    private func steered(_ request: SteeringRequest, _ decoding: EffectiveDecoding,
                         _ release: inout AnswerRelease) throws(SteeringError) -> SteeringTranscript {
        let settings = layer.runtime
        let input = try timed(\.inputRules) { () throws(SteeringError) in try enforcement.checkInputs(request) }
        if let refusal = input.refusal {
            return enforcement.refusedAtInput(input, refusal, strategy: strategy.rawValue, decoding: decoding)
        }
        let (prompt, history, redactions) = (input.prompt, input.history, input.redactions)

        let retrieved = timed(\.retrieval) { index.search(prompt, k: settings.retrieval.k) }
        // What answers may draw figures and contacts from: the retrieved
        // passages, then the passage of every rule a blip invoked (the blip
        // names it, so the corrected answer may quote it).
        var passages = retrieved.map(\.passage)
        let announced = timed(\.inputRules) { rules.requirements(triggeredBy: prompt) }
        let messages: [ChatMessage] = [.system(systemPrompt(passages, requirements: announced))] + history + [.user(prompt)]
        let base: [TokenID]
        do { base = try template.tokens(for: messages, addGenerationPrompt: false, using: session.tokenizer) } catch {
            throw SteeringError.from(error)
        }
        let reused = try evaluatePrefix(base + opener)
        func transcript(_ attempts: [SteeringTranscript.Attempt], outcome: SteeringTranscript.Outcome, answer: String,
                        refusalReason: SteeringTranscript.Finding?, finish: String) -> SteeringTranscript {
            SteeringTranscript(steering: true, strategy: strategy.rawValue, prompt: prompt, history: history, decoding: decoding,
                               redactions: redactions, passages: retrieved.map { .init(id: $0.passage.id, score: $0.score) },
                               announced: announced.map(\.id), attempts: attempts, inputViolations: [], outcome: outcome,
                               answer: answer, refusalReason: refusalReason, finishReason: finish,
                               promptTokens: base.count + opener.count, reusedPromptTokens: reused)
        }

        var attempts: [SteeringTranscript.Attempt] = []
        var bans = TokenBans()
        var blips: [String] = []
        // Resume keeps a compliant prefix of the answer across attempts:
        // its text, its tokens, and where each of them sits in the cache.
        var keptText = ""
        var keptTokens: [TokenID] = []
        var keptPositions: [Int] = []
        /// After a `maxLength` resume: the kept sentences are the whole answer.
        var stopAtKept = false
        for number in 0..<settings.maxAttempts {
            var monitor: OutputMonitor? = timed(\.outputChecks) { OutputMonitor(rules: rules, prompt: prompt, passages: passages) }
            if !keptText.isEmpty { _ = timed(\.outputChecks) { monitor?.append(keptText) } }
            if number == 0 { release.holdsEverything = strategy == .restart || monitor?.judgesWholeAnswer == true }
            let segmentStart = session.context.tokens.count
            let run = stopAtKept ? Run() : try generate(keptText: keptText, keptTokens: keptTokens, bans: &bans,
                                                        monitor: &monitor, attempt: number, decoding: decoding, release: &release)
            let answerText = keptText + run.text
            var violations = run.violation.map { [$0] } ?? []
            if violations.isEmpty, var monitor { violations = timed(\.outputChecks) { monitor.finish() } }
            let findings = violations.map(Self.finding)
            guard let first = violations.first else {
                attempts.append(.init(text: answerText, tokens: keptTokens.count + run.tokens.count, violations: [], blip: nil,
                                      keptBytes: keptText.isEmpty ? nil : keptText.utf8.count))
                return transcript(attempts, outcome: number == 0 ? .answered : .corrected, answer: answerText,
                                  refusalReason: nil, finish: run.finish)
            }
            let isLast = number == settings.maxAttempts - 1
            let allTokens = keptTokens + run.tokens
            let allPositions = keptPositions + run.tokens.indices.map { segmentStart + $0 }
            let ends = tokenEnds(keptText: keptText, keptTokens: keptTokens.count, pieces: run.pieces)
            let offset = first.outputOffset
            // The token in which the violating text begins (nil: it begins at the very end).
            let culprit = ends.firstIndex { $0 > offset }
            if isLast {
                attempts.append(.init(text: answerText, tokens: allTokens.count, violations: findings, blip: nil, keptBytes: nil))
                break
            }
            blips.append(first.blip)
            enforcement.addInvokedPassage(of: first, to: &passages)
            // Resume needs a place in the answer to go back to; a violation of
            // the answer as a whole (a required mention missing) has none, so
            // it is corrected as restart corrects everything.
            guard strategy == .resume, !first.range.isEmpty else {
                if let culprit { bans.ban(allTokens[culprit], after: Array(allTokens[..<culprit])) }
                attempts.append(.init(text: answerText, tokens: allTokens.count, violations: findings, blip: first.blip, keptBytes: nil))
                (keptText, keptTokens, keptPositions, stopAtKept) = ("", [], [], false)
                session.context.removeTokens(from: base.count)
                try evaluate(blips.flatMap(systemTurn) + opener)
                continue
            }
            let keep = sentenceBoundary(answerText, ends: ends, before: culprit ?? allTokens.count)
            if let culprit { bans.ban(allTokens[culprit], after: Array(allTokens[keep..<culprit])) }
            let keepBytes = keep == 0 ? 0 : ends[keep - 1]
            attempts.append(.init(text: answerText, tokens: allTokens.count, violations: findings, blip: first.blip, keptBytes: keepBytes))
            keptText = String(decoding: Array(answerText.utf8.prefix(keepBytes)), as: UTF8.self)
            keptTokens = Array(allTokens[..<keep])
            keptPositions = Array(allPositions[..<keep])
            if first.kind == .maxLength, keep > 0 {
                // Too long: the whole sentences before the limit are the answer.
                stopAtKept = true
                continue
            }
            // The continuation is a new turn: it starts a new sentence after a space.
            if let last = keptText.utf8.last, last != UInt8(ascii: " "), last != UInt8(ascii: "\n") { keptText += " " }
            if keep == 0 {
                session.context.removeTokens(from: base.count)
                try evaluate(blips.flatMap(systemTurn) + opener)
            } else {
                // Roll the cache back to just after the last kept token, close
                // the assistant's turn there, inject the blip, reopen it.
                session.context.removeTokens(from: allPositions[keep - 1] + 1)
                try evaluate([endToken] + newline + systemTurn(first.blip) + opener)
            }
        }
        let reason = attempts.last?.violations.first
        return transcript(attempts, outcome: .refused, answer: refusalText(reason), refusalReason: reason, finish: "content_filter")
    }

    // MARK: - Generation

    private struct Run {
        var tokens: [TokenID] = []
        /// The text each token completed (may be empty mid-character).
        var pieces: [String] = []
        var text = ""
        var violation: Violation?
        var finish = "stop"
    }

    /// Generates one segment from the cache as it stands (its logits must
    /// be current), feeding the monitor as each token is decoded and
    /// stopping at the first violation, a stop string, the end of
    /// generation, or the answer's token budget (the kept tokens already
    /// spent); offers what is final to `release` after every token.
    private func generate(keptText: String, keptTokens: [TokenID], bans: inout TokenBans, monitor: inout OutputMonitor?,
                          attempt: Int, decoding: EffectiveDecoding, release: inout AnswerRelease) throws(SteeringError) -> Run {
        var parameters = decoding.sampling
        parameters.seed &+= UInt64(attempt)
        var sampler = Sampler(parameters: parameters)
        var decoder = StreamingTokenDecoder(vocabulary: session.tokenizer.vocabulary)
        var history = session.context.tokens
        var run = Run()
        let context = session.context
        let stops = decoding.stop.map { Array($0.utf8) }.filter { !$0.isEmpty }
        let longestStop = stops.map(\.count).max() ?? 0
        var answer = Array(keptText.utf8)
        // A continuation after a blip gets at least a quarter of the budget
        // (or 64 tokens), however much the kept sentences used.
        let budget = max(decoding.maxTokens - keptTokens.count, min(decoding.maxTokens, max(64, decoding.maxTokens / 4)))
        while run.tokens.count < budget {
            let banned = bans.tokens(after: run.tokens)
            let token: TokenID = context.withLogits { logits in
                guard !banned.isEmpty else { return sampler.sample(logits: logits, history: history) }
                var masked = Array(logits)
                for id in banned where Int(id) < masked.count { masked[Int(id)] = -Float.infinity }
                return masked.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) }
            }
            if endOfGeneration.contains(token) {
                run.finish = "stop"
                run.text += decoder.finish()
                return run
            }
            var piece = decoder.append(token)
            // A stop string ends the answer before it; the monitor never sees it.
            var stopped = false
            if !stops.isEmpty {
                let searchFrom = answer.count - longestStop
                answer += piece.utf8
                if let cut = AnswerRelease.firstStop(in: answer, stops: stops, from: searchFrom) {
                    let keepBytes = max(0, cut - (answer.count - piece.utf8.count))
                    piece = String(decoding: Array(piece.utf8.prefix(keepBytes)), as: UTF8.self)
                    answer.removeSubrange(cut...)
                    stopped = true
                }
            } else {
                answer += piece.utf8
            }
            run.tokens.append(token)
            run.pieces.append(piece)
            run.text += piece
            history.append(token)
            if let violation = timed(\.outputChecks, { monitor?.append(piece) }) {
                run.violation = violation
                run.finish = "violation"
                return run
            }
            if stopped {
                run.finish = "stop"
                return run
            }
            try release.offer(answer, upTo: releasable(answer, keptText: keptText, keptTokens: keptTokens.count, run: run,
                                                       monitor: monitor, stops: stops))
            guard context.tokens.count < context.configuration.contextLength else {
                run.finish = "length"
                return run
            }
            try evaluate([token])
        }
        run.text += decoder.finish()
        run.finish = "length"
        return run
    }

    /// How much of `answer` is final (see `AnswerRelease`).
    private func releasable(_ answer: [UInt8], keptText: String, keptTokens: Int, run: Run, monitor: OutputMonitor?,
                            stops: [[UInt8]]) -> Int {
        let limit = answer.count - AnswerRelease.stopHoldBack(answer, stops: stops)
        guard let monitor else { return limit }
        let safe = min(limit, monitor.safePrefixLength)
        let ends = tokenEnds(keptText: keptText, keptTokens: keptTokens, pieces: run.pieces)
        let within = ends.firstIndex { $0 > safe } ?? ends.count
        let boundary = sentenceBoundary(keptText + run.text, ends: ends, before: within)
        return boundary == 0 ? 0 : ends[boundary - 1]
    }

    /// Evaluates a new prompt, reusing the longest cached prefix (see
    /// `LlamaContext.evaluate(prompt:)`). Returns how many tokens were reused.
    private func evaluatePrefix(_ tokens: [TokenID]) throws(SteeringError) -> Int {
        do { return try session.context.evaluate(prompt: tokens) } catch { throw SteeringError.from(error) }
    }

    private func evaluate(_ tokens: [TokenID]) throws(SteeringError) {
        do { try session.context.evaluate(tokens) } catch { throw SteeringError.from(error) }
    }

    // MARK: - Prompt layout

    /// The system prompt for `passages` (see `LayerEnforcement`).
    public func systemPrompt(_ passages: [Passage], requirements: [Rule] = []) -> String {
        enforcement.systemPrompt(passages, requirements: requirements)
    }

    /// A short system turn carrying a blip.
    private func systemTurn(_ blip: String) -> [TokenID] {
        [startToken] + session.tokenizer.encode("system\n" + blip, parseSpecial: false) + [endToken] + newline
    }

    /// The UTF-8 byte offset in the answer where each token's text ends.
    private func tokenEnds(keptText: String, keptTokens: Int, pieces: [String]) -> [Int] {
        // Kept tokens end at or before the kept text's end; their exact ends
        // are not needed beyond the last one, which is the kept length.
        var ends = [Int](repeating: keptText.utf8.count, count: keptTokens)
        var offset = keptText.utf8.count
        for piece in pieces {
            offset += piece.utf8.count
            ends.append(offset)
        }
        return ends
    }

    /// The number of leading answer tokens to keep: the largest k ≤ `limit`
    /// whose text ends a sentence ('.', '!', '?' or a newline, then only
    /// spaces; a line's list number such as "1." is not a sentence), or 0
    /// to start the answer again.
    func sentenceBoundary(_ text: String, ends: [Int], before limit: Int) -> Int {
        let bytes = Array(text.utf8)
        var k = limit
        while k > 0 {
            var end = ends[k - 1]
            while end > 0, bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
            if end > 0, [UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: "\n")].contains(bytes[end - 1]),
               !Self.isListNumber(bytes[..<end]) {
                return k
            }
            k -= 1
        }
        return 0
    }

    /// Whether `text` ends with a line's list number ("1." or "12)" alone on its line so far).
    static func isListNumber(_ text: ArraySlice<UInt8>) -> Bool {
        guard text.last == UInt8(ascii: ".") else { return false }
        var index = text.index(before: text.endIndex)
        var digits = 0
        while index > text.startIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[text.index(before: index)]) {
            index = text.index(before: index)
            digits += 1
        }
        guard digits > 0 else { return false }
        return index == text.startIndex || text[text.index(before: index)] == UInt8(ascii: "\n")
    }

    private func refusalText(_ reason: SteeringTranscript.Finding?) -> String { enforcement.refusalText(reason) }

    static func finding(_ violation: Violation) -> SteeringTranscript.Finding { LayerEnforcement.finding(violation) }
}
