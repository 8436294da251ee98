/// A token id, as llama.cpp's `llama_token`.
public typealias TokenID = Int32

/// The vocabulary of a GGUF model: each token's text, kind and the bytes it
/// decodes to, and the special ids, read from the `tokenizer.ggml.*` keys.
public struct TokenVocabulary: Sendable {
    /// Token texts as stored (byte-level encoded for gpt2 vocabularies).
    public let texts: [String]
    public let kinds: [TokenKind]
    /// `tokenizer.ggml.bos_token_id`, etc., when present.
    public let bos: TokenID?
    public let eos: TokenID?
    public let unknown: TokenID?
    public let padding: TokenID?
    /// `tokenizer.ggml.add_bos_token` / `add_eos_token` (false when absent).
    public let addsBOS: Bool
    public let addsEOS: Bool
    /// Tokens that end a generation: EOS, and (as llama.cpp decides it)
    /// every token named like an end-of-turn marker (`<|im_end|>`,
    /// `<|endoftext|>`, `<|eot_id|>`, …).
    public let endOfGeneration: Set<TokenID>

    /// The bytes a token decodes to when special tokens are rendered.
    let pieces: [[UInt8]]
    /// For each token, its raw bytes when its text is byte-level text.
    let rawBytes: [[UInt8]?]

    public var count: Int { texts.count }

    static let maxTokens = 1 << 22

    init(metadata: GGUFMetadata) throws(GGUFError) {
        let source = metadata.source
        var texts = try metadata.stringArray("tokenizer.ggml.tokens")
        guard !texts.isEmpty, texts.count <= Self.maxTokens else {
            throw GGUFError.invalidVocabulary(source: source, reason: "\(texts.count) tokens (expected 1 to \(Self.maxTokens))")
        }
        // llama.cpp names empty entries so that every text is distinct-ish and non-empty.
        for index in texts.indices where texts[index].isEmpty { texts[index] = "[EMPTY_\(index)]" }

        var kinds = [TokenKind](repeating: .normal, count: texts.count)
        if metadata.contains("tokenizer.ggml.token_type") {
            let types = try metadata.integerArray("tokenizer.ggml.token_type")
            guard types.count == texts.count else {
                throw GGUFError.invalidVocabulary(
                    source: source, reason: "\(types.count) token types for \(texts.count) tokens")
            }
            kinds = types.map(TokenKind.init(ggmlTokenType:))
        }

        func specialID(_ key: String) throws(GGUFError) -> TokenID? {
            guard metadata.contains(key) else { return nil }
            let id = try metadata.integer(key)
            // Some converters write -1 for "none"; llama.cpp treats it so.
            if id == -1 || id == Int64(UInt32.max) { return nil }
            guard id >= 0, id < Int64(texts.count) else {
                throw GGUFError.invalidVocabulary(
                    source: source, reason: "\(key) is \(id), outside the \(texts.count) tokens")
            }
            return TokenID(id)
        }
        bos = try specialID("tokenizer.ggml.bos_token_id")
        eos = try specialID("tokenizer.ggml.eos_token_id")
        unknown = try specialID("tokenizer.ggml.unknown_token_id")
        padding = try specialID("tokenizer.ggml.padding_token_id")
        addsBOS = metadata.contains("tokenizer.ggml.add_bos_token") ? try metadata.bool("tokenizer.ggml.add_bos_token") : false
        addsEOS = metadata.contains("tokenizer.ggml.add_eos_token") ? try metadata.bool("tokenizer.ggml.add_eos_token") : false
        if addsBOS && bos == nil {
            throw GGUFError.invalidVocabulary(source: source, reason: "add_bos_token is set but there is no bos_token_id")
        }
        if addsEOS && eos == nil {
            throw GGUFError.invalidVocabulary(source: source, reason: "add_eos_token is set but there is no eos_token_id")
        }

        let rawBytes = texts.map(ByteLevelEncoding.bytes(of:))
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(texts.count)
        for (index, kind) in kinds.enumerated() {
            switch kind {
            case .normal:
                pieces.append(rawBytes[index] ?? Self.decodeWithUnknownBytes(texts[index]))
            case .byte:
                pieces.append(Array((rawBytes[index] ?? []).prefix(1)))
            case .control, .unknown, .userDefined:
                pieces.append(Array(texts[index].utf8))
            case .unused, .undefined:
                pieces.append([])
            }
        }

        var endOfGeneration = Set(texts.indices.filter { Self.endOfGenerationNames.contains(texts[$0]) }.map { TokenID($0) })
        if let eos { endOfGeneration.insert(eos) }
        self.endOfGeneration = endOfGeneration

        self.texts = texts
        self.kinds = kinds
        self.rawBytes = rawBytes
        self.pieces = pieces
    }

    /// Token texts llama.cpp treats as end of generation (llama-vocab.cpp,
    /// `special_eog_ids`), whatever the token's type.
    static let endOfGenerationNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    ]

    /// The bytes token `id` stands for. Control and unknown tokens render
    /// their text only when `special` is true (as llama.cpp's token_to_piece).
    public func piece(for id: TokenID, special: Bool = true) -> [UInt8] {
        guard id >= 0, Int(id) < pieces.count else { return [] }
        if !special && kinds[Int(id)].rendersOnlyWhenSpecial { return [] }
        return pieces[Int(id)]
    }

    /// llama.cpp's rendering of a normal token whose text has scalars outside
    /// the byte-level alphabet: mapped scalars become their byte, others
    /// `[UNK_BYTE_0x<utf8 hex><whole text>]`.
    private static func decodeWithUnknownBytes(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for scalar in text.unicodeScalars {
            if let byte = ByteLevelEncoding.byte(for: scalar.value) {
                out.append(byte)
            } else {
                let hex = String(scalar).utf8.map { byte -> String in
                    let digits = String(byte, radix: 16)
                    return digits.count == 1 ? "0" + digits : digits
                }.joined()
                out += Array("[UNK_BYTE_0x\(hex)\(text)]".utf8)
            }
        }
        return out
    }
}
