/// A relative path that is safe to create under an extraction root, parsed
/// and compared as bytes, never as Swift `String`s or `Character`s.
///
/// Why bytes: Swift splits and compares text by extended grapheme
/// clusters, so a "/" followed by a combining mark (U+0301), a zero-width
/// joiner, or preceded by a prepend mark (U+0600) is part of one
/// `Character`: `"../\u{301}x".split(separator: "/")` sees one harmless
/// component while `openat` sees `..`. And `String ==` treats canonically
/// equivalent spellings as equal while a file system sees two names. Here
/// the only separator is the byte 0x2F and every comparison is of bytes.
///
/// Names are also held to a conservative character set, the POSIX portable
/// filename set (`A-Z a-z 0-9 . _ -`), with no component that starts with
/// `.` or `-`. Why so strict: a signed image names a handful of files the
/// release engineer chose (a model, Markdown documents, JSON), so nothing
/// legitimate needs more, and every name that is left is the same on every
/// file system, in every normalisation form, in every terminal and shell
/// (no hidden files, no names that read as options, no look-alike
/// characters, no case where two spellings meet). Limits: at most
/// `maximumDepth` components, `maximumComponentLength` bytes a component
/// and `maximumLength` bytes in all, so every tree fits well within
/// PATH_MAX wherever it is installed and can be removed by path tools too.
public struct SafeTarPath: Hashable, Sendable {
    /// The path's bytes, components joined by 0x2F (no leading "./", no trailing "/").
    public let bytes: [UInt8]
    /// Each component's bytes: never empty, never "." or "..", never containing 0x2F.
    public let components: [[UInt8]]

    public static let maximumDepth = 16
    public static let maximumComponentLength = 255
    public static let maximumLength = 1024

    /// The path as text (always valid: the character set is ASCII).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Every proper ancestor, outermost first ("a", "a/b" for "a/b/c").
    var ancestors: [SafeTarPath] {
        (1..<components.count).map { SafeTarPath(components: Array(components[..<$0])) }
    }

    var parentComponents: ArraySlice<[UInt8]> { components.dropLast() }
    var name: [UInt8] { components[components.count - 1] }

    /// From components already checked (a prefix of a parsed path).
    init(components: [[UInt8]]) {
        self.components = components
        bytes = Array(components.joined(separator: [Self.slash]))
    }

    public static func == (lhs: SafeTarPath, rhs: SafeTarPath) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    static let slash = UInt8(ascii: "/")
    static let dot = UInt8(ascii: ".")

    /// How strictly to read a name.
    public enum Form: Sendable {
        /// As a tar entry writes it: one leading "./" is dropped, and a
        /// directory's one trailing "/".
        case archiveEntry(isDirectory: Bool)
        /// As the signed list writes it: exactly the canonical form.
        case canonical
    }

    /// Parses raw name bytes; on failure, returns why (a phrase that
    /// follows the name: "… is an absolute path").
    public static func parse(_ raw: [UInt8], as form: Form) -> Result<SafeTarPath, Refusal> {
        if raw.isEmpty { return .failure(Refusal("has an empty name")) }
        if raw.first == slash { return .failure(Refusal("is an absolute path")) }
        var body = raw[...]
        if case .archiveEntry(let isDirectory) = form {
            if body.starts(with: [dot, slash]) { body = body.dropFirst(2) }
            if isDirectory, body.last == slash { body = body.dropLast() }
            if body.isEmpty { return .failure(Refusal("names the extraction root itself")) }
        }
        if body.count > maximumLength {
            return .failure(Refusal("is \(body.count) bytes long, more than the \(maximumLength) allowed"))
        }
        // Split on the byte 0x2F only, keeping empty pieces so "a//b" and "a/" show them.
        let parts = body.split(separator: slash, omittingEmptySubsequences: false).map(Array.init)
        if parts.count > maximumDepth {
            return .failure(Refusal("is \(parts.count) components deep, more than the \(maximumDepth) allowed"))
        }
        for part in parts {
            if part.isEmpty { return .failure(Refusal("has an empty component ('//' or a trailing '/')")) }
            if part == [dot, dot] { return .failure(Refusal("has a '..' component")) }
            if part == [dot] { return .failure(Refusal("has a '.' component")) }
        }
        for part in parts {
            if let refusal = componentRefusal(part) { return .failure(refusal) }
        }
        return .success(SafeTarPath(components: parts))
    }

    /// Why one component falls outside the character set, or nil.
    static func componentRefusal(_ part: [UInt8]) -> Refusal? {
        if part.count > maximumComponentLength {
            return Refusal("has a component of \(part.count) bytes, more than the \(maximumComponentLength) allowed")
        }
        if let bad = part.first(where: { !isPortable($0) }) {
            let what: String
            if bad < 0x20 || bad == 0x7F { what = "a control character" }
            else if bad >= 0x80 { what = "a non-ASCII byte" }
            else { what = "the character '\(Character(Unicode.Scalar(bad)))'" }
            return Refusal("contains \(what); signed names use only A-Z a-z 0-9 . _ -")
        }
        if part.first == dot { return Refusal("has a component starting with '.' (hidden files are not allowed)") }
        if part.first == UInt8(ascii: "-") { return Refusal("has a component starting with '-' (it would read as an option)") }
        return nil
    }

    /// The POSIX portable filename character set.
    static func isPortable(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// A name as it may be shown in an error: valid UTF-8 text as is;
    /// control characters, backslashes and invalid bytes as `\xNN`, so a
    /// hostile name can neither rewrite a terminal nor forge a log line.
    public static func display(_ raw: [UInt8]) -> String {
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

    /// C0 controls, DEL and C1 controls (U+0080–U+009F; some terminals act on CSI, U+009B).
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// Why a name was refused.
    public struct Refusal: Error, Sendable {
        public let reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
