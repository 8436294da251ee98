import Foundation
import SovereignPolicy

/// Okapi BM25 over the reference passages (title and text), for choosing
/// the passages injected into the system prompt.
///
/// Scoring is the Lucene variant (as `bm25s`' default `method="lucene"`
/// computes it), whose idf never goes negative, which matters for a corpus
/// of a few dozen passages where a common word is in more than half:
///
///     idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
///     score(q, d) = Σ_{t ∈ q} idf(t) · tf(t, d) / (tf(t, d) + k1 · (1 - b + b · |d| / avgdl))
///
/// summed over the query's tokens as they come (a repeated query token
/// counts twice, as in bm25s and rank-bm25). Tokens: `SearchTokenizer`.
/// Results are ordered by score, then by passage order in the layer, so
/// equal scores always rank the same way.
public struct BM25Index: Sendable {
    public let passages: [Passage]
    public let k1: Double
    public let b: Double

    /// Per passage: token → count.
    private let termCounts: [[String: Int]]
    private let lengths: [Int]
    private let averageLength: Double
    private let documentFrequency: [String: Int]

    public init(passages: [Passage], k1: Double, b: Double) {
        self.passages = passages
        self.k1 = k1
        self.b = b
        var termCounts: [[String: Int]] = []
        var lengths: [Int] = []
        var documentFrequency: [String: Int] = [:]
        for passage in passages {
            let tokens = SearchTokenizer.tokens(passage.title + "\n" + passage.text)
            var counts: [String: Int] = [:]
            for token in tokens { counts[token, default: 0] += 1 }
            for token in counts.keys { documentFrequency[token, default: 0] += 1 }
            termCounts.append(counts)
            lengths.append(tokens.count)
        }
        self.termCounts = termCounts
        self.lengths = lengths
        self.documentFrequency = documentFrequency
        let total = lengths.reduce(0, +)
        averageLength = passages.isEmpty || total == 0 ? 1 : Double(total) / Double(passages.count)
    }

    /// The index the layer's `runtime.json` asks for, over all its passages.
    public init(layer: ConstraintLayer) {
        self.init(passages: layer.passages, k1: layer.runtime.retrieval.k1, b: layer.runtime.retrieval.b)
    }

    public func idf(_ token: String) -> Double {
        let n = Double(passages.count), df = Double(documentFrequency[token] ?? 0)
        return log(1 + (n - df + 0.5) / (df + 0.5))
    }

    /// The BM25 score of every passage for `query`, in passage order.
    public func scores(_ query: String) -> [Double] {
        scores(tokens: SearchTokenizer.tokens(query))
    }

    /// Scores for a query already split into tokens (tests compare these
    /// with another implementation fed the same tokens).
    public func scores(tokens: [String]) -> [Double] {
        var scores = Array(repeating: 0.0, count: passages.count)
        for token in tokens {
            guard documentFrequency[token] != nil else { continue }
            let weight = idf(token)
            for index in passages.indices {
                guard let count = termCounts[index][token] else { continue }
                let tf = Double(count)
                let norm = k1 * (1 - b + b * Double(lengths[index]) / averageLength)
                scores[index] += weight * tf / (tf + norm)
            }
        }
        return scores
    }

    /// The `k` best passages with their scores: highest score first, ties
    /// in passage order; passages scoring 0 (no query token) are left out.
    public func search(_ query: String, k: Int) -> [(passage: Passage, score: Double)] {
        search(tokens: SearchTokenizer.tokens(query), k: k)
    }

    public func search(tokens: [String], k: Int) -> [(passage: Passage, score: Double)] {
        let scores = scores(tokens: tokens)
        let ranked = scores.indices.filter { scores[$0] > 0 }.sorted {
            scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1
        }
        return ranked.prefix(max(0, k)).map { (passages[$0], scores[$0]) }
    }
}

/// Splits text into search tokens: folded like every rule's text (case,
/// accents, compatibility forms; `ScalarFolding`), then cut at every
/// scalar that is not a letter, digit or mark, so punctuation splits words
/// (`e-mail` → `e`, `mail`; `08:30` → `08`, `30`). No stemming, no stop
/// words: the same tokens an independent implementation can be fed.
public enum SearchTokenizer {
    /// Tokens longer than this are cut (a stranger's 1 MB "word" costs nothing).
    public static let maxTokenScalars = 64

    public static func tokens(_ text: String) -> [String] {
        let folded = TextNormalizer.normalize(text).folded.scalars
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        func close() {
            if !current.isEmpty { tokens.append(String(current)) }
            current = String.UnicodeScalarView()
        }
        for scalar in folded {
            if scalar.isWordScalar && scalar != "_" {
                if current.count < maxTokenScalars { current.append(scalar) }
            } else {
                close()
            }
        }
        close()
        return tokens
    }
}
