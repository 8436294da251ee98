import SovereignTestSupport
import Foundation

/// Tests/Fixtures/llama-cpp-goldens.json, written by scripts/make-goldens
/// from llama.cpp built from source. Never edited by hand.
struct LlamaCppGoldens: Decodable {
    struct Source: Decodable {
        var commit: String
        var source: String
    }
    struct Model: Decodable {
        var file: String
        var sha256: String
    }
    struct TokenizeCase: Decodable {
        var text: String
        var parseSpecial: Bool
        var ids: [Int32]
    }
    struct Message: Decodable {
        var role: String
        var content: String
    }
    /// One of the top-5 tokens at a step: `[id, log-probability]` in the file.
    struct Candidate: Decodable {
        var token: Int
        var logProbability: Double

        init(from decoder: Decoder) throws {
            var container = try decoder.unkeyedContainer()
            token = try container.decode(Int.self)
            logProbability = try container.decode(Double.self)
        }
    }
    struct Greedy: Decodable {
        var messages: [Message]?
        var prompt: String
        var promptIds: [Int32]
        var tokens: [Int32]
        var gaps: [Double]
        /// Top-5 candidates at each step.
        var top: [[Candidate]]
    }
    struct TeacherForced: Decodable {
        var text: String
        var ids: [Int32]
        var top1: [Int32]
        /// Top-5 candidates after each token.
        var top: [[Candidate]]
    }
    /// A run of codepoints from `start` up to the next run, of one class.
    struct ClassRun: Decodable {
        var start: UInt32
        var cls: String

        init(from decoder: Decoder) throws {
            var container = try decoder.unkeyedContainer()
            start = try container.decode(UInt32.self)
            cls = try container.decode(String.self)
        }
    }

    var llamaCpp: Source
    var model: Model
    var chatTemplate: String
    var tokenize: [TokenizeCase]
    var greedy: [Greedy]
    var teacherForced: [TeacherForced]
    var codepointClasses: [ClassRun]

    static let path = Repository.path("Tests/Fixtures/llama-cpp-goldens.json")

    static let loaded: Result<LlamaCppGoldens, TestSetupError> = {
        do {
            let data = try Data(contentsOf: path)
            return .success(try JSONDecoder().decode(LlamaCppGoldens.self, from: data))
        } catch {
            return .failure(TestSetupError(description: "cannot read \(path.path) (regenerate with scripts/make-goldens): \(error)"))
        }
    }()

    static func load() throws -> LlamaCppGoldens { try loaded.get() }
}

extension String {
    /// True when the text has a scalar in planes 4–11, whose UTF-8 lead
    /// byte (F1 or F2) has no token in SmolLM2's vocabulary: llama.cpp and
    /// we both drop that byte, so such text cannot be decoded back.
    var hasBytesWithoutTokens: Bool {
        unicodeScalars.contains { (0x40000 ... 0xBFFFF).contains($0.value) }
    }
}
