import SovereignFormats

/// A rule of the constraint layer: what it checks, the passage it encodes,
/// the one-line correction ("blip") sent when it is broken, and how grave a
/// violation is. Policies/README.md documents every kind.
public struct Rule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Refuse before generating when the prompt matches.
        case refuseWhen
        /// The answer must not match.
        case forbid
        /// When the prompt matches `when` (or always), the answer must match.
        case require
        /// The answer must be at most `maxCharacters` Unicode scalars long.
        case maxLength
        /// Built-in detectors (card numbers, IBANs, …) on the answer or the prompt.
        case detect
        /// Every figure in the answer must appear in the injected passages or the prompt.
        case grounded
        /// The answer must name one of the injected passage ids.
        case mustCite
    }

    /// What the runtime does with a violation of an output rule (input
    /// rules refuse or redact whatever their severity; it is recorded).
    public enum Severity: String, Sendable, CaseIterable, Comparable {
        /// Recorded in the log; the answer stands.
        case warning
        /// Corrected with the blip; refused after `maxAttempts`.
        case error
        /// Refused at once, without a correction attempt.
        case critical

        public static func < (lhs: Severity, rhs: Severity) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// Which text a `detect` rule looks at, and what it does there.
    public enum DetectTarget: Sendable, Equatable {
        /// The answer: a match is a violation. With `allowFromPassages`, a
        /// value that also appears in an injected passage (the service's own
        /// phone number) is allowed.
        case output(allowFromPassages: Bool)
        /// The prompt, before anything sees it: refused.
        case inputRefuse
        /// The prompt: each match replaced by `replacement` before the model,
        /// the log or a later answer see it.
        case inputRedact(replacement: String)
    }

    /// The kind with its parameters.
    public enum Parameters: Sendable, Equatable {
        case refuseWhen(TextMatchers)
        case forbid(TextMatchers)
        /// `when == nil`: every answer.
        case require(when: TextMatchers?, answer: TextMatchers)
        case maxLength(maxCharacters: Int)
        case detect(detectors: [Detector], target: DetectTarget)
        /// `allow`: figures always accepted (written as they are matched:
        /// digits, with `.`, `,`, `:` or `/` between digits).
        case grounded(allow: [String])
        case mustCite
    }

    public let id: String
    public let kind: Kind
    /// The passage id this rule derives from.
    public let derivedFrom: String
    public let blip: String
    public let severity: Severity
    public let parameters: Parameters

    public init(id: String, derivedFrom: String, blip: String, severity: Severity, parameters: Parameters) {
        self.id = id
        self.derivedFrom = derivedFrom
        self.blip = blip
        self.severity = severity
        self.parameters = parameters
        switch parameters {
        case .refuseWhen: kind = .refuseWhen
        case .forbid: kind = .forbid
        case .require: kind = .require
        case .maxLength: kind = .maxLength
        case .detect: kind = .detect
        case .grounded: kind = .grounded
        case .mustCite: kind = .mustCite
        }
    }
}

/// Phrases and regular expressions, matched on normalised text. A phrase
/// matches whole words (`"make a gun"` does not match inside `"make a
/// gunny sack"`); a pattern matches wherever it matches.
public struct TextMatchers: Sendable, Equatable {
    public static let maxCount = 64
    public static let maxPhraseScalars = 256

    public let phrases: [String]
    public let patterns: [RulePattern]

    public init(phrases: [String], patterns: [RulePattern]) {
        self.phrases = phrases
        self.patterns = patterns
    }

    public var isEmpty: Bool { phrases.isEmpty && patterns.isEmpty }
}

/// The built-in detectors of `detect` rules, each with a validity check
/// (Policies/README.md says which).
public enum Detector: String, Sendable, CaseIterable {
    /// 13–19 digits passing the Luhn check.
    case paymentCard
    /// An IBAN of a registered country's length passing ISO 13616 mod-97.
    case iban
    case email
    case phone
    /// US Social Security number outside the never-issued ranges.
    case usSSN
    /// UK National Insurance number with an allocatable prefix.
    case ukNINO
    /// A quantity with a medicine unit (mg, µg, ml, IU, tablets, …).
    case dosage
    case url

