import Foundation

/// The JSON Canonicalization Scheme (RFC 8785): object keys sorted by
/// UTF-16 code units, no insignificant whitespace, minimal string escaping,
/// numbers in ECMAScript's shortest form. Every JSON file we sign or hash is
/// written this way, so the same content always has the same bytes.
public enum CanonicalJSON {
    /// Serialises a parsed value.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out)
        return out
    }

    /// Serialises any `Encodable` canonically.
    public static func encode<T: Encodable>(_ value: T) throws(FormatsError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(value) } catch {
            throw FormatsError(source: String(describing: T.self), reason: "cannot be encoded as JSON: \(error)")
        }
        return serialize(try JSONParser.parse(Array(data), source: String(describing: T.self)))
    }

    /// Reformats a JSON document canonically (parse strictly, then serialise).
    public static func canonicalize(_ bytes: [UInt8], source: String) throws(FormatsError) -> [UInt8] {
        serialize(try JSONParser.parse(bytes, source: source))
    }

    private static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .integer(let i): out += Array(String(i).utf8)
        case .number(let d): out += Array(formatNumber(d).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.key.utf16.lexicographicallyPrecedes($1.key.utf16) }
            for (i, member) in sorted.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0..<0x20:
                out += Array("\\u00".utf8) + [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3),
    /// built from Swift's shortest round-trip digits.
    static func formatNumber(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value == value.rounded(), abs(value) < 1e21, let exact = Int64(exactly: value) { return String(exact) }
        let sign = value < 0 ? "-" : ""
        // Swift's description is the shortest round-trip form: "1.5e-07", "123.456".
        let text = "\(abs(value))"
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let pointIndex = mantissa.firstIndex(of: ".") ?? mantissa.endIndex
        let integerDigits = mantissa.distance(from: mantissa.startIndex, to: pointIndex)
        var digits = Array(mantissa.filter { $0 != "." })
        // value = 0.d1d2…dk × 10^n
        var n = integerDigits + exponent
        while digits.first == "0" { digits.removeFirst(); n -= 1 }
        while digits.last == "0" { digits.removeLast() }
        let k = digits.count
        let d = String(digits)
        if k <= n && n <= 21 { return sign + d + String(repeating: "0", count: n - k) }
        if 0 < n && n <= 21 { return sign + String(digits[0..<n]) + "." + String(digits[n...]) }
        if -6 < n && n <= 0 { return sign + "0." + String(repeating: "0", count: -n) + d }
        let e = n - 1
        let exponentText = (e < 0 ? "-" : "+") + String(abs(e))
        let head = k == 1 ? d : String(digits[0]) + "." + String(digits[1...])
        return sign + head + "e" + exponentText
    }
}
