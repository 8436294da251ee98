/// IBANs (ISO 13616): a registered country code, two check digits, then the
/// country's exact number of letters and digits, possibly grouped by single
/// spaces or dashes, passing the mod-97 check (the number, its first four
/// characters moved to the end and letters read as 10–35, leaves 1).
/// Letters are folded to lower case before this runs, so `GB82 WEST …`
/// and `gb82west…` are the same.
enum IBANDetector {
    /// Total IBAN length per country, from the SWIFT IBAN registry (the 89
    /// countries python-stdnum 2.2 lists).
    static let lengths: [String: Int] = [
        "ad": 24, "ae": 23, "al": 28, "at": 20, "az": 28, "ba": 20, "be": 16, "bg": 22, "bh": 22, "bi": 27,
        "br": 29, "by": 28, "ch": 21, "cr": 22, "cy": 28, "cz": 24, "de": 22, "dj": 27, "dk": 18, "do": 28,
        "ee": 20, "eg": 29, "es": 24, "fi": 18, "fk": 18, "fo": 18, "fr": 27, "gb": 22, "ge": 22, "gi": 23,
        "gl": 18, "gr": 27, "gt": 28, "hn": 28, "hr": 21, "hu": 28, "ie": 22, "il": 23, "iq": 23, "is": 26,
        "it": 27, "jo": 30, "kw": 30, "kz": 20, "lb": 28, "lc": 32, "li": 21, "lt": 20, "lu": 20, "lv": 21,
        "ly": 25, "mc": 27, "md": 24, "me": 22, "mk": 19, "mn": 20, "mr": 27, "mt": 31, "mu": 30, "ni": 28,
        "nl": 18, "no": 15, "om": 23, "pk": 24, "pl": 28, "ps": 29, "pt": 25, "qa": 29, "ro": 24, "rs": 22,
        "ru": 33, "sa": 24, "sc": 31, "sd": 18, "se": 24, "si": 19, "sk": 24, "sm": 27, "so": 23, "st": 25,
        "sv": 28, "tl": 23, "tn": 24, "tr": 26, "ua": 29, "va": 22, "vg": 24, "xk": 20, "ye": 30,
    ]

    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard text.isLetter(start), text.isLetter(start + 1), !text.isAlphanumeric(start - 1) else { return nil }
        let country = text.string(start..<(start + 2))
        guard let length = lengths[country] else { return nil }
        var characters: [Unicode.Scalar] = []
        var index = start
        while characters.count < length {
            guard let scalar = text.at(index) else { return nil }
            if scalar.isASCIIDigit || ("a"..."z").contains(scalar) {
                characters.append(scalar)
                index += 1
            } else if !characters.isEmpty, text.isGroupSeparator(index), let next = text.at(index + 1),
                      next.isASCIIDigit || ("a"..."z").contains(next) {
                index += 1
            } else {
                return nil
            }
        }
        // Exactly the country's length: the next character must not continue it.
        guard !text.isAlphanumeric(index) else { return nil }
        guard characters[2].isASCIIDigit, characters[3].isASCIIDigit, mod97(characters) == 1 else { return nil }
        let value = String(String.UnicodeScalarView(characters)).uppercased()
        return DetectorMatch(range: start..<index, value: value)
    }

    /// ISO 7064 mod 97-10 of the rearranged IBAN, computed piecewise.
    static func mod97(_ characters: [Unicode.Scalar]) -> Int {
        let rearranged = characters[4...] + characters[..<4]
        var remainder = 0
        for scalar in rearranged {
            if scalar.isASCIIDigit {
                remainder = (remainder * 10 + Int(scalar.value - 48)) % 97
            } else {
                remainder = (remainder * 100 + Int(scalar.value - 97 + 10)) % 97
            }
        }
        return remainder
    }
}
