import Foundation

/// Folds one scalar to the form every rule matches on (zero, one or more
/// scalars):
///
/// 1. compatibility decomposition (NFKD: full-width `４` → `4`, `ﬁ` → `fi`,
///    `①` → `1`, `½` → `1⁄2`, `µ` → `μ`);
/// 2. case folding (upper-case mapping, then lower-case mapping: `ß` → `ss`,
///    `ς` → `σ`, `İ` → `i`, Kelvin `K` → `k`);
/// 3. accents folded: non-spacing and enclosing marks removed, and the
///    Latin letters that carry a stroke rather than a mark mapped to their
///    base (`ø` → `o`, `ł` → `l`, `đ` → `d`, `æ` → `ae`, …);
/// 4. default-ignorable scalars (soft hyphen, zero-width space and joiners,
///    variation selectors, bidi controls) removed, so they cannot split a
///    word to evade a rule.
///
/// Since every step works on one scalar (NFKD decomposes scalar by scalar,
/// the case mappings are context-free, and the marks a base could combine
/// with are removed anyway), a text folds scalar by scalar: the result for
/// `e` + U+0301 is `e` whether or not the accent has arrived yet. Works on
/// scalars, not `Character`s, so the result does not depend on grapheme
/// rules; ASCII takes a fast path that touches no Foundation code.
enum ScalarFolding {
    /// The folded form of `scalar` (possibly empty), appended to `output`.
    static func fold(_ scalar: Unicode.Scalar, into output: inout [Unicode.Scalar]) {
        if scalar.isASCII {
            output.append(asciiFold(scalar))
            return
        }
        if isRemoved(scalar) { return }
        let decomposed = String(Character(scalar)).decomposedStringWithCompatibilityMapping
        var cased = String.UnicodeScalarView()
        for scalar in decomposed.unicodeScalars {
            if isRemoved(scalar) { continue }
            if scalar.isASCII {
                cased.append(asciiFold(scalar))
                continue
            }
            // Full case folding as upper-then-lower, which maps ß → ss,
            // ς → σ and ﬁ → fi like Unicode's CaseFolding.txt (C+F).
            for upper in scalar.properties.uppercaseMapping.unicodeScalars {
                cased.append(contentsOf: upper.properties.lowercaseMapping.unicodeScalars)
            }
        }
        // Case mappings can yield decomposable scalars (İ → i + U+0307):
        // decompose again and drop the marks that appear.
        for scalar in String(cased).decomposedStringWithCompatibilityMapping.unicodeScalars where !isRemoved(scalar) {
            if let replacement = strokeLetters[scalar.value] {
                output.append(contentsOf: replacement.unicodeScalars)
            } else {
                output.append(scalar)
            }
        }
    }

    @inline(__always)  // the per-scalar hot path of every check
    static func asciiFold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
    }

    static func isRemoved(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return false }
        let properties = scalar.properties
        if properties.isDefaultIgnorableCodePoint { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// Folds every scalar of `text`.
    static func fold(_ text: some Sequence<Unicode.Scalar>) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        for scalar in text { fold(scalar, into: &output) }
        return output
    }

    /// Latin letters whose "accent" is part of the letter (no decomposition),
    /// folded as search engines fold them (after lower-casing).
    static let strokeLetters: [UInt32: String] = [
        0x00F8: "o", 0x0142: "l", 0x0111: "d", 0x0127: "h", 0x0167: "t", 0x0131: "i",
        0x00E6: "ae", 0x0153: "oe", 0x00FE: "th", 0x00F0: "d", 0x0180: "b", 0x01B6: "z",
        0x0248: "j", 0x024D: "r", 0x024F: "y", 0x0268: "i", 0x0289: "u", 0x1D7D: "p",
    ]
}

extension Unicode.Scalar {
    /// A letter, digit or mark, or `_`: what `\w` and `\b` see as a word.
    var isWordScalar: Bool {
        if isASCII {
            return ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self) || self == "_"
        }
        let properties = self.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation:
            return true
        default:
            return false
        }
    }

    /// White space, or a control character (treated as white space).
    var isSpaceLike: Bool {
        if isASCII { return self == " " || (value >= 0x09 && value <= 0x0D) || value < 0x20 || value == 0x7F }
        return properties.isWhitespace || properties.generalCategory == .control
    }

    /// A hyphen or dash (Unicode's Dash property: `-`, `‐`, `–`, `—`, `−`, …).
    var isDashLike: Bool {
        if isASCII { return self == "-" }
        return properties.isDash
    }

    /// A decimal digit of any script (after folding, full-width digits are ASCII).
    var isDecimalDigit: Bool {
        if isASCII { return ("0"..."9").contains(self) }
        return properties.generalCategory == .decimalNumber
    }

    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
