import Foundation
import Testing
@testable import SovereignInference

@Suite struct BPETokenizerTests {
    func tinyTokenizer(_ edit: (inout GGUFBuilder) -> Void = { _ in }) throws -> BPETokenizer {
        var builder = GGUFBuilder.tinyLlama()
        edit(&builder)
        return try BPETokenizer(file: GGUFFile(bytes: builder.build(), source: "tiny.gguf"))
    }

    @Test func mergesApplyByRank() throws {
        let tokenizer = try tinyTokenizer()
        let texts = tokenizer.vocabulary.texts
        let ids = tokenizer.encode("hello world", parseSpecial: false)
        #expect(ids.map { texts[Int($0)] } == ["hello", "Ġworld"])
        // "hel" has no merge for "he"+"l" and "l l" needs a second l: "he", "l".
        #expect(tokenizer.encode("hel", parseSpecial: false).map { texts[Int($0)] } == ["he", "l"])
        #expect(tokenizer.decode(ids) == "hello world")
    }

    @Test func specialTokensAreCutOutOnlyWhenParsed() throws {
        let tokenizer = try TestModel.loadTokenizer()
        #expect(tokenizer.encode("<|im_start|>user", parseSpecial: true) == [1, 4093])
        let plain = tokenizer.encode("<|im_start|>user", parseSpecial: false)
        #expect(!plain.contains(1))
        #expect(tokenizer.decode(plain) == "<|im_start|>user")
        // Decoding renders control tokens only when asked.
        #expect(tokenizer.decode([1, 4093, 2]) == "<|im_start|>user<|im_end|>")
        #expect(tokenizer.decode([1, 4093, 2], special: false) == "user")
        // No BOS is added for this model (add_bos_token is false).
        #expect(tokenizer.encode("hi", parseSpecial: true, addSpecial: true) == tokenizer.encode("hi", parseSpecial: true))
    }

    /// Whether markup in text becomes special tokens is the caller's
    /// choice: as text, `<|im_end|>` is its bytes' tokens (id 3 + byte in
    /// the test vocabulary), and merges still apply around it.
    @Test func specialTokenParsingIsTheCallersChoice() throws {
        let tokenizer = try tinyTokenizer()
        #expect(tokenizer.encode("<|im_end|>hello", parseSpecial: true) == [2, 262])
        #expect(tokenizer.encode("<|im_end|>hello", parseSpecial: false) == "<|im_end|>".utf8.map { TokenID($0) + 3 } + [262])
        #expect(tokenizer.specialToken("<|im_end|>") == 2)
        #expect(tokenizer.specialToken("<|im_end|") == nil)
        #expect(tokenizer.specialToken("hello") == nil)  // a normal token is not special
        #expect(tokenizer.source == "tiny.gguf")
    }

    /// decode(encode(s)) == s for arbitrary Unicode text, seeded. Planes
    /// 4–11 are left out: their UTF-8 lead bytes F1/F2 have no token in this
    /// vocabulary, so llama.cpp drops those bytes too (a golden pins that).
    @Test func randomTextRoundTrips() throws {
        let tokenizer = try TestModel.loadTokenizer()
        var random = SplitMix64(seed: 42)
        let pools: [ClosedRange<UInt32>] = [
            0x20 ... 0x7E, 0x09 ... 0x0D, 0xA0 ... 0x24F, 0x370 ... 0x3FF, 0x400 ... 0x4FF, 0x590 ... 0x6FF,
            0x900 ... 0x97F, 0x3000 ... 0x30FF, 0x4E00 ... 0x9FFF, 0xAC00 ... 0xD7A3, 0x1F300 ... 0x1FAFF,
            0x2000 ... 0x206F, 0xE000 ... 0xE0FF, 0x10000 ... 0x3FFFF, 0xC0000 ... 0x10FFFF,
        ]
        for _ in 0 ..< 300 {
            var scalars = String.UnicodeScalarView()
            for _ in 0 ..< Int.random(in: 0 ... 40, using: &random) {
                let pool = pools.randomElement(using: &random)!
                if let scalar = Unicode.Scalar(UInt32.random(in: pool, using: &random)) { scalars.append(scalar) }
            }
            let text = String(scalars)
            #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)) == text, "\(text.debugDescription)")
        }
    }

    @Test func tokenizingSeveralKilobytesTakesMilliseconds() throws {
        let tokenizer = try TestModel.loadTokenizer()
        let goldens = try LlamaCppGoldens.load()
        var text = ""
        while text.utf8.count < 8_192 {
            for golden in goldens.tokenize { text += golden.text + " " }
        }
        _ = tokenizer.encode(text, parseSpecial: true)  // warm up
        let clock = ContinuousClock()
        var ids: [TokenID] = []
        let elapsed = clock.measure { ids = tokenizer.encode(text, parseSpecial: true) }
        #expect(ids.count > 1_000)
        // Generous for an unoptimised debug build; release is ~10× faster.
        #expect(elapsed < .milliseconds(500), "encoding \(text.utf8.count) bytes took \(elapsed)")
    }

    @Test func rejectsVocabulariesItCannotRun() throws {
        #expect(throws: GGUFError.invalidVocabulary(source: "tiny.gguf", reason: "tokenizer model 'llama' is not supported (expected 'gpt2')")) {
            try tinyTokenizer { $0.metadata = $0.metadata.map { $0.0 == "tokenizer.ggml.model" ? ($0.0, .string("llama")) : $0 } }
        }
        #expect(throws: GGUFError.invalidVocabulary(source: "tiny.gguf", reason: "pre-tokenizer 'llama3' is not supported (expected one of: smollm, gpt2)")) {
            try tinyTokenizer { $0.metadata = $0.metadata.map { $0.0 == "tokenizer.ggml.pre" ? ($0.0, .string("llama3")) : $0 } }
        }
        #expect(throws: GGUFError.invalidVocabulary(source: "tiny.gguf", reason: "tokenizer.ggml.eos_token_id is 9999, outside the 268 tokens")) {
            try tinyTokenizer { $0.metadata = $0.metadata.map { $0.0 == "tokenizer.ggml.eos_token_id" ? ($0.0, .uint32(9999)) : $0 } }
        }
        #expect(throws: GGUFError.invalidVocabulary(source: "tiny.gguf", reason: "3 token types for 268 tokens")) {
            try tinyTokenizer { $0.metadata = $0.metadata.map { $0.0 == "tokenizer.ggml.token_type" ? ($0.0, .array(.int32([1, 1, 1]))) : $0 } }
        }
        #expect(throws: GGUFError.missingKey(source: "tiny.gguf", key: "tokenizer.ggml.merges")) {
            try tinyTokenizer { $0.metadata.removeAll { $0.0 == "tokenizer.ggml.merges" } }
        }
    }
}