    /// Words for messages ("a payment card number").
    public var label: String {
        switch self {
        case .paymentCard: return "payment card number"
        case .iban: return "IBAN"
        case .email: return "e-mail address"
        case .phone: return "phone number"
        case .usSSN: return "US Social Security number"
        case .ukNINO: return "UK National Insurance number"
        case .dosage: return "medicine dosage"
        case .url: return "URL"
        }
    }

    /// The label with its article ("an IBAN", "a URL").
    public var indefiniteLabel: String {
        switch self {
        case .iban, .email: return "an " + label
        default: return "a " + label
        }
    }
}

/// `rules.json`: `{"schema": "sovereign.rules/v1", "rules": [...]}`.
public struct RuleSet: Sendable, Equatable {
    public static let schema = "sovereign.rules/v1"
    public static let maxRules = 256
    public static let maxBlipBytes = 512
    public let rules: [Rule]

    public init(rules: [Rule]) { self.rules = rules }

    /// Reads `rules.json` strictly: a field this version does not know is
    /// an error naming the rule and the field's path (`rule 'brief': unknown
    /// field 'rules[3].maxChars'`); so is a pattern that does not parse, an
    /// unknown kind or detector, or a value out of range.
    public init(json bytes: [UInt8], source: String) throws(FormatsError) {
        let rules = try JSONObjectReader.read(parsing: bytes, source: source, mode: .strict) { root throws(FormatsError) in
            let schema = try root.string("schema")
            guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
            return try root.objects("rules") { entry throws(FormatsError) in try Rule(reading: &entry) }
        }
        guard !rules.isEmpty else { throw FormatsError(source: source, reason: "rules: must list at least one rule") }
        guard rules.count <= Self.maxRules else {
            throw FormatsError(source: source, reason: "rules: lists \(rules.count) rules, the limit is \(Self.maxRules)")
        }
        if let duplicate = ReferenceDocument.firstDuplicate(rules.map(\.id)) {
            throw FormatsError(source: source, reason: "rule id '\(duplicate)' is used twice")
        }
        self.rules = rules
    }
}

