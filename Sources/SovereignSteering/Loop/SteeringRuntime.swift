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
    public let rules: SteeringRules
    public let index: BM25Index
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
        rules = try SteeringRules(layer: layer)
        let settings = layer.runtime
        index = BM25Index(layer: layer)
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
        lastTimings = Timings()
        let start = clock.now
        defer { lastTimings.total = clock.now - start }
        return steering ? try steered(prompt) : try bare(prompt)
    }

    /// Runs `body`, adding its time to the timing at `key`.
    private func timed<T, E: Error>(_ key: WritableKeyPath<Timings, Duration>, _ body: () throws(E) -> T) throws(E) -> T {
        let start = clock.now
        defer { lastTimings[keyPath: key] += clock.now - start }
        return try body()
    }

    private func bare(_ prompt: String) throws(SteeringError) -> SteeringTranscript {
        let base: [TokenID]
        do { base = try template.tokens(for: [.user(prompt)], addGenerationPrompt: true, using: session.tokenizer) } catch {
            throw SteeringError.from(error)
        }
        let reused = try evaluatePrefix(base)
        var noBans = TokenBans()
        var monitor: OutputMonitor? = nil
        let run = try generate(keptText: "", keptTokens: 0, bans: &noBans, monitor: &monitor, attempt: 0)
        let attempt = SteeringTranscript.Attempt(text: run.text, tokens: run.tokens.count, violations: [], blip: nil, keptBytes: nil)
        return SteeringTranscript(steering: false, strategy: "none", prompt: prompt, redactions: [], passages: [], announced: [], attempts: [attempt],
                                  inputViolations: [], outcome: .answered, answer: run.text, refusalReason: nil, finishReason: run.finish,
                                  promptTokens: base.count, reusedPromptTokens: reused)
    }

    private func steered(_ rawPrompt: String) throws(SteeringError) -> SteeringTranscript {
        let settings = layer.runtime
        let prompt: String, redactions: [String]
        switch timed(\.inputRules, { rules.checkInput(rawPrompt) }) {
        case .refuse(let redacted, let violations):
            let findings = violations.map(Self.finding)
            return SteeringTranscript(steering: true, strategy: strategy.rawValue, prompt: redacted, redactions: [], passages: [],
                                      announced: [], attempts: [], inputViolations: findings, outcome: .refused, answer: refusalText(findings.first),
                                      refusalReason: findings.first, finishReason: "content_filter", promptTokens: 0, reusedPromptTokens: 0)
        case .tooLong(let bytes, let limit):
            throw SteeringError("prompt", "is \(bytes) bytes, more than the \(limit) the layer accepts (runtime.json maxPromptBytes)")
        case .proceed(let redacted, let found):
            prompt = redacted
            redactions = found.map { "\($0.ruleID): \($0.detector.rawValue) → \($0.replacement)" }
        }

        let retrieved = timed(\.retrieval) { index.search(prompt, k: settings.retrieval.k) }
        // What answers may draw figures and contacts from: the retrieved
        // passages, then the passage of every rule a blip invoked (the blip
        // names it, so the corrected answer may quote it).
        var passages = retrieved.map(\.passage)
        let announced = timed(\.inputRules) { rules.requirements(triggeredBy: prompt) }
        let messages: [ChatMessage] = [.system(systemPrompt(passages, requirements: announced)), .user(prompt)]
        let base: [TokenID]
        do { base = try template.tokens(for: messages, addGenerationPrompt: false, using: session.tokenizer) } catch {
            throw SteeringError.from(error)
        }
        let reused = try evaluatePrefix(base + opener)

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
            let segmentStart = session.context.tokens.count
            let run = stopAtKept ? Run() : try generate(keptText: keptText, keptTokens: keptTokens.count, bans: &bans,
                                                        monitor: &monitor, attempt: number)
            let answerText = keptText + run.text
            var violations = run.violation.map { [$0] } ?? []
            if violations.isEmpty, var monitor { violations = timed(\.outputChecks) { monitor.finish() } }
            let findings = violations.map(Self.finding)
            guard let first = violations.first else {
                attempts.append(.init(text: answerText, tokens: keptTokens.count + run.tokens.count, violations: [], blip: nil,
                                      keptBytes: keptText.isEmpty ? nil : keptText.utf8.count))
                return SteeringTranscript(steering: true, strategy: strategy.rawValue, prompt: prompt, redactions: redactions,
                                          passages: retrieved.map { .init(id: $0.passage.id, score: $0.score) },
                                          announced: announced.map(\.id), attempts: attempts,
                                          inputViolations: [], outcome: number == 0 ? .answered : .corrected, answer: answerText, refusalReason: nil,
                                          finishReason: run.finish, promptTokens: base.count + opener.count, reusedPromptTokens: reused)
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
            if !passages.contains(where: { $0.id == first.passageID }),
               let invoked = layer.passages.first(where: { $0.id == first.passageID }) {
                passages.append(invoked)
            }
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
        return SteeringTranscript(steering: true, strategy: strategy.rawValue, prompt: prompt, redactions: redactions,
                                  passages: retrieved.map { .init(id: $0.passage.id, score: $0.score) },
                                  announced: announced.map(\.id), attempts: attempts,
                                  inputViolations: [], outcome: .refused, answer: refusalText(reason), refusalReason: reason,
                                  finishReason: "content_filter",
                                  promptTokens: base.count + opener.count, reusedPromptTokens: reused)
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
    /// stopping at the first violation, the end of generation, or the
    /// answer's token budget (`keptTokens` already spent).
    private func generate(keptText: String, keptTokens: Int, bans: inout TokenBans, monitor: inout OutputMonitor?,
                          attempt: Int) throws(SteeringError) -> Run {
        let decoding = layer.runtime.decoding
        var parameters = SamplingParameters.greedy
        if decoding.temperature > 0 {
            parameters = SamplingParameters(temperature: Float(decoding.temperature), topK: decoding.topK ?? 40,
                                            topP: Float(decoding.topP ?? 0.95), seed: UInt64(bitPattern: decoding.seed) &+ UInt64(attempt))
        }
        var sampler = Sampler(parameters: parameters)
        var decoder = StreamingTokenDecoder(vocabulary: session.tokenizer.vocabulary)
        var history = session.context.tokens
        var run = Run()
        let context = session.context
        // A continuation after a blip gets at least a quarter of the budget
        // (or 64 tokens), however much the kept sentences used.
        let budget = max(decoding.maxTokens - keptTokens, min(decoding.maxTokens, max(64, decoding.maxTokens / 4)))
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
            let piece = decoder.append(token)
            run.tokens.append(token)
            run.pieces.append(piece)
            run.text += piece
            history.append(token)
            if let violation = timed(\.outputChecks, { monitor?.append(piece) }) {
                run.violation = violation
                run.finish = "violation"
                return run
            }
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

    /// Evaluates a new prompt, reusing the cached prefix it shares with
    /// the cache (the last token is always run again for fresh logits).
    /// Returns how many tokens were reused.
    private func evaluatePrefix(_ tokens: [TokenID]) throws(SteeringError) -> Int {
        let cached = session.context.tokens
        var common = 0
        while common < min(cached.count, tokens.count - 1) && cached[common] == tokens[common] { common += 1 }
        session.context.removeTokens(from: common)
        try evaluate(Array(tokens[common...]))
        return common
    }

    private func evaluate(_ tokens: [TokenID]) throws(SteeringError) {
        do { try session.context.evaluate(tokens) } catch { throw SteeringError.from(error) }
    }

    // MARK: - Prompt layout

    /// The persona, each retrieved passage with its id (so answers can cite
    /// them), and the blips of the `require` rules the question triggers.
    public func systemPrompt(_ passages: [Passage], requirements: [Rule] = []) -> String {
        var text = layer.runtime.persona
        for rule in requirements { text += "\n" + rule.blip }
        if !passages.isEmpty {
            text += "\n\nReference passages (the source of truth; cite their ids):"
            for passage in passages { text += "\n[\(passage.id)] \(passage.title): \(passage.text)" }
        }
        return text
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

    private func refusalText(_ reason: SteeringTranscript.Finding?) -> String {
        guard let reason else { return layer.runtime.refusal }
        return "\(layer.runtime.refusal) (rule \(reason.ruleID), from passage \(reason.passageID))"
    }

    static func finding(_ violation: Violation) -> SteeringTranscript.Finding {
        .init(ruleID: violation.ruleID, passageID: violation.passageID, kind: violation.kind.rawValue,
              severity: violation.severity.rawValue, blip: violation.blip, message: violation.message,
              offset: violation.range.isEmpty ? nil : violation.outputOffset)
    }
}
