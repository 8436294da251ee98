/// Phone numbers, in the forms people write them: `+44 20 7946 0321`,
/// `0044 20 7946 0321`, `020 7946 0321`, `(020) 7946-0321`,
/// `(212) 555-0123`, `212.555.0123`, `+1 212 555 0123`.
///
/// Digit groups may be separated by single spaces, dashes or dots; the
/// first group may be in parentheses. Validity:
/// - international (`+` or `00`): 8 to 15 digits after the prefix (E.164),
///   the country code not starting with 0;
/// - national with a trunk `0`: 10 or 11 digits;
/// - North American: 10 digits `NXX NXX XXXX` (N = 2–9), optionally after `1`.
/// Dates, times, decimals and short numbers (999, 112) fail these checks.
enum PhoneDetector {
    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard let first = text.at(start), first == "+" || first == "(" || first.isASCIIDigit else { return nil }
        if let before = text.at(start - 1) {
            if before.isWordScalar || before == "+" || before == "." || before == "," || before == "/" || before == ":" { return nil }
            if text.isGroupSeparator(start - 1), text.isDigit(start - 2) { return nil }
        }
        var index = start
        var international = false
        if first == "+" {
            international = true
            index += 1
            if text.isGroupSeparator(index) { return nil }
        }
        var digits: [UInt8] = []
        var openParenthesis = false
        var usedParentheses = false
        var end = index
        while true {
            guard let scalar = text.at(index) else { break }
            if scalar.isASCIIDigit {
                digits.append(UInt8(scalar.value - 48))
                index += 1
                end = index
                if digits.count > 17 { return nil }
            } else if scalar == "(", !usedParentheses, !openParenthesis, digits.count <= 3 {
                openParenthesis = true
                usedParentheses = true
                index += 1
            } else if scalar == ")", openParenthesis {
                openParenthesis = false
                index += 1
                end = index
                if text.isGroupSeparator(index) { index += 1 }
            } else if scalar == "." || text.isGroupSeparator(index), !digits.isEmpty, text.isDigit(index + 1) {
                index += 1
            } else {
                break
            }
        }
        guard !openParenthesis, !digits.isEmpty else { return nil }
        // Not followed by more of a word or of a decimal number.
        if text.isAlphanumeric(end) { return nil }
        if let after = text.at(end), after == "." || after == ",", text.isDigit(end + 1) { return nil }
        if first == "(" && !usedParentheses { return nil }
        guard let value = canonical(digits, international: international) else { return nil }
        return DetectorMatch(range: start..<end, value: value)
    }

    /// The number as `+` and digits (international) or digits, when valid.
    static func canonical(_ digits: [UInt8], international: Bool) -> String? {
        var digits = digits
        var international = international
        if !international, digits.count > 2, digits[0] == 0, digits[1] == 0 {
            international = true
            digits.removeFirst(2)
        }
        let text = String(digits.map { Character(Unicode.Scalar($0 + 48)) })
        if international {
            guard (8...15).contains(digits.count), digits[0] != 0 else { return nil }
            return "+" + text
        }
        if digits[0] == 0 {
            return (10...11).contains(digits.count) ? text : nil
        }
        var national = digits
        if national.count == 11, national[0] == 1 { national.removeFirst() }
        guard national.count == 10, national[0] >= 2, national[3] >= 2 else { return nil }
        return text
    }
}
