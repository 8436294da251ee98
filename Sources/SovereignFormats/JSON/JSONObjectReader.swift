import SovereignCrypto

/// Reads one JSON object field by field: the one way every JSON document in
/// Sovereign is read, ours and the standard formats alike.
///
/// - Typed accessors (`string`, `integer(_:in:)`, `object`, `objects`,
///   `stringMap`, `sha256`, `digestSet`, …) whose errors name the field by
///   its full path inside the document: `missing field
///   'runDetails.builder.id'`, `files[3].sha256: must be a string, got
///   number`, `unknown field 'rules[3].maxChars'`.
/// - A `Mode`: `.strict` for our own schemas (a field nobody read is an
///   error, so a misspelt key cannot silently become a default), or
///   `.ignoringUnknownFields` for standard formats whose specs tell
///   consumers to ignore what they do not know (in-toto, SLSA, CycloneDX,
///   OCI).
/// - The unknown-field check runs by itself: `read(parsing:…)`,
///   `read(_:…)`, `object(_:_:)`, `objects(_:_:)`, `decode(_:_:)` and
///   `StrictJSON.decode` call `finish()` when the closure or initialiser
///   returns, so a caller cannot forget it.
///
/// ```swift
/// let settings = try JSONObjectReader.read(parsing: bytes, source: path, mode: .strict) { root throws(FormatsError) in
///     let retries = try root.integer("maxAttempts", in: 1...16)
///     let seed = try root.object("decoding") { decoding throws(FormatsError) in
///         try decoding.optionalInteger("seed") ?? 0
///     }
///     return (retries, seed)
/// }
/// ```
///
/// (Closures name their thrown type, `throws(FormatsError)`: Swift does not
/// infer it for a generic result.)
///
/// Duplicate keys, invalid UTF-8 and the like never get this far:
/// `JSONParser` refuses them.
public struct JSONObjectReader {
    /// What happens to fields the reader is not asked about, and to `null`.
    public struct Mode: Sendable, Equatable {
        /// Whether `finish()` refuses fields nobody read.
        public var refusesUnknownFields: Bool
        /// Whether an optional field holding `null` reads as absent (as
        /// Go's encoding/json, Foundation's `Codable` and protobuf's JSON
        /// mapping read it). When false, `null` is a value of the wrong
        /// type. Required fields never accept `null`.
        public var readsNullAsAbsent: Bool

        public init(refusesUnknownFields: Bool, readsNullAsAbsent: Bool) {
            self.refusesUnknownFields = refusesUnknownFields
            self.readsNullAsAbsent = readsNullAsAbsent
        }

        /// Our own schemas: every field must be one the reader asked for.
        public static let strict = Mode(refusesUnknownFields: true, readsNullAsAbsent: false)
        /// Standard formats whose specs say consumers ignore unknown fields.
        public static let ignoringUnknownFields = Mode(refusesUnknownFields: false, readsNullAsAbsent: false)

        /// This mode, reading an optional `null` as absent.
        public var readingNullAsAbsent: Mode {
            var mode = self
            mode.readsNullAsAbsent = true
            return mode
        }
    }

    /// Names the document in errors (usually a file path).
    public let source: String
    /// Dotted path of this object inside the document ("" for the root).
    public let path: String
    public let mode: Mode
    private let members: [String: JSONValue]
    /// Keys asked about, present or not.
    private var consumed: Set<String> = []

    // MARK: - Entry points

    /// Parses `bytes` strictly (`JSONParser`), hands the root object to
    /// `body`, then checks for unknown fields. `what` names the root in the
    /// one error that has no path ("a trust policy must be a JSON object").
    public static func read<T>(parsing bytes: [UInt8], source: String, mode: Mode, what: String = "the document",
                               _ body: (inout JSONObjectReader) throws(FormatsError) -> T) throws(FormatsError) -> T {
        try read(try JSONParser.parse(bytes, source: source), source: source, mode: mode, what: what, body)
    }

