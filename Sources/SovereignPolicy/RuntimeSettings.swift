import SovereignFormats

/// `runtime.json`: how the steering runtime decodes and steers.
public struct RuntimeSettings: Sendable, Equatable {
    public static let schema = "sovereign.runtime/v1"

    public struct Decoding: Sendable, Equatable {
        public let temperature: Double
        public let topK: Int?
        public let topP: Double?
        public let seed: Int64
        public let maxTokens: Int
    }

    public let decoding: Decoding
    /// Generations per request before refusing (the first try included).
    public let maxAttempts: Int
    /// Passages of the reference documents injected per request.
    public let retrievedPassages: Int
    /// What the appliance says when it refuses.
    public let refusal: String

    /// Reads `runtime.json` strictly (unknown fields are errors).
    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        self = try JSONObjectReader.read(parsing: bytes, source: source, mode: .strict) { root throws(FormatsError) in
            let schema = try root.string("schema")
            guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
            let decoding = try root.object("decoding") { decoding throws(FormatsError) in
                let temperature = try decoding.optionalNumber("temperature") ?? 0
                guard temperature >= 0, temperature <= 5 else { throw decoding.error("temperature", "must be between 0 and 5") }
                let topK = try decoding.optionalInteger("topK", in: 1...100_000).map(Int.init)
                let topP = try decoding.optionalNumber("topP")
                if let topP, !(topP > 0 && topP <= 1) { throw decoding.error("topP", "must be in (0, 1]") }
                return Decoding(temperature: temperature, topK: topK, topP: topP,
                                seed: try decoding.optionalInteger("seed") ?? 0,
                                maxTokens: Int(try decoding.integer("maxTokens", in: 1...32_768)))
            }
            return RuntimeSettings(decoding: decoding,
                                   maxAttempts: Int(try root.integer("maxAttempts", in: 1...16)),
                                   retrievedPassages: Int(try root.integer("retrievedPassages", in: 0...64)),
                                   refusal: try root.nonEmptyString("refusal"))
        }
    }

    private init(decoding: Decoding, maxAttempts: Int, retrievedPassages: Int, refusal: String) {
        self.decoding = decoding
        self.maxAttempts = maxAttempts
        self.retrievedPassages = retrievedPassages
        self.refusal = refusal
    }
}
