import SovereignFormats

/// A rule of the constraint layer: what it checks, the passage it encodes,
/// and the one-line correction ("blip") sent when it is broken.
public struct Rule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The answer must not contain any of `patterns`.
        case forbid
        /// The answer must contain at least one of `patterns`.
        case require
        /// Refuse before generating when the prompt contains any of `patterns`.
        case refuseWhen
        /// The answer must be at most `maxCharacters` long.
        case maxLength
        /// The answer must cite a retrieved passage id.
        case mustCite
    }

    public let id: String
    public let kind: Kind
    /// The passage id this rule derives from.
    public let derivedFrom: String
    public let blip: String
    /// Case-insensitive phrases (forbid, require, refuseWhen).
    public let patterns: [String]
    public let maxCharacters: Int?
}

/// `rules.json`: `{"schema": "sovereign.rules/v1", "rules": [...]}`.
public struct RuleSet: Sendable, Equatable {
    public static let schema = "sovereign.rules/v1"
    public let rules: [Rule]

    /// Reads `rules.json` strictly: a field this version does not know is
    /// an error naming its path (`unknown field 'rules[3].maxChars'`).
    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        let rules = try JSONObjectReader.read(parsing: bytes, source: source, mode: .strict) { root throws(FormatsError) in
            let schema = try root.string("schema")
            guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
            return try root.objects("rules") { entry throws(FormatsError) in try Rule(reading: &entry) }
        }
        if let duplicate = ReferenceDocument.firstDuplicate(rules.map(\.id)) {
            throw FormatsError(source: source, reason: "rule id '\(duplicate)' is used twice")
        }
        self.rules = rules
    }
}

extension Rule {
    /// One entry of `rules.json`; the fields a kind does not use are unknown.
    init(reading entry: inout JSONObjectReader) throws(FormatsError) {
        id = try entry.nonEmptyString("id")
        let kindName = try entry.string("kind")
        guard let kind = Kind(rawValue: kindName) else {
            throw entry.error("kind", "'\(kindName)' is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.kind = kind
        derivedFrom = try entry.nonEmptyString("derivedFrom")
        blip = try entry.nonEmptyString("blip")
        switch kind {
        case .forbid, .require, .refuseWhen:
            patterns = try entry.optionalStrings("patterns") ?? []
            guard !patterns.isEmpty, patterns.allSatisfy({ !$0.isEmpty }) else {
                throw entry.error("patterns", "a '\(kind.rawValue)' rule needs at least one non-empty pattern")
            }
            maxCharacters = nil
        case .maxLength:
            patterns = []
            maxCharacters = Int(try entry.integer("maxCharacters", in: 1...1_000_000))
        case .mustCite:
            patterns = []
            maxCharacters = nil
        }
    }
}
