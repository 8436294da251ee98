import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignInference

/// The real model against llama.cpp (Tests/Fixtures/llama-cpp-goldens.json).
///
/// We compute what llama.cpp's CPU backend computes, operation for
/// operation (its x86 activation quantiser, its eight-lane fused dot
/// products, its F16 cache and flash-attention kernel, its AVX-512 SiLU,
/// RoPE with its fused multiply-adds), so the logits are llama.cpp's to the
/// bit: every greedy token and every log-probability in the goldens (printed
/// with six decimals) must match. The issue asked for less (32 tokens on 7
/// of 8 prompts, near-ties excused, 98 % teacher-forced): this model
/// quantises its activations before every product, so any last-bit
/// difference flips roundings and moves log-probabilities by about 0.1;
/// llama.cpp disagrees with itself that much across builds. Matching its
/// arithmetic exactly was the way to agree with it at all. (llama.cpp
/// switches to other attention kernels for batches of 64 or more tokens
/// and for caches past 256 positions; the goldens stay within the path we
/// follow, and we keep to it always, so results never depend on batching.)
@Suite struct LlamaCppAgreementTests {
    /// The goldens print log-probabilities with six decimals.
    static let printedPrecision = 1e-6

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

    /// The largest difference between llama.cpp's top-5 log-probabilities and ours for the same tokens.
    static func deviation(_ logits: [Float], _ top: [LlamaCppGoldens.Candidate]) -> Double {
        let ours = logSoftmax(logits)
        return top.map { abs(ours[$0.token] - $0.logProbability) }.max() ?? 0
    }

    /// Greedy decoding of every chat prompt, all 64 golden tokens.
    @Test func greedyContinuationsAreLlamaCpps() throws {
        let goldens = try LlamaCppGoldens.load()
        var worst = 0.0, steps = 0
        for (index, golden) in goldens.greedy.enumerated() {
            let context = try Self.context()
            try context.evaluate(golden.promptIds)
            var tokens: [TokenID] = []
            for step in golden.tokens.indices {
                let logits = context.logits
                worst = max(worst, Self.deviation(logits, golden.top[step]))
                tokens.append(Self.argmax(logits))
                steps += 1
                if step + 1 < golden.tokens.count { try context.evaluate([tokens[step]]) }
            }
            #expect(tokens == golden.tokens, "prompt \(index)")
        }
        print("greedy: \(goldens.greedy.count) prompts, \(steps) steps; top-5 log-probability |Δ| at most \(worst)")
        #expect(worst <= Self.printedPrecision)
    }

    /// Teacher forcing over the golden texts: the same top-1 and top-5 log-probabilities everywhere.
    @Test func teacherForcedPredictionsAreLlamaCpps() throws {
        let goldens = try LlamaCppGoldens.load()
        var worst = 0.0, positions = 0
        for golden in goldens.teacherForced {
            let context = try Self.context()
            let all = try context.evaluateReturningAllLogits(golden.ids)
            for (position, logits) in all.enumerated() {
                #expect(Self.argmax(logits) == golden.top1[position], "position \(position) of \(golden.text.prefix(20))")
                worst = max(worst, Self.deviation(logits, golden.top[position]))
                positions += 1
            }
        }
        print("teacher-forced: \(positions) positions; top-5 log-probability |Δ| at most \(worst)")
        #expect(worst <= Self.printedPrecision)
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
