/// URLs with a scheme (`http://`, `https://`, `ftp://`) or starting `www.`:
/// a host that is a valid domain name (labels of letters, digits and inner
/// hyphens, an alphabetic top-level label) or a dotted IPv4 address with
/// octets up to 255, or `localhost`; an optional port up to 65535; then a
/// path, query and fragment up to white space (at most 2048 scalars).
/// Sentence punctuation at the end (`.`, `,`, `;`, `:`, `!`, `?`, quotes,
/// and a `)` without its `(`) is not part of it.
enum URLDetector {
    static let maxScalars = 2048
    static let schemes = ["https://", "http://", "ftp://"]

    static func match(at start: Int, in text: inout ScanText) -> DetectorMatch? {
        guard let first = text.at(start), first == "h" || first == "f" || first == "w" else { return nil }
        if let before = text.at(start - 1), before.isWordScalar || before == "." || before == "/" || before == "@" { return nil }
        var hostStart: Int?
        for scheme in schemes where hasPrefix(scheme, at: start, &text) {
            hostStart = start + scheme.unicodeScalars.count
            break
        }
        if hostStart == nil, hasPrefix("www.", at: start, &text) { hostStart = start }
        guard let hostStart else { return nil }
        var index = hostStart
        while let scalar = text.at(index), scalar.isASCIIDigit || ("a"..."z").contains(scalar) || scalar == "-" || scalar == "." {
            index += 1
            if index - start > maxScalars { return nil }
        }
        var hostEnd = index
        while hostEnd > hostStart, text.at(hostEnd - 1) == "." { hostEnd -= 1 }
        let host = text.string(hostStart..<hostEnd)
        guard isValidHost(host) else { return nil }
        index = hostEnd
        if text.at(index) == ":", text.isDigit(index + 1) {
            var port = 0
            var cursor = index + 1
            while let scalar = text.at(cursor), scalar.isASCIIDigit {
                port = port * 10 + Int(scalar.value - 48)
                cursor += 1
                if port > 65535 { return nil }
            }
            index = cursor
        }
        if let next = text.at(index), next == "/" || next == "?" || next == "#" {
            while let scalar = text.at(index), !scalar.isSpaceLike, scalar != "<", scalar != ">", scalar != "\"" {
                index += 1
                if index - start > maxScalars { break }
            }
        }
        // Sentence punctuation after the URL is not part of it.
        var end = index
        let body = text.string(start..<index)
        while end > hostEnd, let last = text.at(end - 1) {
            if ".,;:!?'\"".unicodeScalars.contains(last) || (last == ")" && !body.contains("(")) {
                end -= 1
            } else {
                break
            }
        }
        var value = text.string(start..<end)
        if value.hasSuffix("/") { value.removeLast() }
        return DetectorMatch(range: start..<end, value: value)
    }

    static func hasPrefix(_ prefix: String, at start: Int, _ text: inout ScanText) -> Bool {
        var index = start
        for scalar in prefix.unicodeScalars {
            guard text.at(index) == scalar else { return false }
            index += 1
        }
        return true
    }

    static func isValidHost(_ host: String) -> Bool {
        if host == "localhost" { return true }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count == 4, labels.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) {
            return labels.allSatisfy { Int($0)! <= 255 }
        }
        return EmailDetector.isValidDomain(host)
    }
}
