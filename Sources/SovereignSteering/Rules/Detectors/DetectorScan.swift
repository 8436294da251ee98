import SovereignPolicy

/// The folded text a detector reads, possibly still growing.
///
/// A detector reads through `at(_:)`, which answers nil past the end. When
/// the text is not final, reading past the end also sets `readPastEnd`:
/// whatever the detector decided from that nil may change when more text
/// arrives, so the scan stops there and resumes from that candidate later.
/// This is how every detector is incremental without being written twice.
struct ScanText {
    /// The scan loop detectors and figures share: tries `match` at each
    /// position from `from`, skipping past each match; stops where a
    /// candidate read past the end (more text could change it). Returns the
    /// certain matches and where the next scan resumes.
    static func scan(_ scalars: [Unicode.Scalar], from: Int, isFinal: Bool,
                     match: (Int, inout ScanText) -> DetectorMatch?) -> (matches: [DetectorMatch], resume: Int) {
        var text = ScanText(scalars, isFinal: isFinal)
        var matches: [DetectorMatch] = []
        var index = from
        while index < text.end {
            text.resetReadPastEnd()
            let found = match(index, &text)
            if text.readPastEnd { return (matches, index) }
            if let found {
                matches.append(found)
                index = found.range.upperBound
            } else {
                index += 1
            }
        }
        return (matches, text.end)
    }

    let scalars: [Unicode.Scalar]
    let end: Int
    let isFinal: Bool
    private(set) var readPastEnd = false

    init(_ scalars: [Unicode.Scalar], isFinal: Bool) {
        self.scalars = scalars
        end = scalars.count
        self.isFinal = isFinal
    }

    mutating func at(_ index: Int) -> Unicode.Scalar? {
        if index >= end {
            if !isFinal { readPastEnd = true }
            return nil
        }
        return index < 0 ? nil : scalars[index]
    }

    mutating func resetReadPastEnd() { readPastEnd = false }

    // Shorthands for the detectors.
    mutating func isDigit(_ index: Int) -> Bool { at(index)?.isASCIIDigit ?? false }
    mutating func isLetter(_ index: Int) -> Bool { at(index).map { ("a"..."z").contains($0) } ?? false }
    mutating func isAlphanumeric(_ index: Int) -> Bool { at(index)?.isWordScalar ?? false }
    /// A single space or dash, as written between digit groups.
    mutating func isGroupSeparator(_ index: Int) -> Bool {
        guard let scalar = at(index) else { return false }
        return scalar == " " || scalar == "\u{A0}" || scalar.isDashLike
    }

    func string(_ range: Range<Int>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[range])
        return String(view)
    }
}

/// A detector's find: where, and the value in canonical form (digits only
/// for a card, upper-case IBAN without spaces, …) for comparisons. The
/// value never leaves the steering runtime: violations and redactions
/// carry the detector and the range, not the value.
struct DetectorMatch: Sendable, Equatable {
    let range: Range<Int>
    let value: String
}

extension Detector {
    /// The match starting exactly at `start`, if there is one; its end.
    func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        switch self {
        case .paymentCard: return PaymentCardDetector.match(at: start, in: &text)
        case .iban: return IBANDetector.match(at: start, in: &text)
        case .email: return EmailDetector.match(at: start, in: &text)
        case .phone: return PhoneDetector.match(at: start, in: &text)
        case .usSSN: return SSNDetector.match(at: start, in: &text)
        case .ukNINO: return NINODetector.match(at: start, in: &text)
        case .dosage: return DosageDetector.match(at: start, in: &text)
        case .url: return URLDetector.match(at: start, in: &text)
        }
    }

    /// Scans `scalars` from `from`: the certain matches, and where to start
    /// the next scan (the first candidate that more text could change;
    /// `scalars.count` when none). With `isFinal`, everything is certain.
    func scan(_ scalars: [Unicode.Scalar], from: Int, isFinal: Bool) -> (matches: [DetectorMatch], resume: Int) {
        ScanText.scan(scalars, from: from, isFinal: isFinal) { index, text in match(at: index, in: &text) }
    }

    /// Whether two canonical values are the same thing: a phone number
    /// written nationally (`020 7946 0321`) and internationally (`+44 20
    /// 7946 0321`) is, when one's digits after the trunk `0` or the `+`
    /// end the other's (at least seven of them).
    func sameValue(_ value: String, _ other: String) -> Bool {
        guard self == .phone else { return value == other }
        func significant(_ number: String) -> Substring { number.drop(while: { $0 == "+" || $0 == "0" }) }
        let (first, second) = (significant(value), significant(other))
        let (short, long) = first.count <= second.count ? (first, second) : (second, first)
        return short.count >= 7 && long.hasSuffix(short)
    }
}

/// Luhn (ISO/IEC 7812-1) over ASCII digits.
func luhnIsValid(_ digits: [UInt8]) -> Bool {
    var sum = 0
    for (index, digit) in digits.reversed().enumerated() {
        var value = Int(digit)
        if index % 2 == 1 {
            value *= 2
            if value > 9 { value -= 9 }
        }
        sum += value
    }
    return sum % 10 == 0
}