    /// Reads a parsed value, which must be an object, then checks for
    /// unknown fields. `path` places it inside a larger document
    /// (`buildDefinition.resolvedDependencies[2]`).
    public static func read<T>(_ value: JSONValue, source: String, path: String = "", mode: Mode, what: String = "the document",
                               _ body: (inout JSONObjectReader) throws(FormatsError) -> T) throws(FormatsError) -> T {
        var reader = try JSONObjectReader(value, source: source, path: path, mode: mode, what: what)
        let result = try body(&reader)
        try reader.finish()
        return result
    }

    /// A reader the caller must `finish()` itself. Prefer `read`, `object`,
    /// `objects` and `decode`, which finish for you; this form remains for
    /// code written against the former `StrictObjectReader`.
    public init(_ value: JSONValue, source: String, path: String = "", mode: Mode = .strict,
                what: String = "the document") throws(FormatsError) {
        guard case .object(let members) = value else {
            let reason = path.isEmpty
                ? "\(what) must be a JSON object, got \(value.typeName)"
                : "\(path): must be an object, got \(value.typeName)"
            throw FormatsError(source: source, reason: reason)
        }
        self.source = source
        self.path = path
        self.mode = mode
        self.members = members
    }

    /// Parses `bytes` and reads the root object; the caller must `finish()`.
    /// Prefer `read(parsing:source:mode:what:_:)`.
    public init(parsing bytes: [UInt8], source: String, mode: Mode = .strict) throws(FormatsError) {
        try self.init(try JSONParser.parse(bytes, source: source), source: source, mode: mode)
    }

    /// Refuses (in `.strict` mode) the first field, in key order, that no
    /// accessor asked about. Called for you by every closure-taking entry
    /// point.
    public func finish() throws(FormatsError) {
        guard mode.refusesUnknownFields else { return }
        let unread = members.keys.filter { !consumed.contains($0) }
        if let unknown = unread.min(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            throw FormatsError(source: source, reason: "unknown field '\(fieldPath(unknown))'")
        }
    }

    // MARK: - Paths and errors

    /// The full path of a member: `runDetails.builder` + `id`.
    public func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// An error about `key` (`"<path>.<key>: <reason>"`); an empty key
    /// means this object itself.
    public func error(_ key: String, _ reason: String) -> FormatsError {
        let subject = key.isEmpty ? path : fieldPath(key)
        return FormatsError(source: source, reason: subject.isEmpty ? reason : "\(subject): \(reason)")
    }

    private func missing(_ key: String) -> FormatsError {
        FormatsError(source: source, reason: "missing field '\(fieldPath(key))'")
    }

    private func wrongType(_ key: String, _ expected: String, _ value: JSONValue) -> FormatsError {
        error(key, "must be \(expected), got \(value.typeName)")
    }

    // MARK: - Raw members

    /// The member names, sorted by their UTF-8 bytes; for objects whose
    /// keys are data (digests, names, levels). Marks nothing as read.
    public var keys: [String] {
        members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Whether `key` is present (a `null` counts as absent when the mode
    /// reads null as absent). Marks nothing as read.
    public func has(_ key: String) -> Bool {
        guard let value = members[key] else { return false }
        return !(mode.readsNullAsAbsent && value == .null)
    }

    /// The member as it is, marked as read with everything inside it: for
    /// values kept whole (parameters, annotations, an echoed sub-document).
    public mutating func optionalValue(_ key: String) -> JSONValue? {
        consumed.insert(key)
        guard let value = members[key], !(mode.readsNullAsAbsent && value == .null) else { return nil }
        return value
    }

    /// A required member as it is.
    public mutating func value(_ key: String) throws(FormatsError) -> JSONValue {
        consumed.insert(key)
        guard let value = members[key] else { throw missing(key) }
        return value
    }

    /// Every member, sorted by key and all marked as read: for objects whose
    /// keys are data rather than field names.
    public mutating func allMembers() -> [(key: String, value: JSONValue)] {
        consumed.formUnion(members.keys)
        return keys.map { ($0, members[$0]!) }
    }

    // MARK: - Strings

    /// A required string (it may be empty).
    public mutating func string(_ key: String) throws(FormatsError) -> String {
        let value = try value(key)
        guard case .string(let text) = value else { throw wrongType(key, "a string", value) }
        return text
    }

    /// An optional string (it may be empty).
    public mutating func optionalString(_ key: String) throws(FormatsError) -> String? {
        guard let value = optionalValue(key) else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, "a string", value) }
        return text
    }

