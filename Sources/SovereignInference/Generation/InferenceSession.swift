import SovereignSystem

/// A model ready to generate text: its tokenizer, chat template and a
/// `LlamaContext`. Takes token ids, text or chat messages; streams tokens
/// as they are generated; stops at end of generation or `maxTokens`.
///
/// The context keeps the keys and values of the last prompt and output, so
/// a follow-up whose prompt starts with the same tokens (the next turn of a
/// chat) only evaluates what is new. Not thread-safe: one call at a time
/// (it may be handed between threads, hence `@unchecked Sendable`).
public final class InferenceSession: @unchecked Sendable {
    public let model: LlamaModel
    public let tokenizer: BPETokenizer
    public let context: LlamaContext
    private let template: Result<ChatTemplate, GGUFError>
    private let clock = ContinuousClock()

    public convenience init(model: LlamaModel, configuration: LlamaContext.Configuration = .init()) throws(GGUFError) {
        try self.init(context: LlamaContext(model: model, configuration: configuration))
    }

    /// A session over `context` (for a server: one per slot, each made with
    /// `engine.makeContext()`, so that concurrent requests share one batched
    /// forward pass).
    public init(context: LlamaContext) throws(GGUFError) {
        let model = context.model
        self.model = model
        tokenizer = try BPETokenizer(file: model.file)
        guard tokenizer.vocabulary.count == model.hyperParameters.vocabularySize else {
            throw GGUFError.invalidVocabulary(
                source: model.file.source,
                reason: "\(tokenizer.vocabulary.count) tokens, but the model's vocabulary size is \(model.hyperParameters.vocabularySize)")
        }
        do {
            template = .success(try ChatTemplate(file: model.file))
        } catch {
            template = .failure(error)
        }
        self.context = context
    }

    /// Another session over the same model, tokenizer and template, on a new
    /// context of this session's engine: a server's slot. Its evaluations
    /// are batched with the other slots', with identical results.
    public func makeSibling() -> InferenceSession {
        InferenceSession(sibling: self, context: context.engine.makeContext())
    }

    private init(sibling: InferenceSession, context: LlamaContext) {
        model = sibling.model
        tokenizer = sibling.tokenizer
        template = sibling.template
        self.context = context
    }

    /// Maps, validates and loads the model at `path`.
    public convenience init(contentsOf path: String, configuration: LlamaContext.Configuration = .init()) throws(GGUFError) {
        try self.init(model: LlamaModel(contentsOf: path), configuration: configuration)
    }

    /// The model's chat template, or the reason there is none we can render.
    public func chatTemplate() throws(GGUFError) -> ChatTemplate { try template.get() }

    /// Token ids of `messages` laid out by the model's chat template, with
    /// the assistant's turn opened. Message text never becomes special
    /// tokens (see `ChatTemplate.tokens(for:addGenerationPrompt:using:)`):
    /// a user cannot open a system turn by typing `<|im_start|>system`.
    public func promptTokens(for messages: [ChatMessage]) throws(GGUFError) -> [TokenID] {
        try chatTemplate().tokens(for: messages, addGenerationPrompt: true, using: tokenizer)
    }

    /// Token ids of raw `text`, as llama.cpp tokenises a prompt: special
    /// tokens written in it are recognised (`<|im_start|>` is the token),
    /// and BOS is added when the vocabulary asks for it. The raw path is for
    /// the operator's own text, who may lay out turns by hand; text from
    /// anyone else goes through `promptTokens(for: [ChatMessage])`.
    public func promptTokens(for text: String) -> [TokenID] {
        tokenizer.encode(text, parseSpecial: true, addSpecial: true)
    }

    /// Generates a reply to `messages`.
    public func generate(
        messages: [ChatMessage], options: GenerationOptions = .init(),
        onToken: (GeneratedToken) -> Bool = { _ in true }
    ) throws(GGUFError) -> GenerationResult {
        try generate(tokens: promptTokens(for: messages), options: options, onToken: onToken)
    }

    /// Continues raw `text`, special tokens in it recognised (see
    /// `promptTokens(for: String)`).
    public func generate(
        text: String, options: GenerationOptions = .init(),
        onToken: (GeneratedToken) -> Bool = { _ in true }
    ) throws(GGUFError) -> GenerationResult {
        try generate(tokens: promptTokens(for: text), options: options, onToken: onToken)
    }

    /// Continues the prompt `tokens`, calling `onToken` with each generated
    /// token as it comes (return false to stop); the texts it is given add
    /// up to the result's `text`, except for a character the last token
    /// leaves unfinished (U+FFFD at the end of `text`). Throws for an empty
    /// prompt, a token outside the vocabulary, or a prompt that does not
    /// fit in the context.
    public func generate(
        tokens prompt: [TokenID], options: GenerationOptions = .init(),
        onToken: (GeneratedToken) -> Bool = { _ in true }
    ) throws(GGUFError) -> GenerationResult {
        guard !prompt.isEmpty else { throw GGUFError.emptyPrompt(source: model.file.source) }
        var timings = GenerationTimings()

        // Reuse the cached prefix; the last prompt token is always run
        // again, since its logits are what the first sample needs.
        let start = clock.now
        let common = try context.evaluate(prompt: prompt)
        timings.promptSeconds = (clock.now - start).inSeconds
        timings.promptTokens = prompt.count - common
        timings.reusedPromptTokens = common

        var sampler = Sampler(parameters: options.sampling)
        var decoder = StreamingTokenDecoder(vocabulary: tokenizer.vocabulary)
        var history = prompt
        var output: [TokenID] = []
        var text = ""
        var finish = GenerationResult.FinishReason.maxTokens
        let generationStart = clock.now
        while output.count < options.maxTokens {
            let token = context.withLogits { sampler.sample(logits: $0, history: history) }
            output.append(token)
            history.append(token)
            let piece = decoder.append(token)
            text += piece
            let isEnd = options.stopsAtEndOfGeneration && tokenizer.vocabulary.endOfGeneration.contains(token)
            if !onToken(GeneratedToken(id: token, text: piece, index: output.count - 1)) {
                finish = .stopped
                break
            }
            if isEnd {
                finish = .endOfGeneration
                break
            }
            guard output.count < options.maxTokens else { break }
            guard context.tokens.count < context.configuration.contextLength else {
                finish = .contextFull
                break
            }
            try context.evaluate([token])
        }
        // A character left unfinished by the last token: U+FFFD, in `text` only.
        text += decoder.finish()
        timings.generatedTokens = output.count
        timings.generationSeconds = (clock.now - generationStart).inSeconds
        return GenerationResult(tokens: output, text: text, finishReason: finish, timings: timings)
    }
}
