/// A predicate type we build and read: its URI, its JSON form and a parser.
/// The shared parts (reading one from a statement, validating one built in
/// code, wrapping one in a statement) are written once, below.
public protocol InTotoPredicate {
    static var predicateType: String { get }
    /// What a validation error calls the predicate ("bom", "provenance", …).
    static var defaultSource: String { get }
    init(json: JSONValue, source: String) throws(FormatsError)
    func json() -> JSONValue
}

extension InTotoPredicate {
    /// Parses the predicate of a statement, checking its predicate type.
    public init(statement: InTotoStatement, source: String) throws(FormatsError) {
        guard statement.predicateType == Self.predicateType else {
            throw FormatsError(source: source, reason: "predicateType is '\(statement.predicateType)', expected '\(Self.predicateType)'")
        }
        guard let predicate = statement.predicate else { throw FormatsError(source: source, reason: "missing field 'predicate'") }
        try self.init(json: predicate, source: source)
    }

    /// Throws what `init(json:source:)` would say about `json()`: call it
    /// before signing a value built in code.
    public func validate(source: String = Self.defaultSource) throws(FormatsError) {
        _ = try Self(json: json(), source: source)
    }

    /// An in-toto statement about `subjects` carrying this predicate.
    public func statement(subjects: [InTotoStatement.Subject]) throws(FormatsError) -> InTotoStatement {
        try validate()
        return try InTotoStatement(subjects: subjects, predicateType: Self.predicateType, predicate: json())
    }
}
