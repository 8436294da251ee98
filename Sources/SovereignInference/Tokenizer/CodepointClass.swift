/// The four classes the GPT-2 pre-tokenizer regex distinguishes
/// (`\p{L}`, `\p{N}`, `\s`, anything else), computed the way llama.cpp
/// computes them so that our splits match its splits exactly.
enum CodepointClass: UInt8, Sendable {
    case letter
    case number
    case whitespace
    case other

    /// llama.cpp's codepoint table (unicode-data.cpp) was generated from
    /// Unicode 15.1. Swift's own tables are newer, so a scalar assigned after
    /// 15.1 counts as unassigned ("other") here, as it does there; the
    /// `codepointClasses` golden checks every codepoint against llama.cpp.
    static let unicodeVersion = (major: 15, minor: 1)

    private static let ascii: [CodepointClass] = (0 ..< 128).map { classify(UInt32($0)) }

    /// The class of a Unicode scalar value (any UInt32; out of range is `other`).
    @inline(__always)  // called once per scalar of every text we tokenize
    static func of(_ scalar: UInt32) -> CodepointClass {
        scalar < 128 ? ascii[Int(scalar)] : classify(scalar)
    }

    private static func classify(_ value: UInt32) -> CodepointClass {
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let properties = scalar.properties
        // White_Space is checked first, as llama.cpp's collapsed regex does.
        if properties.isWhitespace { return .whitespace }
        guard let age = properties.age,
              (age.major, age.minor) <= (unicodeVersion.major, unicodeVersion.minor)
        else { return .other }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}
