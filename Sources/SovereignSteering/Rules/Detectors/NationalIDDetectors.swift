/// US Social Security numbers: `AAA-GG-SSSS`, `AAA GG SSSS` (the same
/// separator twice) or nine digits in a row, as a whole number (no digit,
/// letter or further group around it), outside the ranges the SSA never
/// issues: area 000, 666 or 900–999, group 00, serial 0000; and not one of
/// the numbers the SSA voided after they were printed in advertising
/// (078-05-1120, 219-09-9999).
enum SSNDetector {
    static let voided: Set<String> = ["078051120", "219099999"]

    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard text.isDigit(start), !text.isAlphanumeric(start - 1) else { return nil }
        if let before = text.at(start - 1), before == "+" || before == "." || before == "," { return nil }
        if text.isGroupSeparator(start - 1), text.isDigit(start - 2) { return nil }
        var digits: [Unicode.Scalar] = []
        var index = start
        var separator: Unicode.Scalar?
        for group in [3, 2, 4] {
            if group != 3 {
                if let scalar = text.at(index), text.isGroupSeparator(index) {
                    if digits.count == 3 { separator = scalar } else if separator != scalar { return nil }
                    index += 1
                } else if separator != nil {
                    return nil
                }
            }
            for _ in 0..<group {
                guard let scalar = text.at(index), scalar.isASCIIDigit else { return nil }
                digits.append(scalar)
                index += 1
            }
        }
        // A whole number: nothing that continues it.
        if text.isAlphanumeric(index) { return nil }
        if text.isGroupSeparator(index), text.isDigit(index + 1) { return nil }
        if let after = text.at(index), after == "." || after == ",", text.isDigit(index + 1) { return nil }
        let value = String(String.UnicodeScalarView(digits))
        let area = Int(value.prefix(3))!, group = Int(value.dropFirst(3).prefix(2))!, serial = Int(value.suffix(4))!
        guard area != 0, area != 666, area < 900, group != 0, serial != 0, !voided.contains(value) else { return nil }
        return DetectorMatch(range: start..<index, value: value)
    }
}

/// UK National Insurance numbers: two prefix letters, six digits, a suffix
/// letter A–D (`QQ 12 34 56 C`, `QQ123456C`; single spaces or dashes may
/// separate the prefix, the digit pairs and the suffix). HMRC never
/// allocates a first letter D, F, I, Q, U or V, a second letter D, F, I, O,
/// Q, U or V, nor the prefixes BG, GB, KN, NK, NT, TN and ZZ.
enum NINODetector {
    static let invalidFirst: Set<Unicode.Scalar> = ["d", "f", "i", "q", "u", "v"]
    static let invalidSecond: Set<Unicode.Scalar> = ["d", "f", "i", "o", "q", "u", "v"]
    static let invalidPrefixes: Set<String> = ["bg", "gb", "kn", "nk", "nt", "tn", "zz"]

    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard let first = text.at(start), let second = text.at(start + 1), text.isLetter(start), text.isLetter(start + 1),
              !text.isAlphanumeric(start - 1) else { return nil }
        guard !invalidFirst.contains(first), !invalidSecond.contains(second),
              !invalidPrefixes.contains(text.string(start..<(start + 2))) else { return nil }
        var index = start + 2
        var value: [Unicode.Scalar] = [first, second]
        for _ in 0..<3 {
            if text.isGroupSeparator(index), text.isDigit(index + 1) { index += 1 }
            for _ in 0..<2 {
                guard let digit = text.at(index), digit.isASCIIDigit else { return nil }
                value.append(digit)
                index += 1
            }
        }
        if text.isGroupSeparator(index), text.isLetter(index + 1) { index += 1 }
        guard let suffix = text.at(index), ("a"..."d").contains(suffix) else { return nil }
        value.append(suffix)
        index += 1
        guard !text.isAlphanumeric(index) else { return nil }
        return DetectorMatch(range: start..<index, value: String(String.UnicodeScalarView(value)).uppercased())
    }
}
