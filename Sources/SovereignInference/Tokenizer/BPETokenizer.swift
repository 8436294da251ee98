/// GPT-2 style byte-level BPE built from a GGUF vocabulary and merges, giving
/// the token ids llama.cpp gives (`llama_tokenize` with add_special=false
/// unless asked): special tokens are cut out first, the rest is split into
/// words by the model's pre-tokenizer, and each word's bytes are merged by
/// rank with a priority queue (best rank first, leftmost among equals).
///
/// Whether text may turn into special tokens is the caller's decision on
/// every call (`parseSpecial` has no default): text a person other than the
/// operator wrote (chat message content) must never open a turn of its own.
///
/// Decoding turns ids back into bytes; see `StreamingTokenDecoder` for text
/// that arrives one token at a time.
public struct BPETokenizer: Sendable {
    /// The file the vocabulary came from; errors about it name this.
    public let source: String
    public let vocabulary: TokenVocabulary
    public let preTokenizer: PreTokenizer
    private let mergeTable: BPEMergeTable
    private let splitter: SpecialTokenSplitter
    /// Token whose text is exactly one ASCII character, by that character:
    /// llama.cpp's fallback for a BPE result that is not in the vocabulary.
    private let singleCharacterTokens: [TokenID?]

    /// Builds the tokenizer from `file`'s `tokenizer.ggml.*` metadata.
    public init(file: GGUFFile) throws(GGUFError) {
        try self.init(metadata: file.metadata)
    }

    public init(metadata: GGUFMetadata) throws(GGUFError) {
        let source = metadata.source
        let model = try metadata.string("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw GGUFError.invalidVocabulary(source: source, reason: "tokenizer model '\(model)' is not supported (expected 'gpt2')")
        }
        let preName = metadata.contains("tokenizer.ggml.pre") ? try metadata.string("tokenizer.ggml.pre") : "gpt2"
        guard let preTokenizer = PreTokenizer(rawValue: preName) else {
            throw GGUFError.invalidVocabulary(
                source: source,
                reason: "pre-tokenizer '\(preName)' is not supported (expected one of: "
                    + PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        let vocabulary = try TokenVocabulary(metadata: metadata)
        let merges = try metadata.stringArray("tokenizer.ggml.merges")

        var singles = [TokenID?](repeating: nil, count: 128)
        for (id, text) in vocabulary.texts.enumerated() {
            let utf8 = text.utf8
            if utf8.count == 1, let byte = utf8.first, byte < 128 { singles[Int(byte)] = TokenID(id) }
        }

        self.source = source
        self.vocabulary = vocabulary
        self.preTokenizer = preTokenizer
        self.mergeTable = BPEMergeTable(tokenBytes: vocabulary.rawBytes, merges: merges)
        self.splitter = SpecialTokenSplitter(vocabulary: vocabulary)
        self.singleCharacterTokens = singles
    }

    // MARK: Encoding

    /// Token ids for `text`.
    /// - Parameters:
    ///   - parseSpecial: true: control tokens written in the text, such as
    ///     `<|im_start|>`, become those tokens (llama-tokenize's default; for
    ///     the operator's own prompt). False: they are ordinary text, split
    ///     by BPE like any other (`llama_tokenize(..., parse_special=false)`);
    ///     use it for anything someone else wrote. User-defined tokens are cut
    ///     out either way, as llama.cpp does.
    ///   - addSpecial: add BOS/EOS when the vocabulary asks for them.
    public func encode(_ text: String, parseSpecial: Bool, addSpecial: Bool = false) -> [TokenID] {
        let bytes = Array(text.utf8)
        var output: [TokenID] = []
        output.reserveCapacity(bytes.count / 3 + 2)
        if addSpecial, vocabulary.addsBOS, let bos = vocabulary.bos { output.append(bos) }
        var scratch = Scratch()
        for fragment in splitter.split(bytes, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                output.append(id)
            case .text(let range):
                encodeText(bytes[range], into: &output, scratch: &scratch)
            }
        }
        if addSpecial, vocabulary.addsEOS, let eos = vocabulary.eos { output.append(eos) }
        return output
    }

    /// The token that special-token parsing turns `text` into (a control,
    /// user-defined or unknown token whose text is exactly `text`), or nil.
    /// Templates use it to emit their own markup as ids, never as text.
    public func specialToken(_ text: String) -> TokenID? {
        splitter.token(forText: Array(text.utf8))
    }

    /// Reusable buffers for the merge loop, so words cost no allocations.
    private struct Scratch {
        var symbols: [Int32] = []
        var previous: [Int32] = []
        var next: [Int32] = []
        var queue = BPEMergeQueue()
        var scalars: [UInt32] = []
        var scalarStarts: [Int] = []
    }

    private func encodeText(_ bytes: ArraySlice<UInt8>, into output: inout [TokenID], scratch: inout Scratch) {
        // Scalars and where each starts in the bytes (the input is valid UTF-8).
        scratch.scalars.removeAll(keepingCapacity: true)
        scratch.scalarStarts.removeAll(keepingCapacity: true)
        var offset = bytes.startIndex
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                scratch.scalars.append(scalar.value)
                scratch.scalarStarts.append(offset)
                offset += UTF8.width(scalar)
            case .emptyInput:
                break loop
            case .error:
                // Unreachable for Swift strings; llama.cpp substitutes U+FFFD.
                scratch.scalars.append(0xFFFD)
                scratch.scalarStarts.append(offset)
                offset += 1
            }
        }
        scratch.scalarStarts.append(bytes.endIndex)

