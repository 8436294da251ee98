import Foundation
import Testing
@testable import SovereignInference

/// The real model against llama.cpp (Tests/Fixtures/llama-cpp-goldens.json).
///
/// How close can two correct implementations be? This model quantises its
/// activations to 8 bits before every product, so a last-bit difference
/// anywhere (a different summation order, an F16 cache, another attention
/// kernel) flips some rounding later and moves log-probabilities by up to
/// a few tenths. Measured on this machine with llama.cpp itself against its
/// own goldens (flash attention off, the other settings as the goldens):
/// top-5 log-probabilities differ by 0.10 on average (median 0.07, 95th
/// percentile 0.33); greedy continuations of the chat prompts diverge within
/// 32 tokens at llama.cpp top-2 gaps up to 0.14; teacher-forced top-1 agrees
/// on 97.6–98.2 %. Our numbers are of the same size (with an F32 cache and
/// no flash attention, llama.cpp diverges on the same prompts at the same
/// steps as we do), so the limits below allow for that floor, and every
/// figure is printed.
@Suite struct LlamaCppAgreementTests {
    static let greedySteps = 32
    /// The issue's near-tie: a divergence where llama.cpp's top-2 gap is smaller is reported, not failed.
    static let nearTie = 0.05
    /// llama.cpp itself diverges from its goldens at gaps up to 0.14 when
    /// only its attention kernel changes; no divergence may come above this.
    static let largestExcusableGap = 0.25

    static let model: Result<LlamaModel, TestSetupError> = TestModel.file.flatMap { file in
        do {
            return .success(try LlamaModel(file: file))
        } catch {
            return .failure(TestSetupError(description: "cannot load the model: \(error)"))
        }
    }

    static func context(threads: Int = 2) throws -> LlamaContext {
        try #require(BuildInfo.kernelsAreOptimized, BuildInfo.unoptimizedMessage)
        return LlamaContext(model: try model.get(), configuration: .init(contextLength: 512, threadCount: threads))
    }

    static func logSoftmax(_ logits: [Float]) -> [Double] {
        let top = Double(logits.max() ?? 0)
        let total = logits.reduce(0.0) { $0 + exp(Double($1) - top) }
        return logits.map { Double($0) - top - log(total) }
    }

    static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for index in logits.indices where logits[index] > logits[best] { best = index }
        return Int32(best)
    }

    struct Divergence: CustomStringConvertible {
        var prompt: Int
        var step: Int
        var gap: Double
        var description: String { "prompt \(prompt) diverges at step \(step) (llama.cpp top-2 gap \(gap))" }
    }

    /// Greedy decoding of every chat prompt for 32 tokens (or to EOS).
    @Test func greedyContinuationsFollowLlamaCpp() throws {
        let goldens = try LlamaCppGoldens.load()
        let chats = goldens.greedy.enumerated().filter { $0.element.messages != nil }
        var divergences: [Divergence] = []
        for (index, golden) in chats {
            let context = try Self.context()
            try context.evaluate(golden.promptIds)
            let steps = min(Self.greedySteps, golden.tokens.count)
            for step in 0 ..< steps {
                let token = Self.argmax(context.logits)
                if token != golden.tokens[step] {
                    divergences.append(Divergence(prompt: index, step: step, gap: golden.gaps[step]))
                    break
                }
                if step + 1 < steps { try context.evaluate([token]) }
            }
        }
        let strict = divergences.filter { $0.gap >= Self.nearTie }
        let summary = "greedy, first \(Self.greedySteps) tokens: \(chats.count - divergences.count)/\(chats.count) identical; "
            + "\(chats.count - strict.count)/\(chats.count) counting near-ties (gap < \(Self.nearTie)) as agreement; "
            + "divergences: \(divergences)"
        print(summary)
        // The issue: ≥ 7 prompts agree, near-ties excused (it counted 8
        // prompts; the goldens hold 9). Beyond that, no divergence may come
        // at a gap above the measured noise floor with margin.
        #expect(chats.count - strict.count >= 7, "\(summary)")
        #expect(divergences.allSatisfy { $0.gap < Self.largestExcusableGap }, "\(summary)")
    }

    /// Teacher forcing over the golden texts: top-1 agreement, where the
    /// disagreements are, and how far the top-5 log-probabilities are.
    @Test func teacherForcedPredictionsFollowLlamaCpp() throws {
        let goldens = try LlamaCppGoldens.load()
        var agreements = 0, total = 0
        var disagreementGaps: [Double] = []
        var deviations: [Double] = []
        for golden in goldens.teacherForced {
            let context = try Self.context()
            let all = try context.evaluateReturningAllLogits(golden.ids)
            for (position, logits) in all.enumerated() {
                let top = golden.top[position]
                total += 1
                if Self.argmax(logits) == golden.top1[position] {
                    agreements += 1
                } else {
                    // Our choice must be llama.cpp's second, at a small gap.
                    #expect(Int32(top[1].token) == Self.argmax(logits), "position \(position) of \(golden.text.prefix(20))")
                    disagreementGaps.append(top[0].logProbability - top[1].logProbability)
                }
                let ours = Self.logSoftmax(logits)
                for candidate in top { deviations.append(abs(ours[candidate.token] - candidate.logProbability)) }
            }
        }
        deviations.sort()
        let mean = deviations.reduce(0, +) / Double(deviations.count)
        let median = deviations[deviations.count / 2]
        let p95 = deviations[Int(Double(deviations.count) * 0.95)]
        let rate = Double(agreements) / Double(total)
        print("teacher-forced top-1: \(agreements)/\(total) (\(String(format: "%.1f", rate * 100)) %), disagreement gaps "
            + "\(disagreementGaps.map { String(format: "%.3f", $0) }); top-5 log-prob |Δ| mean \(String(format: "%.3f", mean)), "
            + "median \(String(format: "%.3f", median)), p95 \(String(format: "%.3f", p95)), max \(String(format: "%.3f", deviations.last ?? 0))")
        #expect(rate >= 0.98)  // the issue's figure (llama.cpp against itself: 97.6–98.2 %)
        #expect(disagreementGaps.allSatisfy { $0 < 0.25 }, "\(disagreementGaps)")
        // llama.cpp against itself: mean 0.10, median 0.07, p95 0.33.
        #expect(mean <= 0.15)
        #expect(median <= 0.10)
        #expect(p95 <= 0.45)
    }

    /// The same greedy tokens and bit-identical logits with 1 and 2 threads.
    @Test func sameTokensWithOneAndTwoThreads() throws {
        let goldens = try LlamaCppGoldens.load()
        let prompt = try #require(goldens.greedy.first { $0.messages != nil }).promptIds
        func run(threads: Int) throws -> (tokens: [TokenID], logits: [UInt32]) {
            let context = try Self.context(threads: threads)
            try context.evaluate(prompt)
            var tokens: [TokenID] = []
            var checksum: [UInt32] = []
            for _ in 0 ..< 16 {
                let logits = context.logits
                checksum.append(logits.reduce(0) { $0 &* 31 &+ $1.bitPattern })
                let token = Self.argmax(logits)
                tokens.append(token)
                try context.evaluate([token])
            }
            return (tokens, checksum)
        }
        let one = try run(threads: 1), two = try run(threads: 2)
        #expect(one.tokens == two.tokens)
        #expect(one.logits == two.logits)
    }
}
