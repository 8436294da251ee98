/// Reads the members of one JSON object for the typed parsers (SLSA
/// provenance, VSA, CycloneDX), naming every field by its full path so an
/// error reads "missing field 'runDetails.builder.id'" rather than "missing
/// field 'id'".
///
/// Members it is not asked about are ignored: the in-toto parsing rules say
/// consumers must ignore fields they do not recognise.
struct JSONObjectReader {
    let members: [String: JSONValue]
    /// The dotted path of this object inside the document; empty for the root.
    let path: String
    let source: String

    /// Wraps `value`, which must be an object. `what` names the root
    /// ("a SLSA provenance predicate") when `path` is empty.
    init(_ value: JSONValue, path: String, source: String, what: String = "the document") throws(FormatsError) {
        guard case .object(let members) = value else {
            let reason = path.isEmpty
                ? "\(what) must be a JSON object, got \(value.typeName)"
                : "'\(path)' must be an object, got \(value.typeName)"
            throw FormatsError(source: source, reason: reason)
        }
        self.members = members
        self.path = path
        self.source = source
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func fail(_ reason: String) -> FormatsError { FormatsError(source: source, reason: reason) }

    func has(_ key: String) -> Bool { members[key] != nil }

    private func required(_ key: String) throws(FormatsError) -> JSONValue {
        guard let value = members[key] else { throw fail("missing field '\(fieldPath(key))'") }
        return value
    }

    // MARK: - Strings

    /// A required, non-empty string.
    func string(_ key: String) throws(FormatsError) -> String {
        try nonEmptyString(key, try required(key))
    }

    /// An optional string; when present it must be a non-empty string.
    func optionalString(_ key: String) throws(FormatsError) -> String? {
        guard let value = members[key] else { return nil }
        return try nonEmptyString(key, value)
    }

    private func nonEmptyString(_ key: String, _ value: JSONValue) throws(FormatsError) -> String {
        guard case .string(let text) = value else {
            throw fail("'\(fieldPath(key))' must be a string, got \(value.typeName)")
        }
        guard !text.isEmpty else { throw fail("'\(fieldPath(key))' must not be empty") }
        return text
    }

    /// An optional RFC 3339 UTC timestamp (`2025-01-02T03:04:05Z`).
    func optionalTimestamp(_ key: String) throws(FormatsError) -> String? {
        guard let text = try optionalString(key) else { return nil }
        guard RFC3339.isValidUTC(text) else {
            throw fail("'\(fieldPath(key))' must be an RFC 3339 UTC timestamp like 2025-01-02T03:04:05Z, got '\(text)'")
        }
        return text
    }

    /// A required RFC 3339 UTC timestamp.
    func timestamp(_ key: String) throws(FormatsError) -> String {
        guard let text = try optionalTimestamp(key) else { throw fail("missing field '\(fieldPath(key))'") }
        return text
    }

    // MARK: - Numbers

    /// A required integer.
    func integer(_ key: String) throws(FormatsError) -> Int64 {
        let value = try required(key)
        guard case .integer(let number) = value else {
            throw fail("'\(fieldPath(key))' must be an integer, got \(value.typeName)")
        }
        return number
    }

    // MARK: - Objects and arrays

    /// A required object.
    func object(_ key: String) throws(FormatsError) -> JSONObjectReader {
        try JSONObjectReader(try required(key), path: fieldPath(key), source: source)
    }

    /// An optional object.
    func optionalObject(_ key: String) throws(FormatsError) -> JSONObjectReader? {
        guard let value = members[key] else { return nil }
        return try JSONObjectReader(value, path: fieldPath(key), source: source)
    }

    /// A required array, each element with its path (`a.b[2]`).
    func array(_ key: String) throws(FormatsError) -> [(path: String, value: JSONValue)] {
        let value = try required(key)
        guard case .array(let elements) = value else {
            throw fail("'\(fieldPath(key))' must be an array, got \(value.typeName)")
        }
        return elements.enumerated().map { (fieldPath(key) + "[\($0.offset)]", $0.element) }
    }

    /// An optional array; absent reads as nil.
    func optionalArray(_ key: String) throws(FormatsError) -> [(path: String, value: JSONValue)]? {
        guard has(key) else { return nil }
        return try array(key)
    }

    /// A required array of non-empty strings.
    func stringArray(_ key: String) throws(FormatsError) -> [String] {
        var strings: [String] = []
        for (elementPath, element) in try array(key) {
            guard case .string(let text) = element else {
                throw fail("'\(elementPath)' must be a string, got \(element.typeName)")
            }
            guard !text.isEmpty else { throw fail("'\(elementPath)' must not be empty") }
            strings.append(text)
        }
        return strings
    }

    /// An optional object whose values are all strings (a digest set, a
    /// version map); absent reads as nil.
    func optionalStringMap(_ key: String) throws(FormatsError) -> [String: String]? {
        guard let object = try optionalObject(key) else { return nil }
        var map: [String: String] = [:]
        for (name, value) in object.members {
            guard case .string(let text) = value else {
                throw fail("'\(object.fieldPath(name))' must be a string, got \(value.typeName)")
            }
            map[name] = text
        }
        return map
    }

    /// An optional object kept as raw members (external parameters,
    /// annotations); absent reads as nil.
    func optionalRawObject(_ key: String) throws(FormatsError) -> [String: JSONValue]? {
        try optionalObject(key)?.members
    }
}
