/// Text made safe to print on a terminal. Whatever a command prints may
/// come from an image, a root or a model (a title, an error naming a
/// hostile field, an answer), so every line goes through here: control
/// characters (C0 but tab, and newline where allowed; DEL; C1, whose U+009B
/// is a CSI on some terminals), bidirectional overrides and isolates (text
/// that displays in another order than it reads) and the Unicode line and
/// paragraph separators are shown as `\u{XXXX}` instead of acting.
enum TerminalText {
    static func escape(_ text: String, keepingNewlines: Bool) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isInert(scalar, keepingNewlines: keepingNewlines) {
                out.append(scalar)
            } else {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            }
        }
        return String(out)
    }

    private static func isInert(_ scalar: Unicode.Scalar, keepingNewlines: Bool) -> Bool {
        switch scalar.value {
        case 0x09: return true
        case 0x0A: return keepingNewlines
        case 0x00...0x1F, 0x7F...0x9F: return false
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: return false
        default: return true
        }
    }
}
