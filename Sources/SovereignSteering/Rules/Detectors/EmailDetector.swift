/// E-mail addresses: `local@domain` where the local part is RFC 5322
/// dot-atoms (at most 64 characters, no leading, trailing or doubled dot)
/// and the domain has at least two labels of letters, digits and inner
/// hyphens (each at most 63 characters, 253 in all) ending in an
/// alphabetic top-level label of two or more letters (or an `xn--` one).
/// A trailing dot or hyphen is sentence punctuation, not part of it.
enum EmailDetector {
    static func isAtext(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCIIDigit || ("a"..."z").contains(scalar) { return true }
        return "!#$%&'*+/=?^_`{|}~-".unicodeScalars.contains(scalar)
    }

    static func isDomainScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCIIDigit || ("a"..."z").contains(scalar) || scalar == "-" || scalar == "."
    }

    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard let first = text.at(start), isAtext(first) else { return nil }
        if let before = text.at(start - 1), isAtext(before) || before == "." || before == "@" { return nil }
        // Local part, up to '@'.
        var index = start
        while true {
            guard let scalar = text.at(index) else { return nil }
            if scalar == "@" { break }
            guard isAtext(scalar) || scalar == "." else { return nil }
            index += 1
            if index - start > 64 { return nil }
        }
        let local = text.string(start..<index)
        guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else { return nil }
        index += 1
        let domainStart = index
        while let scalar = text.at(index), isDomainScalar(scalar) {
            index += 1
            if index - domainStart > 253 { return nil }
        }
        var end = index
        while end > domainStart, let last = text.at(end - 1), last == "." || last == "-" { end -= 1 }
        guard end > domainStart else { return nil }
        let domain = text.string(domainStart..<end)
        guard isValidDomain(domain) else { return nil }
        return DetectorMatch(range: start..<end, value: local + "@" + domain)
    }

    static func isValidDomain(_ domain: String) -> Bool {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        for label in labels {
            guard !label.isEmpty, label.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-") else { return false }
        }
        let top = labels[labels.count - 1]
        return (top.count >= 2 && top.unicodeScalars.allSatisfy { ("a"..."z").contains($0) }) || top.hasPrefix("xn--")
    }
}
