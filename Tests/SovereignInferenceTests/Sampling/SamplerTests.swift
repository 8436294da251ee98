import Foundation
import Testing
@testable import SovereignInference

@Suite struct SeededGeneratorTests {
    /// xoshiro256** seeded by SplitMix64 (values from the reference C code).
    @Test func firstOutputsAreFixed() {
        var generator = SeededGenerator(seed: 0)
        #expect((0 ..< 3).map { _ in generator.next() } == SeededGeneratorTests.expectedSeed0)
    }

    static let expectedSeed0: [UInt64] = [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0]

    @Test func sameSeedSameSequenceOtherSeedOtherSequence() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let first = (0 ..< 100).map { _ in a.next() }
        #expect(first == (0 ..< 100).map { _ in b.next() })
        #expect(first != (0 ..< 100).map { _ in c.next() })
        var unit = SeededGenerator(seed: 1)
        #expect((0 ..< 1000).allSatisfy { _ in (0 ..< 1).contains(unit.nextUnitInterval()) })
    }
}

@Suite struct SamplerTests {
    /// Logits over 50 tokens, seeded, with a clear favourite at 7.
    static func logits(seed: UInt64) -> [Float] {
        var values = QuantizedTestData.random(count: 50, seed: seed, scale: 2)
        values[7] = 4
        return values
    }

    func sample(_ parameters: SamplingParameters, _ logits: [Float], history: [TokenID] = [], steps: Int = 1) -> [TokenID] {
        var sampler = Sampler(parameters: parameters)
        return (0 ..< steps).map { _ in logits.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) } }
    }

    @Test func greedyTakesTheLargestLogitAndTheLowerIdOnTies() {
        #expect(sample(.greedy, Self.logits(seed: 1)) == [7])
        #expect(sample(.greedy, [0, 3, 1, 3]) == [1])
        #expect(sample(SamplingParameters(temperature: 0.9, topK: 1), [0, 3, 1, 3], steps: 5) == [1, 1, 1, 1, 1])
    }

    @Test func seededSamplingIsReproducible() {
        let parameters = SamplingParameters(temperature: 1.5, topK: 0, topP: 1, seed: 1234)
        let logits = Self.logits(seed: 2)
        let first = sample(parameters, logits, steps: 200)
        #expect(sample(parameters, logits, steps: 200) == first)
        var other = parameters
        other.seed = 1235
        #expect(sample(other, logits, steps: 200) != first)
        #expect(Set(first).count > 5, "a hot temperature spreads the draws")
    }

    /// Draw frequencies follow softmax(logits / T) (within sampling error).
    @Test func drawsFollowTheTemperedDistribution() {
        let logits: [Float] = [0, 1, 2, 0.5]
        let temperature: Float = 0.7
        let draws = sample(SamplingParameters(temperature: temperature, topK: 0, topP: 1, seed: 9), logits, steps: 20_000)
        let weights = logits.map { exp(Double($0 / temperature)) }
        let total = weights.reduce(0, +)
        for token in 0 ..< 4 {
            let observed = Double(draws.filter { $0 == token }.count) / Double(draws.count)
            #expect(abs(observed - weights[token] / total) < 0.015, "token \(token)")
        }
    }

    @Test func topKAndTopPLimitTheCandidates() {
        let logits: [Float] = [5, 4.9, 4.8, -3, -3, -3, -3]
        let topK = sample(SamplingParameters(temperature: 5, topK: 2, topP: 1, seed: 3), logits, steps: 500)
        #expect(Set(topK) == [0, 1])
        // p(0) ≈ 0.37, p(1) ≈ 0.33: top-p 0.5 keeps the first two.
        let topP = sample(SamplingParameters(temperature: 5, topK: 0, topP: 0.5, seed: 3), logits, steps: 500)
        #expect(Set(topP) == [0, 1])
        #expect(sample(SamplingParameters(temperature: 5, topK: 0, topP: 0.01, seed: 3), logits, steps: 50) == Array(repeating: 0, count: 50))
    }

    /// llama.cpp's penalty: positive logits divided, negative multiplied,
    /// once per distinct token in the window.
    @Test func repetitionPenaltyDemotesRecentTokens() {
        let logits: [Float] = [2, 1.9, -1, -1.1]
        var parameters = SamplingParameters.greedy
        parameters.repetitionPenalty = 1.2
        #expect(sample(parameters, logits, history: [0, 0, 0]) == [1])     // 2/1.2 < 1.9
        #expect(sample(parameters, [-1, -1.1], history: [0]) == [1])      // -1·1.2 < -1.1
        parameters.repetitionWindow = 1
        #expect(sample(parameters, logits, history: [0, 3]) == [0])       // 0 is outside the window
    }
}
