import SovereignCrypto
import SovereignFormats

/// The outcome of evaluating an image against a policy: every check in
/// order, which keys counted for which role, and what each signature was
/// worth. A value: failing to meet the policy is not an error.
public struct TrustDecision: Sendable {
    /// The manifest the decision is about.
    public let manifestDigest: SHA256Digest
    /// One per rule, in the policy's order.
    public let checks: [TrustCheck]
    /// Role → distinct key ids that counted towards its threshold, sorted.
    /// Roles without a threshold are absent.
    public let acceptedSigners: [TrustPolicy.Role: [String]]
    /// Every signature of every attestation, with its status.
    public let signatures: [SignatureReport]
    /// The attestations checked, by index.
    public let attestations: [AttestationRecord]

    /// An attestation as the decision remembers it.
    public struct AttestationRecord: Sendable, Equatable {
        public let uri: String?
        /// SHA-256 of the envelope as stored.
        public let digest: SHA256Digest
        /// Nil when the payload was not an in-toto statement.
        public let predicateType: String?

        public init(uri: String?, digest: SHA256Digest, predicateType: String?) {
            self.uri = uri
            self.digest = digest
            self.predicateType = predicateType
        }
    }

    public init(manifestDigest: SHA256Digest, checks: [TrustCheck], acceptedSigners: [TrustPolicy.Role: [String]],
                signatures: [SignatureReport], attestations: [AttestationRecord]) {
        self.manifestDigest = manifestDigest
        self.checks = checks
        self.acceptedSigners = acceptedSigners
        self.signatures = signatures
        self.attestations = attestations
    }

    /// True when there is at least one check and every check passed.
    public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }

    public var firstFailure: TrustCheck? { checks.first { !$0.passed } }

    /// The decision as data (`sovereign verify --json`).
    public func json() -> JSONValue {
        .object([
            "manifest": .string(manifestDigest.prefixed),
            "passed": .bool(passed),
            "checks": .array(checks.map { check in
                var members: [String: JSONValue] = ["name": .string(check.name), "passed": .bool(check.passed)]
                if let reason = check.failureReason { members["reason"] = .string(reason) }
                return .object(members)
            }),
            "acceptedSigners": .object(Dictionary(uniqueKeysWithValues: acceptedSigners.map {
                ($0.key.rawValue, JSONValue.array($0.value.map { .string($0) }))
            })),
            "signatures": .array(signatures.map { report in
                var members: [String: JSONValue] = [
                    "attestation": .integer(Int64(report.attestation)),
                    "keyid": .string(report.keyid),
                    "status": .string(report.statusName),
                ]
                switch report.status {
                case .trusted(let roles): members["roles"] = .array(roles.map { .string($0.rawValue) })
                case .expired(let at): members["expired"] = .string(Timestamp.format(at))
                default: break
                }
                return .object(members)
            }),
            "attestations": .array(attestations.map { attestation in
                var members: [String: JSONValue] = ["sha256": .string(attestation.digest.hex)]
                if let uri = attestation.uri { members["uri"] = .string(uri) }
                if let type = attestation.predicateType { members["predicateType"] = .string(type) }
                return .object(members)
            }),
        ])
    }
}

/// One rule's outcome in a decision.
public struct TrustCheck: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case passed
        case failed(reason: String)
    }

    public let name: String
    public let outcome: Outcome

    public init(name: String, outcome: Outcome) {
        self.name = name
        self.outcome = outcome
    }

    public var passed: Bool { outcome == .passed }

    public var failureReason: String? {
        if case .failed(let reason) = outcome { return reason }
        return nil
    }
}