    /// A required string that must not be empty.
    public mutating func nonEmptyString(_ key: String) throws(FormatsError) -> String {
        let text = try string(key)
        guard !text.isEmpty else { throw error(key, "must not be empty") }
        return text
    }

    /// An optional string that, when present, must not be empty.
    public mutating func optionalNonEmptyString(_ key: String) throws(FormatsError) -> String? {
        guard let text = try optionalString(key) else { return nil }
        guard !text.isEmpty else { throw error(key, "must not be empty") }
        return text
    }

    /// A required RFC 3339 UTC timestamp in the form in-toto and CycloneDX
    /// use (`2025-01-02T03:04:05Z`, an optional fraction).
    public mutating func timestamp(_ key: String) throws(FormatsError) -> String {
        guard let text = try optionalTimestamp(key) else { throw missing(key) }
        return text
    }

    /// An optional RFC 3339 UTC timestamp.
    public mutating func optionalTimestamp(_ key: String) throws(FormatsError) -> String? {
        guard let text = try optionalString(key) else { return nil }
        guard RFC3339.isValidUTC(text) else {
            throw error(key, "must be an RFC 3339 UTC timestamp like 2025-01-02T03:04:05Z, got '\(text)'")
        }
        return text
    }

    // MARK: - Numbers and booleans

    /// A required integer (a JSON number without fraction or exponent),
    /// inside `range` when one is given.
    public mutating func integer(_ key: String, in range: ClosedRange<Int64>? = nil) throws(FormatsError) -> Int64 {
        guard let number = try optionalInteger(key, in: range, nullIsAbsent: false) else { throw missing(key) }
        return number
    }

    /// An optional integer, inside `range` when present and one is given.
    public mutating func optionalInteger(_ key: String, in range: ClosedRange<Int64>? = nil) throws(FormatsError) -> Int64? {
        try optionalInteger(key, in: range, nullIsAbsent: mode.readsNullAsAbsent)
    }

    private mutating func optionalInteger(_ key: String, in range: ClosedRange<Int64>?,
                                          nullIsAbsent: Bool) throws(FormatsError) -> Int64? {
        consumed.insert(key)
        guard let value = members[key], !(nullIsAbsent && value == .null) else { return nil }
        guard case .integer(let number) = value else { throw wrongType(key, "an integer", value) }
        if let range, !range.contains(number) {
            let bounds = range.upperBound == .max ? "\(range.lowerBound) or more"
                : range.lowerBound == .min ? "\(range.upperBound) or less"
                : "between \(range.lowerBound) and \(range.upperBound)"
            throw error(key, "must be \(bounds), got \(number)")
        }
        return number
    }

    /// An optional number, integer or not.
    public mutating func optionalNumber(_ key: String) throws(FormatsError) -> Double? {
        guard let value = optionalValue(key) else { return nil }
        switch value {
        case .integer(let integer): return Double(integer)
        case .number(let number): return number
        default: throw wrongType(key, "a number", value)
        }
    }

    /// A required `true` or `false`.
    public mutating func bool(_ key: String) throws(FormatsError) -> Bool {
        let value = try value(key)
        guard case .bool(let flag) = value else { throw wrongType(key, "true or false", value) }
        return flag
    }

