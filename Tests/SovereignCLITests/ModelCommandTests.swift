import Foundation
import Testing
import SovereignTestSupport

@Suite struct ModelCommandTests {
    /// The reference model, fetched (and its pin checked) by scripts/fetch-model.
    static func model() throws -> String {
        let fetch = try runProcess(CLI.packageRoot + "/scripts/fetch-model", [])
        #expect(fetch.status == 0, "scripts/fetch-model failed: \(fetch.stderr)")
        return fetch.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func infoAndTokenizeAgreeWithTheReference() throws {
        let model = try Self.model()
        let w = try Workspace(keys: [])
        defer { w.remove() }
        let info = try jsonObject(try w.run(["model", "info", model, "--json"]).stdout)
        #expect(info["sha256"] as? String == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
        // llama.cpp's llama-tokenize gives these ids (REFERENCE.md).
        let tokens = try w.run(["model", "tokenize", model, "--text", "Hello, world! The quick brown fox.", "--json"])
        #expect(tokens.status == 0, "\(tokens.stderr)")
        let fields = try jsonObject(tokens.stdout)
        #expect(fields["ids"] as? [Int] == [19556, 28, 905, 17, 378, 2365, 6354, 16438, 30], "\(tokens.stdout)")
        #expect((fields["pieces"] as? [String])?.joined() == "Hello, world! The quick brown fox.")
        expectFailure(try w.run(["model", "info", "absent.gguf"]), "sovereign: absent.gguf: open: No such file or directory")
    }

    /// Greedy generation is deterministic: the same text with 1 and 2 threads,
    /// and it continues "The capital of France is" with " Paris." as llama.cpp does.
    @Test func generationIsDeterministicAcrossThreads() throws {
        let model = try Self.model()
        let w = try Workspace(keys: [])
        defer { w.remove() }
        var outputs: [String] = []
        for threads in ["1", "2"] {
            let result = try w.run(["model", "generate", model, "--prompt", "The capital of France is", "--max-tokens", "8", "--threads", threads])
            #expect(result.status == 0, "\(result.stderr)")
            outputs.append(result.stdout)
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0].hasPrefix(" Paris."), "\(outputs[0])")
    }

    /// The portable kernels give the same tokens as the fastest ones, and
    /// the JSON says which ran; an unknown choice is refused.
    @Test func portableKernelsGiveTheSameTokens() throws {
        let model = try Self.model()
        let w = try Workspace(keys: [])
        defer { w.remove() }
        var runs: [[String: Any]] = []
        for kernels in ["automatic", "portable"] {
            let result = try w.run(["model", "generate", model, "--prompt", "Write a haiku about the sea.", "--chat",
                                    "--max-tokens", "12", "--kernels", kernels, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            runs.append(try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]))
        }
        #expect(runs[0]["tokens"] as? [Int] == runs[1]["tokens"] as? [Int])
        #expect((runs[0]["tokens"] as? [Int])?.count == 12)
        #expect(runs[1]["kernels"] as? String == "portable")
        let refused = try w.run(["model", "generate", model, "--prompt", "x", "--kernels", "fast"])
        #expect(refused.status == 64)
        #expect(refused.stderr.hasPrefix("Error: The value 'fast' is invalid for '--kernels'\n"))
    }
}
