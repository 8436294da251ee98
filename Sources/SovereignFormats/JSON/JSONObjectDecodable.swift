/// A type that reads itself from one JSON object through a
/// `JSONObjectReader`, and says whether unknown fields are refused.
///
/// ```swift
/// extension OCIPlatform: JSONObjectDecodable {
///     public static let jsonReadingMode = JSONObjectReader.Mode.ignoringUnknownFields
///     public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
///         self.init(architecture: try reader.string("architecture"), os: try reader.string("os"))
///     }
/// }
/// let platform = try StrictJSON.decode(OCIPlatform.self, from: bytes, source: path)
/// ```
///
/// The initialiser reads the fields it knows; whoever calls it (the
/// `StrictJSON.decode` entry points, `JSONObjectReader.decode`) then
/// finishes the reader, so in `.strict` mode an unread field is an error
/// that no conforming type can forget to raise.
public protocol JSONObjectDecodable {
    /// `.strict` for our own schemas; `.ignoringUnknownFields` where the
    /// format's spec says consumers must ignore what they do not know.
    static var jsonReadingMode: JSONObjectReader.Mode { get }
    init(reading reader: inout JSONObjectReader) throws(FormatsError)
}

extension JSONObjectDecodable {
    /// Reads `value` at `path` in this type's mode, then finishes.
    static func read(_ value: JSONValue, source: String, path: String = "") throws(FormatsError) -> Self {
        try JSONObjectReader.read(value, source: source, path: path, mode: jsonReadingMode) { reader throws(FormatsError) in
            try Self(reading: &reader)
        }
    }
}

/// The entry points that turn JSON bytes into a typed value: the strict
/// parser (`JSONParser`: no duplicate keys, valid UTF-8, nothing after the
/// value), then the type's own reader, then the unknown-field check.
public enum StrictJSON {
    /// Parses `bytes` and reads them as `T`; `source` names the document in
    /// errors (`sovereign: <source>: <field path>: <reason>`).
    public static func decode<T: JSONObjectDecodable>(_ type: T.Type, from bytes: [UInt8], source: String) throws(FormatsError) -> T {
        try T.read(try JSONParser.parse(bytes, source: source), source: source)
    }

    /// Reads an already parsed document as `T`.
    public static func decode<T: JSONObjectDecodable>(_ type: T.Type, from value: JSONValue, source: String) throws(FormatsError) -> T {
        try T.read(value, source: source)
    }
}
