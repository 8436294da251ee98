/// Medicine doses: a quantity (`500`, `2.5`, `0,5`, or a range `1-2`,
/// `1 to 2`) followed, after at most one space, by a unit that names a
/// dose: mg, g, mcg, µg, ug, ng, ml, IU, units, tablets, capsules, drops,
/// puffs, sachets, mmol, and their long forms, optionally per kg (`mg/kg`).
/// The unit must end the word (`4 g` is a dose, `4 great` is not).
enum DosageDetector {
    /// Unit spellings (folded: lower case, µ as μ U+03BC) → canonical unit.
    static let units: [String: String] = [
        "mg": "mg", "milligram": "mg", "milligrams": "mg", "milligramme": "mg", "milligrammes": "mg",
        "g": "g", "gram": "g", "grams": "g", "gramme": "g", "grammes": "g",
        "mcg": "mcg", "\u{3BC}g": "mcg", "ug": "mcg", "microgram": "mcg", "micrograms": "mcg",
        "ng": "ng", "nanogram": "ng", "nanograms": "ng",
        "ml": "ml", "millilitre": "ml", "millilitres": "ml", "milliliter": "ml", "milliliters": "ml",
        "iu": "iu", "unit": "unit", "units": "unit",
        "tablet": "tablet", "tablets": "tablet", "tab": "tablet", "tabs": "tablet",
        "capsule": "capsule", "capsules": "capsule", "caps": "capsule",
        "drop": "drop", "drops": "drop", "puff": "puff", "puffs": "puff",
        "sachet": "sachet", "sachets": "sachet", "mmol": "mmol",
    ]
    static let maxUnitScalars = 12

    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard text.isDigit(start), !text.isAlphanumeric(start - 1) else { return nil }
        if let before = text.at(start - 1), before == "." || before == ",", text.isDigit(start - 2) { return nil }
        guard var (index, quantity) = number(at: start, in: &text) else { return nil }
        // A range: `1-2`, `1 - 2`, `1–2`, `1 to 2`.
        let rangeStart = index
        var cursor = index
        if text.at(cursor) == " " { cursor += 1 }
        if let scalar = text.at(cursor), scalar.isDashLike {
            cursor += 1
        } else if text.at(cursor) == "t", text.at(cursor + 1) == "o", text.at(cursor + 2) == " " {
            cursor += 2
        } else {
            cursor = rangeStart
        }
        if cursor != rangeStart {
            if text.at(cursor) == " " { cursor += 1 }
            if text.isDigit(cursor), let (rangeEnd, high) = number(at: cursor, in: &text) {
                index = rangeEnd
                quantity += "-" + high
            }
        }
        if text.at(index) == " " { index += 1 }
        // The unit: letters (and μ), up to a non-letter, optionally "/kg".
        let unitStart = index
        while let scalar = text.at(index), ("a"..."z").contains(scalar) || scalar == "\u{3BC}" {
            index += 1
            if index - unitStart > maxUnitScalars { return nil }
        }
        guard index > unitStart, let unit = units[text.string(unitStart..<index)] else { return nil }
        var canonicalUnit = unit
        if text.at(index) == "/", text.at(index + 1) == "k", text.at(index + 2) == "g", !text.isAlphanumeric(index + 3) {
            index += 3
            canonicalUnit += "/kg"
        } else if text.isAlphanumeric(index) {
            return nil
        }
        return DetectorMatch(range: start..<index, value: quantity + " " + canonicalUnit)
    }

    /// Digits with at most one decimal part (`.` or `,`); the canonical
    /// form uses `.` and drops leading zeros of the whole part.
    static func number(at start: Int, in text: inout ScanText) -> (end: Int, value: String)? {
        var index = start
        var whole = ""
        while let scalar = text.at(index), scalar.isASCIIDigit {
            whole.unicodeScalars.append(scalar)
            index += 1
            if whole.count > 9 { return nil }
        }
        guard !whole.isEmpty else { return nil }
        var value = String(whole.drop(while: { $0 == "0" }))
        if value.isEmpty { value = "0" }
        if let point = text.at(index), point == "." || point == ",", text.isDigit(index + 1) {
            index += 1
            var fraction = ""
            while let scalar = text.at(index), scalar.isASCIIDigit {
                fraction.unicodeScalars.append(scalar)
                index += 1
                if fraction.count > 6 { return nil }
            }
            value += "." + fraction
        }
        return (index, value)
    }
}
