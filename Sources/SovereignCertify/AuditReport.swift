import SovereignCrypto
import SovereignFormats

/// What a replay needs from a signed audit report
/// (`https://sovereign.dev/audit-report/v1`): the suites by name and
/// digest, and each case's two transcript digests. Fields a replay does not
/// use are not read.
public struct AuditReport: Sendable {
    public struct Case: Sendable, Equatable {
        public let suite: String
        public let id: String
        public let steered: SHA256Digest
        public let bare: SHA256Digest
        /// "suite/id", as progress lines and the VSA name cases.
        public var name: String { "\(suite)/\(id)" }
    }

    public let constraintLayer: String
    public let suites: [(name: String, sha256: SHA256Digest)]
    public let cases: [Case]

    public init(statement: InTotoStatement, source: String) throws(CertificationError) {
        guard statement.predicateType == CertificationAttestations.reportPredicateType else {
            throw CertificationError(source, "has predicate type '\(statement.predicateType)', expected '\(CertificationAttestations.reportPredicateType)'")
        }
        guard let predicate = statement.predicate else { throw CertificationError(source, "has no predicate") }
        do {
            (constraintLayer, suites, cases) = try JSONObjectReader.read(predicate, source: source, path: "predicate", mode: .ignoringUnknownFields) {
                (root) throws(FormatsError) in
                let (layer, suites) = try root.object("policy") { (policy) throws(FormatsError) in
                    (try policy.string("constraintLayer"), try policy.objects("suites") { (suite) throws(FormatsError) in
                        (name: try suite.nonEmptyString("name"), sha256: try suite.sha256("sha256"))
                    })
                }
                let cases = try root.objects("cases") { (entry) throws(FormatsError) in
                    func transcript(_ side: String) throws(FormatsError) -> SHA256Digest {
                        try entry.object(side) { (side) throws(FormatsError) in
                            try side.object("transcript") { (transcript) throws(FormatsError) in try transcript.sha256("sha256") }
                        }
                    }
                    return Case(suite: try entry.nonEmptyString("suite"), id: try entry.nonEmptyString("id"),
                                steered: try transcript("steered"), bare: try transcript("bare"))
                }
                return (layer, suites, cases)
            }
        } catch {
            throw CertificationError(error.source, error.reason)
        }
    }
}
