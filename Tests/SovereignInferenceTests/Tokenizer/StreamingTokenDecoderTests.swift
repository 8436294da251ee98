import Testing
@testable import SovereignInference

@Suite struct StreamingTokenDecoderTests {
    @Test func holdsBackOnlyUnfinishedCharacters() {
        let cases: [([UInt8], Int)] = [
            ([], 0),
            (Array("abc".utf8), 3),
            ([0x61, 0xF0, 0x9F], 1),          // "a" + first half of an emoji
            ([0xF0, 0x9F, 0x98, 0x80], 4),    // a whole emoji
            ([0xE4, 0xBD], 0),                // two thirds of 你
            ([0xC3], 0),
            ([0x80, 0x80], 2),                // stray continuation bytes: let through
            ([0x61, 0xFF], 2),                // never valid: let through
            ([0xF0, 0x9F, 0x98, 0x80, 0x80], 5),
        ]
        for (bytes, expected) in cases {
            #expect(StreamingTokenDecoder.completePrefixLength(bytes) == expected, "\(bytes)")
        }
    }

    /// Streams every golden string token by token: no chunk may hold a
    /// replacement character, and the chunks must add up to the text.
    @Test func streamsGoldenTextsWithoutSplittingCharacters() throws {
        let tokenizer = try TestModel.loadTokenizer()
        let goldens = try LlamaCppGoldens.load()
        var heldBack = 0
        for golden in goldens.tokenize where golden.parseSpecial && !golden.text.hasBytesWithoutTokens {
            var decoder = StreamingTokenDecoder(vocabulary: tokenizer.vocabulary, special: true)
            var text = ""
            for id in golden.ids {
                let chunk = decoder.append(id)
                #expect(!chunk.unicodeScalars.contains("\u{FFFD}") || golden.text.contains("\u{FFFD}"),
                        "\(golden.text.debugDescription)")
                if decoder.pendingByteCount > 0 { heldBack += 1 }
                text += chunk
            }
            #expect(decoder.pendingByteCount == 0)
            text += decoder.finish()
            #expect(text == golden.text)
        }
        // The emoji and CJK strings do split characters across tokens.
        #expect(heldBack > 5)
    }

    @Test func finishingMidCharacterYieldsAReplacementCharacter() throws {
        let tokenizer = try TestModel.loadTokenizer()
        let ids = tokenizer.encode("\u{1F468}\u{200D}\u{1F469}", parseSpecial: false)
        var decoder = StreamingTokenDecoder(vocabulary: tokenizer.vocabulary)
        var text = ""
        for id in ids.dropLast() { text += decoder.append(id) }
        let pending = decoder.pendingByteCount
        text += decoder.finish()
        if pending > 0 { #expect(text.hasSuffix("\u{FFFD}")) }
        #expect(decoder.pendingByteCount == 0)
        #expect(ids.count > 2)
    }

    @Test func controlTokensAreSilentUnlessSpecial() throws {
        let tokenizer = try TestModel.loadTokenizer()
        var plain = StreamingTokenDecoder(vocabulary: tokenizer.vocabulary)
        var special = StreamingTokenDecoder(vocabulary: tokenizer.vocabulary, special: true)
        #expect(plain.append(2) == "")
        #expect(special.append(2) == "<|im_end|>")
    }
}