    /// An optional `true` or `false`.
    public mutating func optionalBool(_ key: String) throws(FormatsError) -> Bool? {
        guard let value = optionalValue(key) else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, "true or false", value) }
        return flag
    }

    // MARK: - Digests

    /// A required SHA-256 digest written as 64 lowercase hex characters.
    public mutating func sha256(_ key: String) throws(FormatsError) -> SHA256Digest {
        guard let digest = try optionalSHA256(key) else { throw missing(key) }
        return digest
    }

    /// An optional SHA-256 digest (64 lowercase hex characters).
    public mutating func optionalSHA256(_ key: String) throws(FormatsError) -> SHA256Digest? {
        guard let text = try optionalString(key) else { return nil }
        guard let digest = SHA256Digest(hex: text) else {
            throw error(key, "must be a SHA-256 digest (64 lowercase hex characters), got '\(text)'")
        }
        return digest
    }

    /// The in-toto `digest` field (a DigestSet: algorithm → lowercase hex),
    /// required and checked by `DigestSet.problem(in:)`. Its problems are
    /// reported against this object (`subject[0]: digest 'sha256' must be
    /// 64 lowercase hex characters, got 'AB'`).
    public mutating func digestSet() throws(FormatsError) -> [String: String] {
        guard let digests = try optionalDigestSet() else { throw missing("digest") }
        return digests
    }

    /// The in-toto `digest` field when present; an empty set is refused.
    public mutating func optionalDigestSet() throws(FormatsError) -> [String: String]? {
        guard let digests = try optionalStringMap("digest") else { return nil }
        if let problem = DigestSet.problem(in: digests) { throw error("", problem) }
        return digests
    }

    // MARK: - Objects

    /// A required object, read by `body` and then finished (in `.strict`
    /// mode, its unknown fields are refused). It inherits this reader's mode.
    public mutating func object<T>(_ key: String,
                                   _ body: (inout JSONObjectReader) throws(FormatsError) -> T) throws(FormatsError) -> T {
        try Self.read(try value(key), source: source, path: fieldPath(key), mode: mode, body)
    }

    /// An optional object, read by `body` and then finished.
    public mutating func optionalObject<T>(_ key: String,
                                           _ body: (inout JSONObjectReader) throws(FormatsError) -> T) throws(FormatsError) -> T? {
        guard let value = optionalValue(key) else { return nil }
        return try Self.read(value, source: source, path: fieldPath(key), mode: mode, body)
    }

    /// A required object of a type that reads itself, in that type's mode.
    public mutating func decode<T: JSONObjectDecodable>(_ type: T.Type, _ key: String) throws(FormatsError) -> T {
        try T.read(try value(key), source: source, path: fieldPath(key))
    }

    /// An optional object of a type that reads itself.
    public mutating func decodeIfPresent<T: JSONObjectDecodable>(_ type: T.Type, _ key: String) throws(FormatsError) -> T? {
        guard let value = optionalValue(key) else { return nil }
        return try T.read(value, source: source, path: fieldPath(key))
    }

    /// A required object kept as raw members (external parameters,
    /// annotations): everything inside counts as read.
    public mutating func rawObject(_ key: String) throws(FormatsError) -> [String: JSONValue] {
        let value = try value(key)
        guard case .object(let members) = value else { throw wrongType(key, "an object", value) }
        return members
    }

    /// An optional object kept as raw members.
    public mutating func optionalRawObject(_ key: String) throws(FormatsError) -> [String: JSONValue]? {
        guard let value = optionalValue(key) else { return nil }
        guard case .object(let members) = value else { throw wrongType(key, "an object", value) }
        return members
    }

    /// A required object whose values are all strings (annotations,
    /// labels, a version map); its keys are data, so none is unknown.
    public mutating func stringMap(_ key: String) throws(FormatsError) -> [String: String] {
        guard let map = try optionalStringMap(key, nullIsAbsent: false) else { throw missing(key) }
        return map
    }

    /// An optional object whose values are all strings.
    public mutating func optionalStringMap(_ key: String) throws(FormatsError) -> [String: String]? {
        try optionalStringMap(key, nullIsAbsent: mode.readsNullAsAbsent)
    }

    private mutating func optionalStringMap(_ key: String, nullIsAbsent: Bool) throws(FormatsError) -> [String: String]? {
        consumed.insert(key)
        guard let value = members[key], !(nullIsAbsent && value == .null) else { return nil }
        guard case .object(let members) = value else { throw wrongType(key, "an object", value) }
        var map: [String: String] = [:]
        for (name, member) in members {
            guard case .string(let text) = member else {
                throw error("\(key).\(name)", "must be a string, got \(member.typeName)")
            }
            map[name] = text
        }
        return map
    }

    // MARK: - Arrays

    /// A required array of objects, each read by `body` with its path
    /// (`keys[2]`) and then finished.
    public mutating func objects<T>(_ key: String,
                                    _ body: (inout JSONObjectReader) throws(FormatsError) -> T) throws(FormatsError) -> [T] {
        var results: [T] = []
        for (index, element) in try array(key).enumerated() {
            results.append(try Self.read(element, source: source, path: "\(fieldPath(key))[\(index)]", mode: mode, body))
        }
        return results
    }

    /// An optional array of objects, each read by `body` and then finished.
    public mutating func optionalObjects<T>(_ key: String,
                                            _ body: (inout JSONObjectReader) throws(FormatsError) -> T) throws(FormatsError) -> [T]? {
        guard has(key) else { consumed.insert(key); return nil }
        return try objects(key, body)
    }

    /// A required array of objects of a type that reads itself.
    public mutating func decodeArray<T: JSONObjectDecodable>(_ type: T.Type, _ key: String) throws(FormatsError) -> [T] {
        var results: [T] = []
        for (index, element) in try array(key).enumerated() {
            results.append(try T.read(element, source: source, path: "\(fieldPath(key))[\(index)]"))
        }
        return results
    }

    /// An optional array of objects of a type that reads itself.
    public mutating func decodeArrayIfPresent<T: JSONObjectDecodable>(_ type: T.Type, _ key: String) throws(FormatsError) -> [T]? {
        guard has(key) else { consumed.insert(key); return nil }
        return try decodeArray(type, key)
    }

    /// A required array of strings (each may be empty).
    public mutating func strings(_ key: String) throws(FormatsError) -> [String] {
        var strings: [String] = []
        for (index, element) in try array(key).enumerated() {
            guard case .string(let text) = element else {
                throw error("\(key)[\(index)]", "must be a string, got \(element.typeName)")
            }
            strings.append(text)
        }
        return strings
    }

    /// An optional array of strings.
    public mutating func optionalStrings(_ key: String) throws(FormatsError) -> [String]? {
        guard has(key) else { consumed.insert(key); return nil }
        return try strings(key)
    }

    /// A required array, its elements as they are.
    public mutating func array(_ key: String) throws(FormatsError) -> [JSONValue] {
        let value = try value(key)
        guard case .array(let elements) = value else { throw wrongType(key, "an array", value) }
        return elements
    }

    /// An optional array, its elements as they are.
    public mutating func optionalArray(_ key: String) throws(FormatsError) -> [JSONValue]? {
        guard let value = optionalValue(key) else { return nil }
        guard case .array(let elements) = value else { throw wrongType(key, "an array", value) }
        return elements
    }

    // MARK: - Readers the caller finishes (the former StrictObjectReader)

    /// A reader for a required object; the caller must `finish()` it.
    /// Prefer `object(_:_:)`.
    public mutating func object(_ key: String) throws(FormatsError) -> JSONObjectReader {
        try JSONObjectReader(try value(key), source: source, path: fieldPath(key), mode: mode)
    }

    /// A reader for an optional object; the caller must `finish()` it.
    /// Prefer `optionalObject(_:_:)`.
    public mutating func optionalObject(_ key: String) throws(FormatsError) -> JSONObjectReader? {
        guard let value = optionalValue(key) else { return nil }
        return try JSONObjectReader(value, source: source, path: fieldPath(key), mode: mode)
    }

    /// Readers for each object of an array; the caller must `finish()`
    /// each. Prefer `objects(_:_:)`.
    public mutating func objects(_ key: String) throws(FormatsError) -> [JSONObjectReader] {
        var readers: [JSONObjectReader] = []
        for (index, element) in try array(key).enumerated() {
            readers.append(try JSONObjectReader(element, source: source, path: "\(fieldPath(key))[\(index)]", mode: mode))
        }
        return readers
    }
}

/// The name the strict reader had before it and the lenient one became
/// `JSONObjectReader`; kept until SovereignImage and SovereignInstall move
/// to the new spelling.
