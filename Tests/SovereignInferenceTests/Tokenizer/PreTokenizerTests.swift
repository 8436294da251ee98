import Testing
@testable import SovereignInference

/// Word splits of the hand-written pre-tokenizers, case by case. (The
/// goldens check the resulting token ids against llama.cpp; these pin down
/// the regex semantics the splits implement.)
@Suite struct PreTokenizerTests {
    func words(_ text: String, _ pre: PreTokenizer = .smollm) -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        var start = 0
        return pre.wordEnds(scalars).map { end in
            defer { start = end }
            var view = String.UnicodeScalarView()
            for value in scalars[start ..< end] { view.append(Unicode.Scalar(value)!) }
            return String(view)
        }
    }

    @Test func lettersTakeOneLeadingSpace() {
        #expect(words("Hello world") == ["Hello", " world"])
        #expect(words("Hello, world!") == ["Hello", ",", " world", "!"])
        #expect(words("caf\u{E9} na\u{EF}ve") == ["caf\u{E9}", " na\u{EF}ve"])
    }

    @Test func contractionsAreLowerCaseOnly() {
        #expect(words("don't") == ["don", "'t"])
        #expect(words("they're we've you'll") == ["they", "'re", " we", "'ve", " you", "'ll"])
        #expect(words("DON'T") == ["DON", "'", "T"])
        #expect(words("'") == ["'"])
    }

    @Test func whitespaceRunsLeaveTheirLastSpaceToTheNextWord() {
        #expect(words("a  b") == ["a", " ", " b"])
        #expect(words("a   b") == ["a", "  ", " b"])
        #expect(words("end   ") == ["end", "   "])
        #expect(words("a\n\nb") == ["a", "\n", "\n", "b"])
        #expect(words("x \n\n y") == ["x", " \n\n", " y"])
        #expect(words("\t") == ["\t"])
    }

    @Test func smollmIsolatesEveryDigitButGpt2KeepsNumbersTogether() {
        #expect(words("abc 123") == ["abc", " ", "1", "2", "3"])
        #expect(words("abc 123", .gpt2) == ["abc", " 123"])
        #expect(words("  12  ") == ["  ", "1", "2", "  "])
        #expect(words("\u{0663}\u{0664}") == ["\u{0663}", "\u{0664}"])  // Arabic-Indic digits are \p{N}
        #expect(words("x\u{B2}") == ["x", "\u{B2}"])                     // superscript two is \p{N}
    }

    @Test func cjkIsLettersAndEmojiIsOther() {
        #expect(words("\u{4F60}\u{597D}\u{4E16}\u{754C}") == ["\u{4F60}\u{597D}\u{4E16}\u{754C}"])
        #expect(words("Hi \u{1F44B}\u{1F30D}!") == ["Hi", " \u{1F44B}\u{1F30D}!"])
        // A combining accent is a mark, not a letter: it splits from its base.
        #expect(words("e\u{301}t\u{E9}") == ["e", "\u{301}", "t\u{E9}"])
    }

    @Test func classesFollowUnicode15Point1() {
        #expect(CodepointClass.of(0x1FAE8) == .other)   // U+1FAE8 (15.0) is a symbol
        #expect(CodepointClass.of(0x31350) == .letter)  // CJK Extension H (15.0)
        #expect(CodepointClass.of(0x2EBF0) == .letter)  // CJK Extension I (15.1)
        #expect(CodepointClass.of(0x1C89) == .other)    // Cyrillic TJE (16.0): unassigned in 15.1
        #expect(CodepointClass.of(0x3000) == .whitespace)
        #expect(CodepointClass.of(0x85) == .whitespace)
        #expect(CodepointClass.of(0x1C) == .other)      // not White_Space, though Python's isspace says so
        #expect(CodepointClass.of(0x110000) == .other)
    }
}
