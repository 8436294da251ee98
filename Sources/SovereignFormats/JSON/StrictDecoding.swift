import Foundation

/// Decodes `Decodable` types from JSON after the strict parser has accepted
/// the bytes, turning Foundation's decoding errors into one readable line.
public enum StrictJSON {
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], source: String) throws(FormatsError) -> T {
        _ = try JSONParser.parse(bytes, source: source)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw FormatsError(source: source, reason: describe(error))
        }
    }

    /// One line for a DecodingError: which field, what was wrong.
    public static func describe(_ error: any Error) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let parts = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            return parts.isEmpty ? "document" : parts.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in '\(path(context.codingPath))'"
            return "missing field '\(key.stringValue)'\(parent)"
        case DecodingError.typeMismatch(let type, let context):
            return "field '\(path(context.codingPath))' should be \(typeName(type))"
        case DecodingError.valueNotFound(let type, let context):
            return "field '\(path(context.codingPath))' is null, expected \(typeName(type))"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? context.debugDescription
                : "field '\(path(context.codingPath))': \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is UInt64.Type, is Int32.Type, is UInt32.Type, is Double.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "of type \(name)"
        }
    }
}
