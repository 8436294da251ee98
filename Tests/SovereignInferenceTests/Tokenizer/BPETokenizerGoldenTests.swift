import Foundation
import Testing
@testable import SovereignInference

/// Our tokenizer against llama.cpp's ids (Tests/Fixtures/llama-cpp-goldens.json).
@Suite struct BPETokenizerGoldenTests {
    @Test func goldensComeFromThePinnedModel() throws {
        let goldens = try LlamaCppGoldens.load()
        #expect(goldens.model.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        #expect(goldens.llamaCpp.commit.hasPrefix("0c1e570"))
        #expect(goldens.tokenize.count >= 50)
        #expect(goldens.greedy.filter { $0.messages != nil }.count >= 8)
    }

    @Test func idsMatchLlamaCppOnEveryGoldenString() throws {
        let goldens = try LlamaCppGoldens.load()
        let tokenizer = try TestModel.loadTokenizer()
        for golden in goldens.tokenize {
            let ids = tokenizer.encode(golden.text, parseSpecial: golden.parseSpecial)
            #expect(ids == golden.ids, "text \(golden.text.debugDescription) parseSpecial=\(golden.parseSpecial)")
        }
    }

    @Test func promptIdsMatchLlamaCppForEveryGreedyAndTeacherText() throws {
        let goldens = try LlamaCppGoldens.load()
        let tokenizer = try TestModel.loadTokenizer()
        for golden in goldens.greedy {
            #expect(tokenizer.encode(golden.prompt, parseSpecial: true) == golden.promptIds, "prompt \(golden.prompt.debugDescription)")
        }
        for golden in goldens.teacherForced {
            #expect(tokenizer.encode(golden.text, parseSpecial: true) == golden.ids, "text \(golden.text.debugDescription)")
        }
    }

    @Test func knownFactsFromTheReference() throws {
        let tokenizer = try TestModel.loadTokenizer()
        #expect(tokenizer.encode("Hello, world! The quick brown fox.", parseSpecial: true)
            == [19556, 28, 905, 17, 378, 2365, 6354, 16438, 30])
        #expect(tokenizer.encode("The capital of France is", parseSpecial: true) == [504, 3575, 282, 4649, 314])
        // Greedy continuation " Paris.\n\nThe" from REFERENCE.md decodes as expected.
        #expect(tokenizer.decode([7042, 30, 198, 198, 504]) == " Paris.\n\nThe")
        #expect(tokenizer.vocabulary.bos == 1)
        #expect(tokenizer.vocabulary.eos == 2)
        #expect(tokenizer.vocabulary.unknown == 0)
        #expect(tokenizer.vocabulary.padding == 2)
        #expect(!tokenizer.vocabulary.addsBOS)
        #expect(tokenizer.vocabulary.texts[1] == "<|im_start|>")
        #expect(tokenizer.preTokenizer == .smollm)
    }

    /// Every codepoint's class (letter, number, whitespace, other) as
    /// llama.cpp's tables give it: the pre-tokenizer's splits depend on it.
    @Test func codepointClassesMatchLlamaCppOnAllCodepoints() throws {
        let runs = try LlamaCppGoldens.load().codepointClasses
        let expected: [String: CodepointClass] = ["L": .letter, "N": .number, "W": .whitespace, "O": .other]
        #expect(runs.first?.start == 0)
        var mismatches: [String] = []
        for (index, run) in runs.enumerated() {
            let end = index + 1 < runs.count ? runs[index + 1].start : 0x110000
            let cls = try #require(expected[run.cls])
            for scalar in run.start ..< end where CodepointClass.of(scalar) != cls {
                mismatches.append("U+" + String(scalar, radix: 16, uppercase: true))
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) codepoints differ, first: \(mismatches.prefix(10))")
    }

    @Test func decodingRestoresEveryGoldenString() throws {
        let goldens = try LlamaCppGoldens.load()
        let tokenizer = try TestModel.loadTokenizer()
        for golden in goldens.tokenize {
            let decoded = tokenizer.decode(golden.ids)
            if golden.text.hasBytesWithoutTokens {
                #expect(decoded != golden.text && decoded.contains("\u{FFFD}"))
            } else {
                #expect(decoded == golden.text, "text \(golden.text.debugDescription)")
            }
        }
        #expect(goldens.tokenize.contains { $0.text.hasBytesWithoutTokens })
    }
}
