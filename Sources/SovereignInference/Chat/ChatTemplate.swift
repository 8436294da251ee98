/// Renders a conversation into the prompt text a model was trained on.
///
/// GGUF files carry their template as Jinja source (`tokenizer.chat_template`).
/// We do not run Jinja: we recognise the template's family and render that
/// family in Swift, which is exact for the family and refuses the rest with
/// a clear error rather than guessing.
///
/// ChatML (SmolLM2, Qwen, …): each turn is `<|im_start|>{role}\n{content}<|im_end|>\n`,
/// and the generation prompt `<|im_start|>assistant\n`. Templates that insert
/// a default system turn when the first message is not a system message
/// (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging
/// Face") have that text read from the template itself.
///
/// Only the template's own markup becomes special tokens. `tokens(for:using:)`
/// emits `<|im_start|>` and `<|im_end|>` as ids and tokenises everything a
/// message brings (role and content, of every role) with special-token
/// parsing off, so a message that contains `<|im_end|>` cannot close its
/// turn and open a system turn of its own: the text stays text.
public struct ChatTemplate: Sendable, Equatable {
    public enum Family: String, Sendable {
        case chatML
    }

    public let family: Family
    /// The system turn inserted before a conversation that starts with
    /// another role, when the template has one.
    public let defaultSystemMessage: String?

    static let metadataKey = "tokenizer.chat_template"
    static let start = "<|im_start|>"
    static let end = "<|im_end|>"

    /// Recognises the template stored in `file`.
    public init(file: GGUFFile) throws(GGUFError) {
        guard file.metadata.contains(Self.metadataKey) else {
            throw GGUFError.unsupportedChatTemplate(source: file.source, reason: "\(Self.metadataKey) is missing")
        }
        try self.init(template: try file.metadata.string(Self.metadataKey), source: file.source)
    }

    /// Recognises `template` (Jinja source); `source` names it in errors.
    public init(template: String, source: String) throws(GGUFError) {
        guard template.contains(Self.start), template.contains(Self.end) else {
            let preview = String(template.prefix(60))
            throw GGUFError.unsupportedChatTemplate(
                source: source,
                reason: "no <|im_start|>/<|im_end|> markers, so not ChatML (template begins \"\(preview)\")")
        }
        family = .chatML
        defaultSystemMessage = Self.defaultSystem(in: template)
    }

    /// A ChatML template with the given default system message (or none).
    public init(chatMLWithDefaultSystemMessage message: String?) {
        family = .chatML
        defaultSystemMessage = message
    }

    /// The prompt text for `messages`, ending with the assistant's turn
    /// opener when `addGenerationPrompt` is true: what Jinja renders, for
    /// display and comparison. Do not tokenise it with special-token
    /// parsing: markup inside a message would become real markup. The
    /// model's input is `tokens(for:addGenerationPrompt:using:)`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var text = ""
        for turn in turns(messages) { text += Self.start + turn.role + "\n" + turn.content + Self.end + "\n" }
        if addGenerationPrompt { text += Self.start + "assistant\n" }
        return text
    }

    /// The prompt's token ids: the same layout as `render`, with the markup
    /// as special tokens and each message's role and content as ordinary
    /// text (`parseSpecial: false`), whatever it contains.
    ///
    /// For messages without special-token text this is exactly what
    /// tokenising `render`'s text with special tokens parsed gives (and so
    /// llama.cpp's ids): that tokenisation also cuts the text at each
    /// marker and runs BPE on the pieces between, which are the pieces here.
    /// `role + "\n" + content` stays one piece because a word can span the
    /// newline and the content's first characters (`"user\n  hi"` splits
    /// as `user`, `\n `, ` hi`).
    ///
    /// Throws `.invalidVocabulary` when the vocabulary has no special token
    /// for a marker: ChatML with its markers as plain text is not ChatML.
    public func tokens(
        for messages: [ChatMessage], addGenerationPrompt: Bool = true, using tokenizer: BPETokenizer
    ) throws(GGUFError) -> [TokenID] {
        let start = try Self.marker(Self.start, in: tokenizer)
        let end = try Self.marker(Self.end, in: tokenizer)
        let newline = tokenizer.encode("\n", parseSpecial: false)
        var ids: [TokenID] = []
        for turn in turns(messages) {
            ids.append(start)
            ids += tokenizer.encode(turn.role + "\n" + turn.content, parseSpecial: false)
            ids.append(end)
            ids += newline
        }
        if addGenerationPrompt {
            ids.append(start)
            ids += tokenizer.encode("assistant\n", parseSpecial: false)
        }
        return ids
    }

    /// The turns the template renders: the default system turn when it
    /// applies, then the messages.
    private func turns(_ messages: [ChatMessage]) -> [ChatMessage] {
        if let defaultSystemMessage, let first = messages.first, first.role != "system" {
            return [.system(defaultSystemMessage)] + messages
        }
        return messages
    }

    private static func marker(_ text: String, in tokenizer: BPETokenizer) throws(GGUFError) -> TokenID {
        guard let id = tokenizer.specialToken(text) else {
            throw GGUFError.invalidVocabulary(
                source: tokenizer.source, reason: "no special token \(text), which the ChatML template needs")
        }
        return id
    }

    /// The literal system turn a template inserts when the first message is
    /// not a system message: the text between `<|im_start|>system` + newline
    /// and `<|im_end|>` in a string literal, guarded by a test of
    /// `messages[0]['role'] != 'system'`. Jinja string escapes `\n`, `\'`,
    /// `\"` and `\\` are undone.
    static func defaultSystem(in template: String) -> String? {
        let guards = ["messages[0]['role'] != 'system'", "messages[0][\"role\"] != \"system\"",
                      "messages[0].role != 'system'", "messages[0].role != \"system\""]
        guard guards.contains(where: template.contains) else { return nil }
        for opener in [start + "system\n", start + "system\\n"] {
            guard let open = template.firstRange(of: opener),
                  let close = template[open.upperBound...].firstRange(of: end)
            else { continue }
            return unescapeJinja(String(template[open.upperBound ..< close.lowerBound]))
        }
        return nil
    }

    private static func unescapeJinja(_ literal: String) -> String {
        var out = ""
        var escaping = false
        for character in literal {
            if escaping {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        if escaping { out.append("\\") }
        return out
    }
}
