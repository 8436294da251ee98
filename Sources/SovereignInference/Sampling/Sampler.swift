#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// How the next token is chosen from the logits.
public struct SamplingParameters: Sendable, Equatable {
    /// Divides the logits before the draw; 0 (or less) means greedy: the
    /// most likely token, no randomness.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens (0: no limit).
    public var topK: Int
    /// Keep the most likely tokens whose probabilities add up to `topP` (1: no limit).
    public var topP: Float
    /// Penalise tokens seen in the last `repetitionWindow` tokens (1: off),
    /// as llama.cpp: a positive logit is divided by it, a negative one multiplied.
    public var repetitionPenalty: Float
    public var repetitionWindow: Int
    /// Seed of the generator behind the draws.
    public var seed: UInt64

    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95,
                repetitionPenalty: Float = 1, repetitionWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }

    /// Always the most likely token.
    public static let greedy = SamplingParameters(temperature: 0, topK: 1, topP: 1)

    public var isGreedy: Bool { temperature <= 0 || topK == 1 }
}

/// Picks tokens from logits: repetition penalty, then greedy, or top-k →
/// top-p → temperature → a draw from a `SeededGenerator` (llama.cpp's
/// order). Ties between equal logits go to the lower token id. The same
/// parameters, logits and history give the same tokens on every run.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var generator: SeededGenerator

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        generator = SeededGenerator(seed: parameters.seed)
    }

    /// The next token. `history` is the tokens so far (prompt and output),
    /// for the repetition penalty. `logits` must not be empty.
    public mutating func sample(logits: UnsafeBufferPointer<Float>, history: [TokenID]) -> TokenID {
        precondition(!logits.isEmpty, "no logits to sample from")
        let penalised = penalties(logits: logits, history: history)
        func logit(_ index: Int) -> Float { penalised[index] ?? logits[index] }

        if parameters.isGreedy {
            var best = 0
            var bestLogit = logit(0)
            for index in 1 ..< logits.count {
                let value = logit(index)
                if value > bestLogit {
                    best = index
                    bestLogit = value
                }
            }
            return TokenID(best)
        }

        // Top-k: the k largest, best first (lower id first among equals).
        let k = parameters.topK > 0 ? min(parameters.topK, logits.count) : logits.count
        var candidates = topCandidates(count: k, total: logits.count, logit: logit)

        // Top-p over the softmax of the untempered logits.
        if parameters.topP < 1 {
            let top = Double(candidates[0].logit)
            let weights = candidates.map { exp(Double($0.logit) - top) }
            let total = weights.reduce(0, +)
            var cumulative = 0.0
            var keep = candidates.count
            for (index, weight) in weights.enumerated() {
                cumulative += weight / total
                if cumulative >= Double(parameters.topP) {
                    keep = index + 1
                    break
                }
            }
            candidates.removeSubrange(max(keep, 1)...)
        }

        // Temperature, softmax, draw.
        let temperature = Double(parameters.temperature)
        let top = Double(candidates[0].logit) / temperature
        let weights = candidates.map { exp(Double($0.logit) / temperature - top) }
        let total = weights.reduce(0, +)
        let target = generator.nextUnitInterval() * total
        var cumulative = 0.0
        for (index, weight) in weights.enumerated() {
            cumulative += weight
            if target < cumulative { return candidates[index].id }
        }
        return candidates[candidates.count - 1].id
    }

    /// Penalised logits of the distinct tokens in the window.
    private func penalties(logits: UnsafeBufferPointer<Float>, history: [TokenID]) -> [Int: Float] {
        let penalty = parameters.repetitionPenalty
        guard penalty != 1, parameters.repetitionWindow > 0 else { return [:] }
        var result: [Int: Float] = [:]
        for token in history.suffix(parameters.repetitionWindow) {
            let index = Int(token)
            guard index >= 0, index < logits.count, result[index] == nil else { continue }
            let value = logits[index]
            result[index] = value <= 0 ? value * penalty : value / penalty
        }
        return result
    }

    private func topCandidates(count k: Int, total: Int, logit: (Int) -> Float) -> [(id: TokenID, logit: Float)] {
        func precedes(_ a: (id: TokenID, logit: Float), _ b: (id: TokenID, logit: Float)) -> Bool {
            a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
        }
        if k == total {
            return (0 ..< total).map { (TokenID($0), logit($0)) }.sorted(by: precedes)
        }
        // Kept sorted best first; a new logit enters when it beats the last.
        var kept: [(id: TokenID, logit: Float)] = []
        kept.reserveCapacity(k + 1)
        for index in 0 ..< total {
            let candidate = (id: TokenID(index), logit: logit(index))
            if kept.count == k {
                guard let last = kept.last, precedes(candidate, last) else { continue }
                kept.removeLast()
            }
            var position = kept.count
            while position > 0 && precedes(candidate, kept[position - 1]) { position -= 1 }
            kept.insert(candidate, at: position)
        }
        return kept
    }
}