extension Rule {
    /// One entry of `rules.json`; the fields a kind does not use are unknown.
    /// Every error after the id names the rule: `rule 'brief': …`.
    init(reading entry: inout JSONObjectReader) throws(FormatsError) {
        let id = try entry.nonEmptyString("id")
        guard ReferenceDocument.isValidID(id) else {
            throw entry.error("id", "'\(id)' must be lowercase letters, digits, '-' or '.'")
        }
        do throws(FormatsError) {
            let kindName = try entry.string("kind")
            guard let kind = Kind(rawValue: kindName) else {
                throw entry.error("kind", "'\(kindName)' is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let derivedFrom = try entry.nonEmptyString("derivedFrom")
            let blip = try entry.nonEmptyString("blip")
            guard blip.utf8.count <= RuleSet.maxBlipBytes, !blip.contains("\n") else {
                throw entry.error("blip", "must be one line of at most \(RuleSet.maxBlipBytes) bytes")
            }
            let severityName = try entry.string("severity")
            guard let severity = Severity(rawValue: severityName) else {
                throw entry.error("severity", "'\(severityName)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let parameters = try Self.parameters(kind, &entry)
            try entry.finish()
            self.init(id: id, derivedFrom: derivedFrom, blip: blip, severity: severity, parameters: parameters)
        } catch {
            throw FormatsError(source: error.source, reason: "rule '\(id)': \(error.reason)")
        }
    }

    static func parameters(_ kind: Kind, _ entry: inout JSONObjectReader) throws(FormatsError) -> Parameters {
        switch kind {
        case .refuseWhen:
            return .refuseWhen(try TextMatchers(reading: &entry, required: kind.rawValue))
        case .forbid:
            return .forbid(try TextMatchers(reading: &entry, required: kind.rawValue))
        case .require:
            let when = try entry.optionalObject("when") { when throws(FormatsError) in
                try TextMatchers(reading: &when, required: "require rule's 'when'")
            }
            return .require(when: when, answer: try TextMatchers(reading: &entry, required: kind.rawValue))
        case .maxLength:
            return .maxLength(maxCharacters: Int(try entry.integer("maxCharacters", in: 1...1_000_000)))
        case .detect:
            let names = try entry.strings("detectors")
            guard !names.isEmpty else { throw entry.error("detectors", "must name at least one detector") }
            var detectors: [Detector] = []
            for (index, name) in names.enumerated() {
                guard let detector = Detector(rawValue: name) else {
                    throw entry.error("detectors[\(index)]", "'\(name)' is not one of \(Detector.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                guard !detectors.contains(detector) else { throw entry.error("detectors[\(index)]", "'\(name)' is listed twice") }
                detectors.append(detector)
            }
            let side = try entry.optionalString("on") ?? "output"
            let action = try entry.optionalString("action")
            let replacement = try entry.optionalString("replacement")
            let allow = try entry.optionalBool("allowFromPassages")
            switch side {
            case "output":
                if action != nil { throw entry.error("action", "applies to 'on': 'input' only (on the output a match is a violation)") }
                if replacement != nil { throw entry.error("replacement", "applies to 'action': 'redact' only") }
                return .detect(detectors: detectors, target: .output(allowFromPassages: allow ?? false))
            case "input":
                if allow != nil { throw entry.error("allowFromPassages", "applies to 'on': 'output' only") }
                switch action {
                case "refuse":
                    if replacement != nil { throw entry.error("replacement", "applies to 'action': 'redact' only") }
                    return .detect(detectors: detectors, target: .inputRefuse)
                case "redact":
                    let text = replacement ?? "[redacted]"
                    guard !text.isEmpty, text.utf8.count <= 64, !text.unicodeScalars.contains(where: { $0.isASCII && $0.value < 0x20 }) else {
                        throw entry.error("replacement", "must be 1 to 64 bytes without control characters")
                    }
                    return .detect(detectors: detectors, target: .inputRedact(replacement: text))
                case nil:
                    throw entry.error("action", "is required with 'on': 'input' ('refuse' or 'redact')")
                case let other?:
                    throw entry.error("action", "'\(other)' is not one of refuse, redact")
                }
            default:
                throw entry.error("on", "'\(side)' is not one of output, input")
            }
        case .grounded:
            let allow = try entry.optionalStrings("allow") ?? []
            for (index, figure) in allow.enumerated() where !Self.isFigure(figure) {
                throw entry.error("allow[\(index)]", "'\(figure)' is not a figure (digits, with '.', ',', ':' or '/' between digits)")
            }
            return .grounded(allow: allow)
        case .mustCite:
            return .mustCite
        }
    }

    /// ASCII digits with single `.`, `,`, `:` or `/` between them.
    static func isFigure(_ text: String) -> Bool {
        var previousWasDigit = false
        for scalar in text.unicodeScalars {
            if scalar.asciiDigit != nil {
                previousWasDigit = true
            } else if [".", ",", ":", "/"].contains(scalar), previousWasDigit {
                previousWasDigit = false
            } else {
                return false
            }
        }
        return previousWasDigit
    }
}

extension TextMatchers {
    /// `phrases` and `patterns` of a rule (or of its `when`); `required`
    /// names the owner when both are empty.
    init(reading entry: inout JSONObjectReader, required owner: String) throws(FormatsError) {
        let phrases = try entry.optionalStrings("phrases") ?? []
        let sources = try entry.optionalStrings("patterns") ?? []
        guard !phrases.isEmpty || !sources.isEmpty else {
            throw entry.error("", "a \(owner) needs at least one entry in 'phrases' or 'patterns'")
        }
        guard phrases.count <= Self.maxCount else { throw entry.error("phrases", "lists \(phrases.count), the limit is \(Self.maxCount)") }
        guard sources.count <= Self.maxCount else { throw entry.error("patterns", "lists \(sources.count), the limit is \(Self.maxCount)") }
        for (index, phrase) in phrases.enumerated() {
            let count = phrase.unicodeScalars.count
            guard count <= Self.maxPhraseScalars else {
                throw entry.error("phrases[\(index)]", "is \(count) scalars long, the limit is \(Self.maxPhraseScalars)")
            }
            guard phrase.unicodeScalars.contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil }) else {
                throw entry.error("phrases[\(index)]", "'\(phrase)' has no letter or digit to match")
            }
        }
        var patterns: [RulePattern] = []
        for (index, source) in sources.enumerated() {
            do { patterns.append(try RulePattern(source)) } catch {
                throw entry.error("patterns[\(index)]", "'\(source)' \(error.reason)")
            }
        }
        self.init(phrases: phrases, patterns: patterns)
    }
}
