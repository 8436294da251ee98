/// An in-toto Statement v1 (github.com/in-toto/attestation, spec/v1):
/// what is attested (subjects with digests), the predicate's type, and
/// the predicate.
///
/// Parsing validates the fields the spec requires and keeps the document
/// as parsed, so re-serialising signs exactly what the author wrote
/// (including fields this version does not know, which the spec says
/// consumers must ignore, not drop).
public struct InTotoStatement: Sendable, Equatable {
    public static let type = "https://in-toto.io/Statement/v1"

    public struct Subject: Sendable, Equatable {
        public var name: String?
        public var digest: [String: String]
        public init(name: String?, digest: [String: String]) {
            self.name = name
            self.digest = digest
        }
    }

    public let subjects: [Subject]
    public let predicateType: String
    /// The whole statement as a JSON value.
    public let json: JSONValue

    public var predicate: JSONValue? { json["predicate"] }

    /// Builds a statement.
    public init(subjects: [Subject], predicateType: String, predicate: JSONValue) throws(FormatsError) {
        let subjectValues: [JSONValue] = subjects.map { subject in
            var members: [String: JSONValue] = ["digest": .object(subject.digest.mapValues { .string($0) })]
            if let name = subject.name { members["name"] = .string(name) }
            return .object(members)
        }
        let json = JSONValue.object([
            "_type": .string(Self.type), "subject": .array(subjectValues),
            "predicateType": .string(predicateType), "predicate": predicate,
        ])
        try self.init(json: json, source: "statement")
    }

    /// Parses and validates a statement from JSON bytes.
    public init(parsing bytes: [UInt8], source: String) throws(FormatsError) {
        try self.init(json: try JSONParser.parse(bytes, source: source), source: source)
    }

    /// Validates a parsed JSON value as a statement. Unknown fields are
    /// ignored (and kept in `json`), as the in-toto parsing rules require.
    public init(json: JSONValue, source: String) throws(FormatsError) {
        (subjects, predicateType) = try JSONObjectReader.read(json, source: source, mode: .ignoringUnknownFields,
                                                              what: "an in-toto statement") { statement throws(FormatsError) in
            let type = try statement.string("_type")
            guard type == Self.type else { throw statement.error("_type", "is '\(type)', expected '\(Self.type)'") }
            let subjects = try statement.objects("subject") { subject throws(FormatsError) in
                Subject(name: try subject.optionalString("name"), digest: try subject.digestSet())
            }
            guard !subjects.isEmpty else { throw statement.error("subject", "must list at least one subject") }
            let predicateType = try statement.nonEmptyString("predicateType")
            _ = try statement.optionalRawObject("predicate")
            return (subjects, predicateType)
        }
        self.json = json
    }

    /// The canonical (RFC 8785) bytes: what goes into a DSSE payload.
    public var canonicalBytes: [UInt8] { CanonicalJSON.serialize(json) }
}
