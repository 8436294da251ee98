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

    /// Validates a parsed JSON value as a statement.
    public init(json: JSONValue, source: String) throws(FormatsError) {
        func fail(_ reason: String) -> FormatsError { FormatsError(source: source, reason: reason) }
        guard let object = json.objectValue else { throw fail("an in-toto statement must be a JSON object") }
        guard let type = object["_type"] else { throw fail("missing field '_type'") }
        guard type.stringValue == Self.type else {
            throw fail("_type is \(type.stringValue.map { "'\($0)'" } ?? type.typeName), expected '\(Self.type)'")
        }
        guard let subjectList = object["subject"] else { throw fail("missing field 'subject'") }
        guard let subjectArray = subjectList.arrayValue else { throw fail("'subject' must be an array") }
        guard !subjectArray.isEmpty else { throw fail("'subject' must list at least one subject") }
        var subjects: [Subject] = []
        for (i, entry) in subjectArray.enumerated() {
            guard let fields = entry.objectValue else { throw fail("subject[\(i)] must be an object") }
            var name: String?
            if let nameValue = fields["name"] {
                guard let text = nameValue.stringValue else { throw fail("subject[\(i)].name must be a string") }
                name = text
            }
            guard let digestValue = fields["digest"] else { throw fail("subject[\(i)] is missing 'digest'") }
            guard let digestObject = digestValue.objectValue else { throw fail("subject[\(i)].digest must be an object") }
            var digest: [String: String] = [:]
            for (algorithm, value) in digestObject {
                guard let text = value.stringValue else { throw fail("subject[\(i)].digest.\(algorithm) must be a string") }
                digest[algorithm] = text
            }
            if let problem = DigestSet.problem(in: digest) { throw fail("subject[\(i)]: \(problem)") }
            subjects.append(Subject(name: name, digest: digest))
        }
        guard let predicateTypeValue = object["predicateType"] else { throw fail("missing field 'predicateType'") }
        guard let predicateType = predicateTypeValue.stringValue, !predicateType.isEmpty else {
            throw fail("'predicateType' must be a non-empty string (a URI)")
        }
        if let predicate = object["predicate"], predicate.objectValue == nil {
            throw fail("'predicate' must be an object")
        }
        self.subjects = subjects
        self.predicateType = predicateType
        self.json = json
    }

    /// The canonical (RFC 8785) bytes: what goes into a DSSE payload.
    public var canonicalBytes: [UInt8] { CanonicalJSON.serialize(json) }
}