        var wordStart = 0
        for wordEnd in preTokenizer.wordEnds(scratch.scalars) {
            let byteRange = scratch.scalarStarts[wordStart] ..< scratch.scalarStarts[wordEnd]
            encodeWord(bytes[byteRange], into: &output, scratch: &scratch)
            wordStart = wordEnd
        }
    }

    /// BPE over one word's bytes.
    private func encodeWord(_ word: ArraySlice<UInt8>, into output: inout [TokenID], scratch: inout Scratch) {
        let count = word.count
        guard count > 0 else { return }
        scratch.symbols.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.next.removeAll(keepingCapacity: true)
        scratch.queue.removeAll()
        for (index, byte) in word.enumerated() {
            scratch.symbols.append(mergeTable.byteSymbols[Int(byte)])
            scratch.previous.append(Int32(index - 1))
            scratch.next.append(index + 1 < count ? Int32(index + 1) : -1)
        }
        for index in 1 ..< max(count, 1) { enqueue(Int32(index - 1), Int32(index), &scratch) }

        while let candidate = scratch.queue.pop() {
            let left = Int(candidate.left)
            let right = Int(candidate.right)
            // Stale when either side has changed (merged or absorbed) since queued.
            guard scratch.symbols[left] == candidate.leftSymbol,
                  scratch.symbols[right] == candidate.rightSymbol,
                  scratch.next[left] == candidate.right
            else { continue }
            scratch.symbols[left] = candidate.result
            scratch.symbols[right] = -1
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = candidate.left }
            if scratch.previous[left] >= 0 { enqueue(scratch.previous[left], candidate.left, &scratch) }
            if after >= 0 { enqueue(candidate.left, after, &scratch) }
        }

        var index: Int32 = 0
        while index >= 0 {
            emit(scratch.symbols[Int(index)], into: &output)
            index = scratch.next[Int(index)]
        }
    }

    @inline(__always)  // hot: once per adjacent pair and per merge
    private func enqueue(_ left: Int32, _ right: Int32, _ scratch: inout Scratch) {
        let leftSymbol = scratch.symbols[Int(left)]
        let rightSymbol = scratch.symbols[Int(right)]
        guard let merge = mergeTable.merge(leftSymbol, rightSymbol) else { return }
        scratch.queue.push(.init(
            rank: merge.rank, left: left, right: right,
            leftSymbol: leftSymbol, rightSymbol: rightSymbol, result: merge.result))
    }

    /// A finished symbol: its token, or (when the merges built a string the
    /// vocabulary lacks) llama.cpp's fallback of one token per byte of the
    /// byte-level text that is itself a one-character token.
    private func emit(_ symbol: Int32, into output: inout [TokenID]) {
        if symbol < mergeTable.vocabularySize {
            output.append(symbol)
            return
        }
        let bytes = mergeTable.extraSymbolBytes[Int(symbol - mergeTable.vocabularySize)]
        for byte in ByteLevelEncoding.encode(bytes).utf8 where byte < 128 {
            if let token = singleCharacterTokens[Int(byte)] { output.append(token) }
        }
    }

    // MARK: Decoding

    /// The bytes `tokens` stand for. With `special` false, control tokens
    /// (`<|im_end|>`, …) render as nothing.
    public func decodeBytes(_ tokens: [TokenID], special: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = []
        for token in tokens { bytes += vocabulary.piece(for: token, special: special) }
        return bytes
    }

    /// The text `tokens` stand for; invalid UTF-8 (a character cut by the
    /// end of the list) becomes U+FFFD.
    public func decode(_ tokens: [TokenID], special: Bool = true) -> String {
        String(decoding: decodeBytes(tokens, special: special), as: UTF8.self)
    }
}
