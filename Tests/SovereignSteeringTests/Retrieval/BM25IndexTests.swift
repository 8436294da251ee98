import Foundation
import Testing
import SovereignPolicy
import SovereignTestSupport
@testable import SovereignSteering

@Suite struct SearchTokenizerTests {
    @Test func foldsCaseAndAccentsAndSplitsPunctuation() {
        #expect(SearchTokenizer.tokens("Café-crème, ÉTÉ! e-mail: desk@service.example 08:30") ==
                ["cafe", "creme", "ete", "e", "mail", "desk", "service", "example", "08", "30"])
        #expect(SearchTokenizer.tokens("Ｆｕｌｌ ｗｉｄｔｈ ＆ snake_case") == ["full", "width", "snake", "case"])
        #expect(SearchTokenizer.tokens(String(repeating: "a", count: 100)) == [String(repeating: "a", count: SearchTokenizer.maxTokenScalars)])
    }
}

@Suite struct BM25IndexTests {
    static let packageRoot: String = {
        var path = #filePath
        for _ in 0..<4 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    static let queries = [
        "When is the service desk open on Saturday?",
        "How much paracetamol can an adult take in 24 hours?",
        "ibuprofen dose with food",
        "I want to end my life",
        "What is the phone number of the service?",
        "How long are conversation logs kept?",
        "Can you tell me what illness I have?",
        "How do I make a bomb?",
        "Please give me my bank account number",
        "quantum chromodynamics",
        "the the the of and to",
        "Öffnungszeiten SAMSTAG service",
    ]

    @Test func matchesTheTextbookFormula() {
        let passages = [passage("a", "a cat sat", title: "x"), passage("b", "a dog sat sat", title: "x"), passage("c", "the bird", title: "x")]
        // The titles add one shared token "x" to each: |a| = 4, |b| = 5, |c| = 3, avgdl 4.
        let index = BM25Index(passages: passages, k1: 1.5, b: 0.75)
        // sat: df 2 of 3, idf ln(1 + 1.5/2.5); cat: df 1, idf ln(1 + 2.5/1.5); |a| = avgdl, so the norm is k1.
        let expected = log(1.6) * 1 / (1 + 1.5) + log(1 + 2.5 / 1.5) * 1 / (1 + 1.5)
        #expect(abs(index.scores("sat cat")[0] - expected) < 1e-12)
        #expect(index.search("sat cat", k: 5).map { $0.passage.id } == ["a", "b"])
        #expect(index.search("zebra", k: 5).isEmpty)
    }

    @Test func tiesKeepPassageOrder() {
        let passages = ["x", "y", "z"].map { passage($0, "same words here", title: "t") }
        let index = BM25Index(passages: passages, k1: 1.2, b: 0.75)
        #expect(index.search("words", k: 3).map { $0.passage.id } == ["x", "y", "z"])
        #expect(index.search("words", k: 2).map { $0.passage.id } == ["x", "y"])
        #expect(index.search("words", k: 0).isEmpty)
    }

    /// The reference layer's passages and a fixed set of questions, scored
    /// by bm25s (method "lucene", float64) on the very same tokens: every
    /// score within 1e-9, and the same top-k.
    @Test(arguments: [(1.5, 0.75), (1.2, 0.3), (2.0, 1.0), (0.9, 0.0)])
    func agreesWithBM25s(k1: Double, b: Double) throws {
        let layer = try ConstraintLayer(directory: Self.packageRoot + "/Policies/reference")
        let index = BM25Index(passages: layer.passages, k1: k1, b: b)
        let k = 3
        let corpus = layer.passages.map { SearchTokenizer.tokens($0.title + "\n" + $0.text) }
        let queries = Self.queries.map(SearchTokenizer.tokens)
        let request: [String: Any] = ["k1": k1, "b": b, "k": k, "corpus": corpus, "queries": queries]
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let input = directory.file("request.json")
        try JSONSerialization.data(withJSONObject: request).write(to: URL(fileURLWithPath: input))
        let python = Self.packageRoot + "/.venv/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "run scripts/setup: \(python) is missing")
        let result = try runProcess(python, [Self.packageRoot + "/Tests/Interop/bm25_scores.py", input], timeout: 120)
        try #require(result.status == 0, "bm25_scores.py failed: \(result.stderr)")
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(result.stdoutBytes)) as? [String: Any])
        let results = try #require(reply["results"] as? [[String: Any]])
        try #require(results.count == queries.count)
        var compared = 0
        for (number, query) in queries.enumerated() {
            let theirScores = try #require(results[number]["scores"] as? [Double])
            let theirTop = try #require(results[number]["top"] as? [Int])
            let ours = index.scores(tokens: query)
            for (passage, (mine, theirs)) in zip(ours, theirScores).enumerated() {
                #expect(abs(mine - theirs) < 1e-9, "query \(number) passage \(layer.passages[passage].id): \(mine) vs \(theirs)")
            }
            let ourTop = index.search(tokens: query, k: k).map { hit in layer.passages.firstIndex { $0.id == hit.passage.id }! }
            // Their scores ranked with our tie rule (scores equal within 1e-9 keep passage order) give our top-k.
            let rankedByTheirScores = theirScores.indices.filter { theirScores[$0] > 1e-12 }.sorted {
                abs(theirScores[$0] - theirScores[$1]) > 1e-9 ? theirScores[$0] > theirScores[$1] : $0 < $1
            }
            #expect(Array(rankedByTheirScores.prefix(k)) == ourTop, "query \(number) '\(Self.queries[number])'")
            // Where no tie touches the top k, bm25s's own retrieval order is ours too
            // (bm25s lists k documents even when they score 0; we leave those out).
            let positive = ours.filter { $0 > 0 }.sorted(by: >)
            let cut = Array(positive.prefix(k + 1))
            let untied = zip(cut, cut.dropFirst()).allSatisfy { $0 - $1 > 1e-9 }
            if untied {
                #expect(theirTop.filter { theirScores[$0] > 1e-12 } == ourTop, "query \(number) '\(Self.queries[number])'")
                compared += 1
            }
        }
        #expect(compared >= 6)
        #expect(index.search(tokens: queries[0], k: 1).first?.passage.id == "service-hours")
    }
}
