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

    /// Transitional: lets generic code still written against `Decodable`
    /// (SovereignImage's `decode<T: Decodable>` helpers) compile, and reads
    /// through the same `JSONObjectReader` as the overload above: there is
    /// no Foundation decoder behind it. `T` must also be
    /// `JSONObjectDecodable` (a programmer error otherwise, so it traps).
    /// Remove once those helpers are constrained to `JSONObjectDecodable`,
    /// together with the OCI types' `Decodable` conformances.
    @_disfavoredOverload
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], source: String) throws(FormatsError) -> T {
        guard let readable = T.self as? any JSONObjectDecodable.Type else {
            preconditionFailure("StrictJSON.decode: \(T.self) does not conform to JSONObjectDecodable")
        }
        // Opens the existential metatype, so the reader runs as `U`'s own.
        func read<U: JSONObjectDecodable>(_ type: U.Type) throws(FormatsError) -> any JSONObjectDecodable {
            try decode(U.self, from: bytes, source: source)
        }
        return try read(readable) as! T
    }
}
