import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignInference

/// Continuous batching on the real model: contexts of one engine decoded
/// together on several threads give every request the very tokens and
/// logits it gets alone, for any thread count, and a shared prompt prefix
/// is copied from another context's cache rather than computed again.
@Suite(.serialized) struct LlamaEngineTests {
    static let questions = [
        "What is the capital of France?", "Name three primary colours.", "How many legs does a spider have?",
        "Write a haiku about rain.", "What is 12 times 7?", "Who wrote Hamlet?",
        "Explain photosynthesis in one sentence.", "List the days of the week.",
    ]

    /// What one request saw: its tokens and, bit for bit, the logits before each.
    struct Trace: Equatable {
        var tokens: [TokenID] = []
        var logitBits: [[UInt32]] = []
    }

    static func engine(threads: Int) throws -> LlamaEngine {
        try #require(BuildInfo.kernelsAreOptimized, BuildInfo.unoptimizedMessage)
        return LlamaEngine(model: try LlamaCppAgreementTests.model.get(),
                           configuration: .init(contextLength: 256, threadCount: threads, batchSize: 32))
    }

    static func prompt(_ question: String, tokenizer: BPETokenizer) throws -> [TokenID] {
        let template = try ChatTemplate(file: try TestModel.loadFile())
        return try template.tokens(for: [.user(question)], addGenerationPrompt: true, using: tokenizer)
    }

    /// Greedy decoding of `count` tokens, recording every logit row.
    static func decode(_ prompt: [TokenID], on context: LlamaContext, count: Int) throws -> Trace {
        var trace = Trace()
        try context.evaluate(prompt: prompt)
        for _ in 0 ..< count {
            let logits = context.logits
            trace.logitBits.append(logits.map(\.bitPattern))
            let next = TokenID(logits.indices.max { logits[$0] < logits[$1] } ?? 0)
            trace.tokens.append(next)
            try context.evaluate([next])
        }
        context.markIdle()
        return trace
    }

    /// Runs `body(i)` on `count` threads at once and waits for all.
    static func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0 ..< count {
            group.enter()
            Thread.detachNewThread {
                body(index)
                group.leave()
            }
        }
        group.wait()
    }

    @Test(arguments: [1, 2])
    func eightConcurrentRequestsMatchEachRunAlone(threads: Int) throws {
        let tokenizer = try TestModel.loadTokenizer()
        let prompts = try Self.questions.map { try Self.prompt($0, tokenizer: tokenizer) }
        let steps = 12

        // Alone: a fresh engine per request, one thread.
        let solo = try prompts.map { prompt in
            try Self.decode(prompt, on: try Self.engine(threads: 1).makeContext(), count: steps)
        }

        // Together: one engine, eight contexts, eight threads at once.
        let engine = try Self.engine(threads: threads)
        let contexts = prompts.map { _ in engine.makeContext() }
        let results = Results(count: prompts.count)
        Self.concurrently(prompts.count) { index in
            results.store(index, Result { try Self.decode(prompts[index], on: contexts[index], count: steps) })
        }
        for (index, expected) in solo.enumerated() {
            let batched = try results.value(index)
            #expect(batched.tokens == expected.tokens, "request \(index): tokens differ in the batch")
            #expect(batched.logitBits == expected.logitBits, "request \(index): logits differ in the batch")
        }
        // And they were in fact decoded together: fewer steps than rows.
        let statistics = engine.statistics
        #expect(statistics.steps < statistics.rows / 2, "steps \(statistics.steps) for \(statistics.rows) rows")
    }

    /// A second context whose prompt starts like the first's copies that
    /// prefix instead of computing it, and still gets identical logits.
    @Test func sharedPrefixIsAdoptedWithIdenticalResults() throws {
        let tokenizer = try TestModel.loadTokenizer()
        let first = try Self.prompt("Tell me about the Moon.", tokenizer: tokenizer)
        let second = try Self.prompt("Tell me about the Sun.", tokenizer: tokenizer)
        let shared = LlamaContext.commonPrefix(first, second, limit: second.count - 1)
        try #require(shared > 5)

        let engine = try Self.engine(threads: 2)
        let donor = engine.makeContext()
        _ = try Self.decode(first, on: donor, count: 2)
        let adopter = engine.makeContext()
        let reused = try adopter.evaluate(prompt: second)
        #expect(reused == shared)
        #expect(adopter.adoptedTokenCount == shared)
        #expect(adopter.evaluatedTokenCount == second.count - shared)

        let alone = LlamaContext(model: try LlamaCppAgreementTests.model.get(),
                                 configuration: .init(contextLength: 256, threadCount: 1, batchSize: 32))
        try alone.evaluate(prompt: second)
        #expect(adopter.logits.map(\.bitPattern) == alone.logits.map(\.bitPattern))
        #expect(donor.tokens.count == first.count + 2, "the donor's cache was changed")
    }

    /// Results written from several threads.
    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Result<Trace, any Error>?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func store(_ index: Int, _ value: Result<Trace, any Error>) { lock.withLock { values[index] = value } }
        func value(_ index: Int) throws -> Trace {
            guard let value = lock.withLock({ values[index] }) else { throw TestSetupError(description: "request \(index) never finished") }
            return try value.get()
        }
    }
}
