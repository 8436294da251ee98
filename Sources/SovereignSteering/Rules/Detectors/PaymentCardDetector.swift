/// Payment card numbers: a run of 13 to 19 digits, possibly grouped by
/// single spaces or dashes (`4111 1111-1111 1111`), passing the Luhn check.
/// The run must be whole: not preceded by a digit, a `+` (a phone number) or
/// a decimal point, and not continued by another digit group. All-same-digit
/// runs (`0000 0000 0000 0000`, Luhn-valid) are not cards.
enum PaymentCardDetector {
    static let lengths = 13...19

    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard text.isDigit(start), !startsInsideNumber(start, &text) else { return nil }
        if text.at(start - 1) == "+" { return nil }
        var digits: [UInt8] = []
        var index = start
        var end = start
        while true {
            if text.isDigit(index) {
                digits.append(UInt8(text.at(index)!.value - 48))
                index += 1
                end = index
                if digits.count > lengths.upperBound { return nil }
            } else if text.isGroupSeparator(index), text.isDigit(index + 1) {
                index += 1
            } else {
                break
            }
        }
        // A decimal part (`…1111.5`) makes it a quantity, not a card.
        if let after = text.at(end), after == "." || after == ",", text.isDigit(end + 1) { return nil }
        guard lengths.contains(digits.count), Set(digits).count > 1, luhnIsValid(digits) else { return nil }
        return DetectorMatch(range: start..<end, value: String(digits.map { Character(Unicode.Scalar($0 + 48)) }))
    }

    /// Whether `start` continues a number begun before it (after a digit,
    /// after a group separator that follows a digit, after a decimal point).
    static func startsInsideNumber(_ start: Int, _ text: inout ScanText) -> Bool {
        if text.isDigit(start - 1) || text.isLetter(start - 1) { return true }
        if let before = text.at(start - 1), before == "." || before == "," || text.isGroupSeparator(start - 1) {
            return text.isDigit(start - 2)
        }
        return false
    }
}
