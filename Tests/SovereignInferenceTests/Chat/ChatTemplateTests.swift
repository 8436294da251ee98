import Testing
@testable import SovereignInference

@Suite struct ChatTemplateTests {
    static let smolLMSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

    @Test func detectsChatMLAndTheDefaultSystemMessageOfTheRealModel() throws {
        let template = try ChatTemplate(file: TestModel.loadFile())
        #expect(template.family == .chatML)
        #expect(template.defaultSystemMessage == Self.smolLMSystem)
    }

    /// The prompts make-goldens rendered with Jinja2 from the model's own
    /// template, as Hugging Face does.
    @Test func rendersExactlyAsJinjaDoesForEveryGoldenConversation() throws {
        let goldens = try LlamaCppGoldens.load()
        let template = try ChatTemplate(template: goldens.chatTemplate, source: "goldens")
        var rendered = 0
        for golden in goldens.greedy {
            guard let messages = golden.messages else { continue }
            let chat = messages.map { ChatMessage(role: $0.role, content: $0.content) }
            #expect(template.render(chat) == golden.prompt)
            rendered += 1
        }
        #expect(rendered >= 8)
    }

    @Test func rendersTheReferenceLayout() {
        let template = ChatTemplate(chatMLWithDefaultSystemMessage: Self.smolLMSystem)
        #expect(template.render([.user("What is the capital of France?")]) ==
            "<|im_start|>system\n\(Self.smolLMSystem)<|im_end|>\n"
            + "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
        #expect(template.render([.system("Be brief."), .user("Hi")], addGenerationPrompt: false) ==
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n")
        // No messages: the template's loop never runs, so no default system turn.
        #expect(template.render([]) == "<|im_start|>assistant\n")
        #expect(template.render([.assistant("Hello")], addGenerationPrompt: false) ==
            "<|im_start|>system\n\(Self.smolLMSystem)<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n")
    }

    @Test func readsDefaultsWrittenWithJinjaEscapes() throws {
        let escaped = "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are Qwen, a \\'helpful\\' assistant.<|im_end|>\\n' }}{% endif %}"
            + "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n'}}{% endfor %}"
        let template = try ChatTemplate(template: escaped, source: "qwen")
        #expect(template.defaultSystemMessage == "You are Qwen, a 'helpful' assistant.")

        let plain = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        #expect(try ChatTemplate(template: plain, source: "plain").defaultSystemMessage == nil)
        #expect(try ChatTemplate(template: plain, source: "plain").render([.user("x")], addGenerationPrompt: false)
            == "<|im_start|>user\nx<|im_end|>\n")
    }

    @Test func refusesOtherFamiliesWithAClearError() throws {
        let llama3 = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}"
        #expect(throws: GGUFError.unsupportedChatTemplate(
            source: "llama3.gguf",
            reason: "no <|im_start|>/<|im_end|> markers, so not ChatML (template begins \"\(llama3.prefix(60))\")")) {
            try ChatTemplate(template: llama3, source: "llama3.gguf")
        }
        do {
            _ = try ChatTemplate(template: "", source: "empty.gguf")
            Issue.record("an empty template was accepted")
        } catch {
            #expect(error.description.hasPrefix("empty.gguf: unsupported chat template family: "))
        }
        var builder = GGUFBuilder.tinyLlama()
        builder.metadata.removeAll { $0.0 == "tokenizer.chat_template" }
        let file = try GGUFFile(bytes: builder.build(), source: "tiny.gguf")
        #expect(throws: GGUFError.unsupportedChatTemplate(source: "tiny.gguf", reason: "tokenizer.chat_template is missing")) {
            try ChatTemplate(file: file)
        }
    }
}
