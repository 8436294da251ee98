/// A relative path that is safe to create under an extraction root: valid
/// UTF-8, no control characters, not absolute, and no component that is
/// empty, `.` or `..`. Compared by bytes, never by Swift's `String ==`
/// (which treats canonically equivalent Unicode as equal, while a file
/// system sees two different names).
struct SafeTarPath: Hashable, Sendable {
    /// The path's bytes, components joined by "/" (no leading "./", no trailing "/").
    let bytes: [UInt8]
    let components: [String]

    var string: String { components.joined(separator: "/") }

    /// Every proper ancestor, outermost first ("a", "a/b" for "a/b/c").
    var ancestors: [SafeTarPath] {
        (1..<components.count).map { SafeTarPath(components: Array(components[..<$0])) }
    }

    var parentComponents: ArraySlice<String> { components.dropLast() }
    var name: String { components[components.count - 1] }

    /// From components already checked (a prefix of a parsed path).
    init(components: [String]) {
        self.components = components
        bytes = Array(components.joined(separator: "/").utf8)
    }

    static func == (lhs: SafeTarPath, rhs: SafeTarPath) -> Bool { lhs.bytes == rhs.bytes }
    func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    /// How strictly to read a name.
    enum Form {
        /// As a tar entry writes it: one leading "./" is dropped, and a
        /// directory's one trailing "/".
        case archiveEntry(isDirectory: Bool)
        /// As the signed list writes it: exactly the canonical form.
        case canonical
    }

    /// Parses raw name bytes; on failure, returns why (a phrase that
    /// follows the name: "… is an absolute path").
    static func parse(_ raw: [UInt8], as form: Form) -> Result<SafeTarPath, Refusal> {
        if raw.isEmpty { return .failure(Refusal("has an empty name")) }
        guard let text = String(validating: raw, as: UTF8.self) else {
            return .failure(Refusal("is not valid UTF-8"))
        }
        if text.unicodeScalars.contains(where: isControl) {
            return .failure(Refusal("contains a control character (names are printed in logs and terminals)"))
        }
        if raw.first == UInt8(ascii: "/") { return .failure(Refusal("is an absolute path")) }
        var body = Substring(text)
        if case .archiveEntry(let isDirectory) = form {
            if body.hasPrefix("./") { body = body.dropFirst(2) }
            if isDirectory, body.hasSuffix("/") { body = body.dropLast() }
            if body.isEmpty { return .failure(Refusal("names the extraction root itself ('\(text)')")) }
        }
        // omittingEmptySubsequences: false, so "a//b" and "a/" show their empty component.
        let parts = body.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") { return .failure(Refusal("has a '..' component")) }
        if parts.contains(".") { return .failure(Refusal("has a '.' component")) }
        if parts.contains("") { return .failure(Refusal("has an empty component ('//' or a trailing '/')")) }
        return .success(SafeTarPath(components: parts.map(String.init)))
    }

    /// C0 controls, DEL and C1 controls (U+0080–U+009F; some terminals act on CSI, U+009B).
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// A name as it may be shown in an error: valid UTF-8 text as is;
    /// control characters, backslashes and invalid bytes as `\xNN`, so a
    /// hostile name can neither rewrite a terminal nor forge a log line.
    static func display(_ raw: [UInt8]) -> String {
        var out = ""
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = raw.makeIterator()
        func escape<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
            for byte in bytes {
                let hex = String(byte, radix: 16, uppercase: false)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        var consumed = 0
        loop: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if isControl(scalar) || scalar == "\\" { escape(encoded) } else { out.unicodeScalars.append(scalar) }
                consumed += encoded.count
            case .error(let length):
                escape(raw[consumed..<(consumed + length)])
                consumed += length
            case .emptyInput:
                break loop
            }
        }
        return out
    }

    /// Why a name was refused.
    struct Refusal: Error, Sendable {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
