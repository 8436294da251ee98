import SovereignPolicy

/// A broken rule: which one, the passage it derives from, the correction,
/// and where in the checked text (the answer for output rules, the prompt
/// for input rules) the violating match lies, in UTF-8 bytes of that text.
///
/// The message names the phrase or pattern, the detector or the figure;
/// it never repeats a value a detector found (a card number stays out of
/// messages, and so out of the log).
public struct Violation: Sendable, Equatable, CustomStringConvertible {
    public let ruleID: String
    public let passageID: String
    public let kind: Rule.Kind
    public let blip: String
    public let severity: Rule.Severity
    public let message: String
    /// UTF-8 byte range of the violating match in the checked text. For an
    /// answer missing something (`require`, `mustCite`) it is empty, at the
    /// end of the answer.
    public let range: Range<Int>
    /// The detector that found it, for `detect` rules.
    public let detector: Detector?

    /// Where the violating match begins (UTF-8 bytes into the output).
    public var outputOffset: Int { range.lowerBound }

    public init(rule: Rule, message: String, range: Range<Int>, detector: Detector? = nil) {
        ruleID = rule.id
        passageID = rule.derivedFrom
        kind = rule.kind
        blip = rule.blip
        severity = rule.severity
        self.message = message
        self.range = range
        self.detector = detector
    }

    /// `rule 'no-diagnosis' (medical-no-diagnosis) at byte 12: forbidden phrase 'you have cancer'`.
    public var description: String {
        "rule '\(ruleID)' (\(passageID)) at byte \(range.lowerBound): \(message)"
    }
}

/// A value removed from a prompt before anything else saw it.
public struct Redaction: Sendable, Equatable {
    public let ruleID: String
    public let passageID: String
    public let detector: Detector
    public let blip: String
    /// UTF-8 bytes of the original prompt that were replaced.
    public let range: Range<Int>
    public let replacement: String
}

/// What the input rules decided about a prompt.
public enum InputDecision: Sendable, Equatable {
    /// Go on with `prompt`: the original with every redaction applied.
    case proceed(prompt: String, redactions: [Redaction])
    /// Refused before generating, for every violation listed. `prompt` has
    /// every detector match removed (redacted and refused ones alike), so
    /// the log can record it.
    case refuse(prompt: String, violations: [Violation])
    /// Longer than `runtime.json`'s `maxPromptBytes`: not read at all.
    case tooLong(bytes: Int, limit: Int)
}
