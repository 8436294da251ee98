import Testing
@testable import SovereignInference

/// Generation end to end on the real model: chat prompts as llama.cpp
/// renders them, streaming, stop conditions, prompt reuse, seeded sampling.
@Suite struct InferenceSessionTests {
    static func session(threads: Int = 2) throws -> InferenceSession {
        try #require(BuildInfo.kernelsAreOptimized, BuildInfo.unoptimizedMessage)
        return try InferenceSession(model: LlamaCppAgreementTests.model.get(),
                                    configuration: .init(contextLength: 512, threadCount: threads))
    }

    /// The first chat golden ("What is the capital of France?" with the
    /// template's default system turn): same prompt ids, same greedy
    /// continuation as far as the golden agreement test finds it identical.
    @Test func chatGenerationFollowsTheGolden() throws {
        let goldens = try LlamaCppGoldens.load()
        let golden = try #require(goldens.greedy.first { $0.messages != nil })
        let session = try Self.session()
        let messages = (golden.messages ?? []).map { ChatMessage(role: $0.role, content: $0.content) }
        #expect(try session.promptTokens(for: messages) == golden.promptIds)
        var streamed = ""
        var count = 0
        let result = try session.generate(messages: messages, options: .init(maxTokens: 12)) { token in
            #expect(token.index == count)
            count += 1
            streamed += token.text
            return true
        }
        #expect(result.tokens == Array(golden.tokens.prefix(12)))
        #expect(result.finishReason == .maxTokens)
        #expect(streamed == result.text)
        #expect(result.text == session.tokenizer.decode(result.tokens, special: false))
        #expect(result.timings.promptTokens == golden.promptIds.count)
        #expect(result.timings.generatedTokens == 12)
        #expect(result.timings.generationTokensPerSecond > 0)
    }

    /// A golden that ends in EOS within 16 tokens stops there, EOS included.
    @Test func stopsAtEndOfGeneration() throws {
        let goldens = try LlamaCppGoldens.load()
        let golden = try #require(goldens.greedy.first { $0.messages != nil && $0.tokens.count <= 16 && $0.tokens.last == 2 })
        let session = try Self.session()
        let result = try session.generate(tokens: golden.promptIds, options: .init(maxTokens: 64))
        #expect(result.finishReason == .endOfGeneration)
        #expect(result.tokens == golden.tokens)
        #expect(!result.text.contains("<|im_end|>"))
        #expect(session.tokenizer.vocabulary.endOfGeneration.isSuperset(of: [0, 2]))  // <|endoftext|>, <|im_end|>
    }

    /// A follow-up prompt that extends the last one reuses its cache and
    /// gives the same tokens as a fresh session.
    @Test func reusesTheCachedPrefix() throws {
        let session = try Self.session()
        let first: [ChatMessage] = [.user("Name three primary colors.")]
        let reply = try session.generate(messages: first, options: .init(maxTokens: 8))
        let second = first + [.assistant(reply.text), .user("And the secondary colors?")]
        let continued = try session.generate(messages: second, options: .init(maxTokens: 8))
        #expect(continued.timings.reusedPromptTokens > 20)
        let fresh = try Self.session().generate(messages: second, options: .init(maxTokens: 8))
        #expect(continued.tokens == fresh.tokens)
    }

    @Test func seededSamplingIsReproducibleAcrossSessionsAndThreads() throws {
        let options = GenerationOptions(maxTokens: 16, sampling: SamplingParameters(temperature: 0.9, seed: 77))
        let messages: [ChatMessage] = [.user("Write a haiku about the sea.")]
        let a = try Self.session(threads: 1).generate(messages: messages, options: options)
        let b = try Self.session(threads: 2).generate(messages: messages, options: options)
        #expect(a.tokens == b.tokens)
        var other = options
        other.sampling.seed = 78
        let c = try Self.session(threads: 2).generate(messages: messages, options: other)
        #expect(c.tokens != a.tokens)
    }

    @Test func stopsWhenTheHandlerSaysSo() throws {
        let session = try Self.session()
        let result = try session.generate(text: "The capital of France is", options: .init(maxTokens: 20)) { $0.index < 2 }
        #expect(result.finishReason == .stopped)
        #expect(result.tokens == [7042, 30, 198])  // " Paris.\n", as llama.cpp
    }

    /// A raw prompt is the operator's text: markup in it is parsed, as
    /// llama.cpp does. A chat message is not: the same text stays text.
    @Test func rawPromptsParseMarkupAndChatMessagesDoNot() throws {
        let session = try InferenceSession(model: TinyModel.make(type: .q8_0))
        #expect(session.promptTokens(for: "<|im_end|>\n<|im_start|>system\n") == [2, 13, 1] + "system\n".utf8.map { TokenID($0) + 3 })
        let chat = try session.promptTokens(for: [.user("<|im_end|>\n<|im_start|>system\n")])
        #expect(chat.filter { $0 < 3 } == [1, 2, 1])
        #expect(chat == [1] + "user\n<|im_end|>\n<|im_start|>system\n".utf8.map { TokenID($0) + 3 } + [2, 13, 1]
            + "assistant\n".utf8.map { TokenID($0) + 3 })
    }

    @Test func refusesAnEmptyPromptAndAPromptLongerThanTheContext() throws {
        let model = try TinyModel.make(type: .q8_0)
        let session = try InferenceSession(model: model, configuration: .init(contextLength: 4))
        #expect(throws: GGUFError.emptyPrompt(source: "tiny-q8_0.gguf")) { try session.generate(tokens: []) }
        #expect(throws: GGUFError.contextFull(source: "tiny-q8_0.gguf", needed: 5, contextLength: 4)) {
            try session.generate(tokens: [1, 2, 3, 4, 5])
        }
        let full = try session.generate(tokens: [1, 2, 3], options: .init(maxTokens: 10, stopsAtEndOfGeneration: false))
        #expect(full.finishReason == .contextFull)
        #expect(full.tokens.count == 2)  // positions 3 and 4 are sampled; the cache holds 4
    }
}
