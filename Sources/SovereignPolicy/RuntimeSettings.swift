import SovereignFormats

/// `runtime.json`: how the steering runtime decodes, retrieves and steers.
public struct RuntimeSettings: Sendable, Equatable {
    public static let schema = "sovereign.runtime/v1"

    public struct Decoding: Sendable, Equatable {
        public let temperature: Double
        public let topK: Int?
        public let topP: Double?
        public let seed: Int64
        public let maxTokens: Int

        public init(temperature: Double = 0, topK: Int? = nil, topP: Double? = nil, seed: Int64 = 0, maxTokens: Int) {
            self.temperature = temperature
            self.topK = topK
            self.topP = topP
            self.seed = seed
            self.maxTokens = maxTokens
        }
    }

    /// How a violating answer is corrected.
    public enum Correction: String, Sendable, CaseIterable {
        /// Regenerate the whole answer with the blip in the context and the
        /// violating tokens banned where they began.
        case restart
        /// Roll back to the last sentence boundary before the violation,
        /// inject the blip there as a short system turn, ban the violating
        /// continuation and go on.
        case resume
    }

    /// Okapi BM25 over the reference passages.
    public struct Retrieval: Sendable, Equatable {
        /// Passages injected per request (0: none).
        public let k: Int
        /// Term-frequency saturation.
        public let k1: Double
        /// Length normalisation (0: none, 1: full).
        public let b: Double

        public init(k: Int, k1: Double = 1.5, b: Double = 0.75) {
            self.k = k
            self.k1 = k1
            self.b = b
        }
    }

    public let decoding: Decoding
    /// Generations per request before refusing (the first try included).
    public let maxAttempts: Int
    public let correction: Correction
    /// What the appliance says when it refuses.
    public let refusal: String
    /// The system persona, first in every system prompt.
    public let persona: String
    public let retrieval: Retrieval
    /// Prompts longer than this (UTF-8 bytes) are turned away unread.
    public let maxPromptBytes: Int

    public static let defaultMaxPromptBytes = 8192

    /// Reads `runtime.json` strictly (unknown fields are errors).
    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        self = try JSONObjectReader.read(parsing: bytes, source: source, mode: .strict) { root throws(FormatsError) in
            let schema = try root.string("schema")
            guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
            let decoding = try root.object("decoding") { decoding throws(FormatsError) in
                let temperature = try decoding.optionalNumber("temperature") ?? 0
                guard temperature >= 0, temperature <= 5 else { throw decoding.error("temperature", "must be between 0 and 5, got \(temperature)") }
                let topK = try decoding.optionalInteger("topK", in: 1...100_000).map(Int.init)
                let topP = try decoding.optionalNumber("topP")
                if let topP, !(topP > 0 && topP <= 1) { throw decoding.error("topP", "must be in (0, 1], got \(topP)") }
                return Decoding(temperature: temperature, topK: topK, topP: topP,
                                seed: try decoding.optionalInteger("seed") ?? 0,
                                maxTokens: Int(try decoding.integer("maxTokens", in: 1...32_768)))
            }
            let maxAttempts = Int(try root.integer("maxAttempts", in: 1...16))
            let correctionName = try root.string("correction")
            guard let correction = Correction(rawValue: correctionName) else {
                throw root.error("correction", "'\(correctionName)' is not one of \(Correction.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let refusal = try root.nonEmptyString("refusal")
            guard refusal.utf8.count <= 1024 else { throw root.error("refusal", "is \(refusal.utf8.count) bytes, the limit is 1024") }
            let persona = try root.nonEmptyString("persona")
            guard persona.utf8.count <= 4096 else { throw root.error("persona", "is \(persona.utf8.count) bytes, the limit is 4096") }
            let retrieval = try root.object("retrieval") { retrieval throws(FormatsError) in
                let k = Int(try retrieval.integer("k", in: 0...64))
                let k1 = try retrieval.optionalNumber("k1") ?? 1.5
                guard k1 >= 0, k1 <= 10 else { throw retrieval.error("k1", "must be between 0 and 10, got \(k1)") }
                let b = try retrieval.optionalNumber("b") ?? 0.75
                guard b >= 0, b <= 1 else { throw retrieval.error("b", "must be between 0 and 1, got \(b)") }
                return Retrieval(k: k, k1: k1, b: b)
            }
            let maxPromptBytes = Int(try root.optionalInteger("maxPromptBytes", in: 1...1_048_576) ?? Int64(Self.defaultMaxPromptBytes))
            return RuntimeSettings(decoding: decoding, maxAttempts: maxAttempts, correction: correction, refusal: refusal,
                                   persona: persona, retrieval: retrieval, maxPromptBytes: maxPromptBytes)
        }
    }

    public init(decoding: Decoding, maxAttempts: Int, correction: Correction, refusal: String, persona: String,
                retrieval: Retrieval, maxPromptBytes: Int) {
        self.decoding = decoding
        self.maxAttempts = maxAttempts
        self.correction = correction
        self.refusal = refusal
        self.persona = persona
        self.retrieval = retrieval
        self.maxPromptBytes = maxPromptBytes
    }
}
