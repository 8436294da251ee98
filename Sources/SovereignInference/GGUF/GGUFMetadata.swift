/// The key/value metadata of a GGUF file, in file order, with typed
/// accessors that throw a `GGUFError` naming the key when it is missing or of
/// another type (never a silent default).
public struct GGUFMetadata: Sendable {
    /// The file the metadata came from, for error messages.
    public let source: String
    /// Entries in file order. Keys are unique (the parser rejects duplicates).
    public let entries: [(key: String, value: GGUFValue)]
    private let index: [String: Int]

    init(source: String, entries: [(key: String, value: GGUFValue)], index: [String: Int]) {
        self.source = source
        self.entries = entries
        self.index = index
    }

    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> GGUFValue? {
        guard let position = index[key] else { return nil }
        return entries[position].value
    }

    public func contains(_ key: String) -> Bool { index[key] != nil }

    // MARK: Scalars

    public func string(_ key: String) throws(GGUFError) -> String {
        let value = try require(key)
        guard case .string(let string) = value else { throw mismatch(key, "string", value) }
        return string
    }

    public func uint32(_ key: String) throws(GGUFError) -> UInt32 {
        let value = try require(key)
        guard case .uint32(let number) = value else { throw mismatch(key, "uint32", value) }
        return number
    }

    public func int32(_ key: String) throws(GGUFError) -> Int32 {
        let value = try require(key)
        guard case .int32(let number) = value else { throw mismatch(key, "int32", value) }
        return number
    }

    public func uint64(_ key: String) throws(GGUFError) -> UInt64 {
        let value = try require(key)
        guard case .uint64(let number) = value else { throw mismatch(key, "uint64", value) }
        return number
    }

    public func float(_ key: String) throws(GGUFError) -> Float {
        let value = try require(key)
        guard case .float32(let number) = value else { throw mismatch(key, "float32", value) }
        return number
    }

    public func bool(_ key: String) throws(GGUFError) -> Bool {
        let value = try require(key)
        guard case .bool(let flag) = value else { throw mismatch(key, "bool", value) }
        return flag
    }

    /// Any integer type, widened. Converters disagree on uint32 vs int32 for
    /// counts and token ids, so consumers of such keys use this.
    public func integer(_ key: String) throws(GGUFError) -> Int64 {
        let value = try require(key)
        guard let number = value.integerValue else { throw mismatch(key, "an integer", value) }
        return number
    }

    /// float32 or float64, widened.
    public func floatingPoint(_ key: String) throws(GGUFError) -> Double {
        let value = try require(key)
        guard let number = value.floatingValue else { throw mismatch(key, "a float", value) }
        return number
    }

    // MARK: Arrays

    public func array(_ key: String) throws(GGUFError) -> GGUFArray {
        let value = try require(key)
        guard case .array(let array) = value else { throw mismatch(key, "array", value) }
        return array
    }

    public func stringArray(_ key: String) throws(GGUFError) -> [String] {
        let value = try require(key)
        guard case .array(.string(let strings)) = value else { throw mismatch(key, "array of string", value) }
        return strings
    }

    public func int32Array(_ key: String) throws(GGUFError) -> [Int32] {
        let value = try require(key)
        guard case .array(.int32(let numbers)) = value else { throw mismatch(key, "array of int32", value) }
        return numbers
    }

    public func floatArray(_ key: String) throws(GGUFError) -> [Float] {
        let value = try require(key)
        guard case .array(.float32(let numbers)) = value else { throw mismatch(key, "array of float32", value) }
        return numbers
    }

    /// An array of any integer type, widened to Int64.
    public func integerArray(_ key: String) throws(GGUFError) -> [Int64] {
        let value = try require(key)
        guard case .array(let array) = value, let numbers = array.integerValues else {
            throw mismatch(key, "array of integers", value)
        }
        return numbers
    }

    // MARK: Helpers

    private func require(_ key: String) throws(GGUFError) -> GGUFValue {
        guard let value = self[key] else { throw GGUFError.missingKey(source: source, key: key) }
        return value
    }

    private func mismatch(_ key: String, _ expected: String, _ value: GGUFValue) -> GGUFError {
        .typeMismatch(source: source, key: key, expected: expected, actual: value.typeDescription)
    }
}
