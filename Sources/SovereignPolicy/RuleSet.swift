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

    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        var root = try StrictObjectReader(parsing: bytes, source: source)
        let schema = try root.string("schema")
        guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
        var rules: [Rule] = []
        for var entry in try root.objects("rules") {
            let id = try entry.nonEmptyString("id")
            let kindName = try entry.string("kind")
            guard let kind = Rule.Kind(rawValue: kindName) else {
                throw entry.error("kind", "'\(kindName)' is not one of \(Rule.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let derivedFrom = try entry.nonEmptyString("derivedFrom")
            let blip = try entry.nonEmptyString("blip")
            var patterns: [String] = []
            var maxCharacters: Int?
            switch kind {
            case .forbid, .require, .refuseWhen:
                patterns = try entry.optionalStrings("patterns") ?? []
                guard !patterns.isEmpty, patterns.allSatisfy({ !$0.isEmpty }) else {
                    throw entry.error("patterns", "a '\(kind.rawValue)' rule needs at least one non-empty pattern")
                }
            case .maxLength:
                maxCharacters = Int(try entry.integer("maxCharacters", in: 1...1_000_000))
            case .mustCite:
                break
            }
            try entry.finish()
            rules.append(Rule(id: id, kind: kind, derivedFrom: derivedFrom, blip: blip, patterns: patterns, maxCharacters: maxCharacters))
        }
        try root.finish()
        if let duplicate = ReferenceDocument.firstDuplicate(rules.map(\.id)) {
            throw FormatsError(source: source, reason: "rule id '\(duplicate)' is used twice")
        }
        self.rules = rules
    }
}
