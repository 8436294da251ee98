import Testing
@testable import SovereignSteering

@Suite struct TextNormalizerTests {
    func matching(_ text: String) -> String { TextNormalizer.normalize(text).matching.string }
    func folded(_ text: String) -> String { TextNormalizer.normalize(text).folded.string }

    @Test(arguments: [
        ("Hello WORLD", "hello world"),
        ("Straße", "strasse"),                        // full case folding
        ("CAFÉ café cafe\u{301}", "cafe cafe cafe"),  // precomposed and combining accents
        ("Ｆｕｌｌ－ｗｉｄｔｈ　１２３", "full-width 123"), // width forms, ideographic space
        ("ﬁne ﬀ", "fine ff"),                          // ligatures
        ("Ørsted Łódź Æsir", "orsted lodz aesir"),      // letters with strokes
        ("İstanbul ΣΟΦΟΣ", "istanbul σοφοσ"),            // dotted I, final sigma
        ("b\u{AD}o\u{200B}m\u{200D}b", "bomb"),          // soft hyphen, zero-width space and joiner
        ("5 µg", "5 μg"),                               // micro sign to Greek mu
        ("①②", "12"),
        ("a \t\n  b", "a b"),
        ("self-harm self – harm self—harm", "self-harm self harm self-harm"),
        ("  leading and trailing  ", "leading and trailing"),
        ("4111 1111-1111 1111", "4111111111111111"),
        ("4111  1111", "4111 1111"),                    // two spaces: not one group
        ("08:30 – 17:00", "08:30 17:00"),
        ("１２３４ ５６７８", "12345678"),
    ])
    func matchingForm(input: String, expected: String) {
        #expect(matching(input) == expected)
    }

    @Test func foldedFormKeepsSeparators() {
        #expect(folded("4111 1111-1111 1111") == "4111 1111-1111 1111")
        #expect(folded("GB82 West") == "gb82 west")
        #expect(folded("a\u{2003}b") == "a b")  // NFKD maps the em space to a space
    }

    @Test func mapsEveryScalarBackToItsBytes() {
        let text = "Ａé ß 4111 1111"
        let normalized = TextNormalizer.normalize(text)
        let bytes = Array(text.utf8)
        func original(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        // "Ａ" (3 bytes) → "a"; "é" (2 bytes) → "e"; "ß" → "ss", both from ß.
        #expect(normalized.matching.string == "ae ss 41111111")
        let ranges = normalized.matching.sourceRanges
        #expect(original(ranges[0]) == "Ａ")
        #expect(original(ranges[1]) == "é")
        #expect(ranges[3] == ranges[4] && original(ranges[3]) == "ß")
        // The joined digits span the space between the groups.
        #expect(original(normalized.matching.sourceRange(of: 6..<14)) == "4111 1111")
        #expect(normalized.matching.sourceRange(of: 6..<14) == 9..<18)
    }

    @Test func combiningMarksVanishFromTheMap() {
        let text = "xe\u{301}\u{302}y"
        let normalized = TextNormalizer.normalize(text)
        #expect(normalized.folded.string == "xey")
        #expect(normalized.folded.sourceRanges == [0..<1, 1..<2, 6..<7])
    }

    /// Every split of the input, even inside a UTF-8 sequence or between a
    /// letter and its accent, gives the same forms and maps.
    @Test func chunkingDoesNotChangeTheResult() {
        let text = "Ｃａｆé\u{301} 4111 1111-1111 1111, ﬁn ß—x  \u{1F600} \u{200B}z"
        let whole = TextNormalizer.normalize(text)
        let bytes = Array(text.utf8)
        for split in 0...bytes.count {
            for second in split...bytes.count where (second - split) % 3 == 0 || second == bytes.count {
                var normalizer = TextNormalizer()
                normalizer.append(utf8: Array(bytes[..<split]))
                normalizer.append(utf8: Array(bytes[split..<second]))
                normalizer.append(utf8: Array(bytes[second...]))
                normalizer.finish()
                #expect(normalizer.matching == whole.matching, "split at \(split), \(second)")
                #expect(normalizer.folded == whole.folded, "split at \(split), \(second)")
            }
        }
    }

    @Test func holdsBackOnlyWhatCanStillChange() {
        var normalizer = TextNormalizer()
        normalizer.append("cafe")
        // Folding is final at once: an accent that may follow folds to nothing.
        #expect(normalizer.folded.string == "cafe")
        #expect(normalizer.pendingSourceOffset == 4)
        normalizer.append("\u{301} 12")
        #expect(normalizer.matching.string == "cafe 12")
        normalizer.append(" ")
        #expect(normalizer.matching.string == "cafe 12")
        #expect(normalizer.pendingSourceOffset == 9)  // the space may join "12" to what follows
        normalizer.append("34")
        #expect(normalizer.matching.string == "cafe 1234")
        normalizer.append(utf8: [0xE2, 0x82])         // the first two bytes of "€"
        #expect(normalizer.pendingSourceOffset == 12)
        normalizer.append(utf8: [0xAC])
        #expect(normalizer.folded.string == "cafe 12 34€")
        normalizer.finish()
        #expect(normalizer.pendingSourceOffset == normalizer.sourceLength)
    }

    @Test func invalidAndTruncatedUTF8BecomeReplacementCharacters() {
        var normalizer = TextNormalizer()
        normalizer.append(utf8: [0x61, 0xFF, 0x62, 0xE2, 0x82])  // a, invalid, b, truncated €
        #expect(normalizer.folded.string == "a\u{FFFD}b")
        normalizer.finish()
        #expect(normalizer.folded.string == "a\u{FFFD}b\u{FFFD}")
        #expect(normalizer.folded.sourceRanges == [0..<1, 1..<2, 2..<3, 3..<5])
        #expect(normalizer.sourceScalarCount == 4)
    }

    @Test func longCombiningRunsAreCutIntoBoundedSegments() {
        let zalgo = "a" + String(repeating: "\u{301}", count: 1000) + "b"
        let normalized = TextNormalizer.normalize(zalgo)
        #expect(normalized.folded.string == "ab")
    }
}
