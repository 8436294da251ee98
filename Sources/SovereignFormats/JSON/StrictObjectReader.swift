/// Reads one JSON object of one of our own schemas field by field, with
/// errors that name the field (`model.sha256: must be 64 lowercase hex
/// characters`), and refuses fields it was not asked about: a misspelt key
/// in a spec must be an error, not a silently ignored setting.
/// (In-toto documents are read with `JSONObjectReader`, which ignores
/// unknown fields as the in-toto parsing rules require.)
public struct StrictObjectReader {
    public let source: String
    /// Dotted path of this object inside the document ("" for the root).
    public let path: String
    private let members: [String: JSONValue]
    private var consumed: Set<String> = []

    public init(_ value: JSONValue, source: String, path: String = "") throws(FormatsError) {
        guard let members = value.objectValue else {
            throw FormatsError(source: source, reason: "\(path.isEmpty ? "document" : path): must be an object, got \(value.typeName)")
        }
        self.source = source
        self.path = path
        self.members = members
    }

    /// Parses `bytes` strictly and reads the root object.
    public init(parsing bytes: [UInt8], source: String) throws(FormatsError) {
        try self.init(try JSONParser.parse(bytes, source: source), source: source)
    }

    public func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func error(_ key: String, _ reason: String) -> FormatsError {
        FormatsError(source: source, reason: "\(key.isEmpty ? path : fieldPath(key)): \(reason)")
    }

    public mutating func optionalValue(_ key: String) -> JSONValue? {
        consumed.insert(key)
        return members[key]
    }

    public mutating func value(_ key: String) throws(FormatsError) -> JSONValue {
        guard let value = optionalValue(key) else {
            throw FormatsError(source: source, reason: "missing field '\(fieldPath(key))'")
        }
        return value
    }

    public mutating func optionalString(_ key: String) throws(FormatsError) -> String? {
        guard let value = optionalValue(key) else { return nil }
        guard let text = value.stringValue else { throw error(key, "must be a string, got \(value.typeName)") }
        return text
    }

    public mutating func string(_ key: String) throws(FormatsError) -> String {
        let value = try value(key)
        guard let text = value.stringValue else { throw error(key, "must be a string, got \(value.typeName)") }
        return text
    }

    /// A string that must not be empty.
    public mutating func nonEmptyString(_ key: String) throws(FormatsError) -> String {
        let text = try string(key)
        guard !text.isEmpty else { throw error(key, "must not be empty") }
        return text
    }

    public mutating func optionalInteger(_ key: String, in range: ClosedRange<Int64>? = nil) throws(FormatsError) -> Int64? {
        guard let value = optionalValue(key) else { return nil }
        guard case .integer(let number) = value else { throw error(key, "must be an integer, got \(value.typeName)") }
        if let range, !range.contains(number) {
            throw error(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
        }
        return number
    }

    public mutating func integer(_ key: String, in range: ClosedRange<Int64>? = nil) throws(FormatsError) -> Int64 {
        guard let number = try optionalInteger(key, in: range) else {
            throw FormatsError(source: source, reason: "missing field '\(fieldPath(key))'")
        }
        return number
    }

    public mutating func optionalNumber(_ key: String) throws(FormatsError) -> Double? {
        guard let value = optionalValue(key) else { return nil }
        switch value {
        case .integer(let i): return Double(i)
        case .number(let d): return d
        default: throw error(key, "must be a number, got \(value.typeName)")
        }
    }

    public mutating func optionalBool(_ key: String) throws(FormatsError) -> Bool? {
        guard let value = optionalValue(key) else { return nil }
        guard case .bool(let flag) = value else { throw error(key, "must be true or false, got \(value.typeName)") }
        return flag
    }

    public mutating func optionalObject(_ key: String) throws(FormatsError) -> StrictObjectReader? {
        guard let value = optionalValue(key) else { return nil }
        return try StrictObjectReader(value, source: source, path: fieldPath(key))
    }

    public mutating func object(_ key: String) throws(FormatsError) -> StrictObjectReader {
        try StrictObjectReader(try value(key), source: source, path: fieldPath(key))
    }

    public mutating func optionalArray(_ key: String) throws(FormatsError) -> [JSONValue]? {
        guard let value = optionalValue(key) else { return nil }
        guard let array = value.arrayValue else { throw error(key, "must be an array, got \(value.typeName)") }
        return array
    }

    public mutating func array(_ key: String) throws(FormatsError) -> [JSONValue] {
        guard let array = try optionalArray(key) else {
            throw FormatsError(source: source, reason: "missing field '\(fieldPath(key))'")
        }
        return array
    }

    /// An array of strings.
    public mutating func optionalStrings(_ key: String) throws(FormatsError) -> [String]? {
        guard let array = try optionalArray(key) else { return nil }
        var strings: [String] = []
        for (i, element) in array.enumerated() {
            guard let text = element.stringValue else { throw error("\(key)[\(i)]", "must be a string, got \(element.typeName)") }
            strings.append(text)
        }
        return strings
    }

    /// Readers for each object in an array field.
    public mutating func objects(_ key: String) throws(FormatsError) -> [StrictObjectReader] {
        var readers: [StrictObjectReader] = []
        for (i, element) in try array(key).enumerated() {
            readers.append(try StrictObjectReader(element, source: source, path: "\(fieldPath(key))[\(i)]"))
        }
        return readers
    }

    /// Every member, sorted by key, all marked as read: for objects whose
    /// keys are data (digests, names) rather than field names.
    public mutating func allMembers() -> [(key: String, value: JSONValue)] {
        consumed.formUnion(members.keys)
        return members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    /// Fails if the object has a field nobody asked for.
    public func finish() throws(FormatsError) {
        if let unknown = members.keys.sorted().first(where: { !consumed.contains($0) }) {
            throw FormatsError(source: source, reason: "unknown field '\(fieldPath(unknown))'")
        }
    }
}
