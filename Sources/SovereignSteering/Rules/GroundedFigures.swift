/// The figures of a text, for the `grounded` rule: numbers, times, dates,
/// amounts and percentages, as runs of digits joined by single `.`, `,`,
/// `:` or `/` (`17:00`, `12/05/2026`, `1,200.50`; the `£` and `%` around
/// them do not matter). A dash splits figures (`9-5` is two), so a range
/// is grounded when both ends are.
///
/// Not figures: digits glued after a letter (`covid19`, `A4`, `mp3`), and
/// list numbering: a number of at most three digits alone at the start of
/// a line, optionally in `(…)`, followed by `.` or `)` and a space or the
/// line's end (`1. Call the desk`, `2) Bring ID`).
///
/// Figures compare in canonical form: each digit group without leading
/// zeros (`08:30` = `8:30`), a `,` before exactly three digits read as a
/// thousands separator (`1,200` = `1200`).
enum GroundedFigures {
    static let maxFigureScalars = 64

    static func isJoiner(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "." || scalar == "," || scalar == ":" || scalar == "/"
    }

    /// The figure starting at `start`, if one does (with its canonical form).
    static func match(at start: Int, in text: inout ScanText, skipListNumbers: Bool) -> DetectorMatch? {
        guard text.isDigit(start) else { return nil }
        if let before = text.at(start - 1) {
            if before.isWordScalar { return nil }
            if isJoiner(before), text.isDigit(start - 2) { return nil }
        }
        var index = start
        while true {
            if text.isDigit(index) {
                index += 1
            } else if let scalar = text.at(index), isJoiner(scalar), text.isDigit(index + 1) {
                index += 1
            } else {
                break
            }
            if index - start > maxFigureScalars { return nil }
        }
        let figure = text.string(start..<index)
        if skipListNumbers, isListNumber(figure, start: start, end: index, &text) { return nil }
        return DetectorMatch(range: start..<index, value: canonical(figure))
    }

    static func isListNumber(_ figure: String, start: Int, end: Int, _ text: inout ScanText) -> Bool {
        guard figure.count <= 3, figure.unicodeScalars.allSatisfy(\.isASCIIDigit) else { return false }
        var before = start - 1
        if text.at(before) == "(" { before -= 1 }
        while let scalar = text.at(before), scalar == " " || scalar == "\t" { before -= 1 }
        guard before < 0 || text.at(before) == "\n" || text.at(before) == "\r" else { return false }
        guard let marker = text.at(end), marker == "." || marker == ")" else { return false }
        guard let after = text.at(end + 1) else { return !text.readPastEnd }
        return after.isSpaceLike
    }

    static func canonical(_ figure: String) -> String {
        var groups: [String] = []
        var joiners: [Character] = []
        var current = ""
        for character in figure {
            if character.isASCII, character.isNumber {
                current.append(character)
            } else {
                groups.append(current)
                joiners.append(character)
                current = ""
            }
        }
        groups.append(current)
        var result = ""
        for (position, group) in groups.enumerated() {
            if position > 0 {
                let joiner = joiners[position - 1]
                let thousands = joiner == "," && group.count == 3
                if !thousands { result.append(joiner) }
                if thousands {
                    result += group
                    continue
                }
            }
            let trimmed = group.drop(while: { $0 == "0" })
            result += trimmed.isEmpty ? "0" : String(trimmed)
        }
        return result
    }

    /// Every figure of a complete text (list numbers included: in a
    /// passage, they ground nothing wrong).
    static func figures(in scalars: [Unicode.Scalar]) -> Set<String> {
        var text = ScanText(scalars, isFinal: true)
        var figures = Set<String>()
        var index = 0
        while index < text.end {
            if let found = match(at: index, in: &text, skipListNumbers: false) {
                figures.insert(found.value)
                index = found.range.upperBound
            } else {
                index += 1
            }
        }
        return figures
    }

    /// Scans a growing answer like `Detector.scan`: certain figures, and
    /// where to resume.
    static func scan(_ scalars: [Unicode.Scalar], from: Int, isFinal: Bool) -> (matches: [DetectorMatch], resume: Int) {
        ScanText.scan(scalars, from: from, isFinal: isFinal) { index, text in match(at: index, in: &text, skipListNumbers: true) }
    }
}
