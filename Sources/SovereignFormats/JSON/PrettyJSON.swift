/// JSON for files people read and edit (trust policies): object keys
/// sorted as `CanonicalJSON` sorts them (UTF-16 code units), two-space
/// indentation, one member or element per line, `"key": value`. Strings and
/// numbers are written by `CanonicalJSON` itself, so the escaping is the
/// same byte for byte and the same content always has the same bytes.
///
/// Empty arrays and objects stay on one line (`[]`, `{}`). No trailing
/// newline: callers writing a file append one.
public enum PrettyJSON {
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        write(value, depth: 0, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, depth: Int, into out: inout [UInt8]) {
        switch value {
        case .array(let elements):
            guard !elements.isEmpty else { out += Array("[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1, into: &out)
                write(element, depth: depth + 1, into: &out)
            }
            newline(depth, into: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { out += Array("{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.key.utf16.lexicographicallyPrecedes($1.key.utf16) }
            for (i, member) in sorted.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth + 1, into: &out)
                out += CanonicalJSON.serialize(.string(member.key))
                out += Array(": ".utf8)
                write(member.value, depth: depth + 1, into: &out)
            }
            newline(depth, into: &out)
            out.append(UInt8(ascii: "}"))
        default:
            // Scalars: exactly the canonical form.
            out += CanonicalJSON.serialize(value)
        }
    }

    private static func newline(_ depth: Int, into out: inout [UInt8]) {
        out.append(0x0A)
        out += [UInt8](repeating: 0x20, count: 2 * depth)
    }
}
