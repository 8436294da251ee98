import SovereignCrypto
import SovereignFormats

/// An offline trust policy (`sovereign.trust-policy/v1`): which keys may
/// release images (certify them, approve their constraint layers), how
/// many of them must sign, and what an image must be to be installed here.
///
/// A value of this type always holds together: every initialiser checks
/// the rules below and throws `TrustError` naming the field otherwise.
///
/// - `keys`: at least one; each an Ed25519 public key with its key id
///   (lowercase hex SHA-256 of the raw 32-byte key), one or more roles,
///   an optional expiry (the key stops counting at that instant) and an
///   optional comment. A key id appears once.
/// - `revokedKeys`: key ids that never count, listed in `keys` or not.
/// - `thresholds`: role → k, the number of distinct keys with that role
///   that must sign. `release` is required; every k is at least 1 and at
///   most the number of unrevoked keys with that role. `certifier`: k keys
///   sign a PASSED certification of the image; `policyAuthor`: k keys sign
///   approvals (`LayerApproval`) of the very constraint layer it carries.
///   No key is both `release` and `policyAuthor`: the layer is approved
///   apart from whoever releases the image.
/// - `minimumSequence`: images with a lower `dev.sovereign.sequence` are refused.
/// - `allowedModels`: if present (and then not empty), the model's SHA-256
///   must be one of them; absent means any model.
/// - `requiredPredicates`: in-toto predicate types that must be attested
///   about the image and signed by `thresholds.release` release keys
///   (default: SLSA provenance v1). Not empty.
/// - `certificationEngines`: if present (and then not empty, with a
///   certifier threshold), a certification counts only if it was made on
///   one of them: "embedded" (the image's own model, bit-exact replay) or
///   "openai:<model id>" (a remote engine reporting that model); absent
///   means any.
/// - `expires`: the policy itself is refused from this instant on.
/// - `allowDowngrade`: accept an image older than the installed one.
///
/// The file format is documented with `init(json:source:)`.
public struct TrustPolicy: Sendable, Equatable {
    public static let schema = "sovereign.trust-policy/v1"
    /// What `requiredPredicates` is when the file leaves it out.
    public static let defaultRequiredPredicates = [SLSAProvenance.predicateType]

    /// What a key is trusted to do.
    public enum Role: String, Sendable, CaseIterable, Comparable, Hashable {
        /// Signs the attestations of a released image.
        case release
        /// Signs verification summaries certifying an image.
        case certifier
        /// Signs approvals of a constraint layer: the reference documents
        /// and rules (`LayerApproval`), apart from whoever builds the image.
        case policyAuthor

        private var rank: Int {
            switch self {
            case .release: return 0
            case .certifier: return 1
            case .policyAuthor: return 2
            }
        }

        /// How a message names the role's keys ("release", "policy author").
        public var displayName: String {
            switch self {
            case .release, .certifier: return rawValue
            case .policyAuthor: return "policy author"
            }
        }

        /// The predicate types whose signatures the role's threshold counts.
        func countedPredicateTypes(_ policy: TrustPolicy) -> [String] {
            switch self {
            case .release: return policy.requiredPredicates
            case .certifier: return [SLSAVerificationSummary.predicateType]
            case .policyAuthor: return [LayerApproval.predicateType]
            }
        }

        public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
    }

    /// A key the policy names.
    public struct TrustedKey: Sendable, Equatable {
        public let publicKey: Ed25519.PublicKey
        /// Never empty.
        public let roles: Set<Role>
        /// Unix seconds from which the key no longer counts; nil: never expires.
        public let expires: Int64?
        public let comment: String?

        public init(publicKey: Ed25519.PublicKey, roles: Set<Role>, expires: Int64? = nil, comment: String? = nil) {
            self.publicKey = publicKey
            self.roles = roles
            self.expires = expires
            self.comment = comment
        }

        /// Lowercase hex SHA-256 of the raw public key.
        public var keyID: String { publicKey.keyID }

        /// Whether the key has expired at `now` (expiry is inclusive: at
        /// the `expires` second itself the key no longer counts).
        public func hasExpired(at now: Int64) -> Bool {
            guard let expires else { return false }
            return now >= expires
        }
    }

    public let keys: [TrustedKey]
    /// Key ids (lowercase hex SHA-256 of the raw key), in file order.
    public let revokedKeys: [String]
    public let thresholds: [Role: Int]
    public let minimumSequence: Int64
    /// Nil: any model.
    public let allowedModels: [SHA256Digest]?
    public let requiredPredicates: [String]
    /// Nil: certifications made on any engine count.
    public let certificationEngines: [String]?
    /// Unix seconds from which the policy is refused; nil: never expires.
    public let expires: Int64?
    public let allowDowngrade: Bool
    /// Free text for the people who maintain the file.
    public let comment: String?

    /// Builds a policy, checking that it holds together. `source` names it
    /// in errors.
    public init(keys: [TrustedKey], revokedKeys: [String] = [], thresholds: [Role: Int], minimumSequence: Int64 = 0,
                allowedModels: [SHA256Digest]? = nil, requiredPredicates: [String] = TrustPolicy.defaultRequiredPredicates,
                certificationEngines: [String]? = nil, expires: Int64? = nil, allowDowngrade: Bool = false, comment: String? = nil,
                source: String = "trust policy") throws(TrustError) {
        func fail(_ reason: String) -> TrustError { TrustError(source: source, reason: reason) }

        guard !keys.isEmpty else { throw fail("keys: must list at least one key") }
        var positions: [String: Int] = [:]
        for (i, key) in keys.enumerated() {
            if let first = positions[key.keyID] {
                throw fail("keys[\(i)]: key \(key.keyID) is already listed as keys[\(first)]")
            }
            positions[key.keyID] = i
            guard !key.roles.isEmpty else { throw fail("keys[\(i)].roles: must list at least one role ('release', 'certifier', 'policyAuthor')") }
            // Separation of duties: the layer's approval must come from someone other than whoever builds the image.
            guard !key.roles.isSuperset(of: [.release, .policyAuthor]) else {
                throw fail("keys[\(i)].roles: a key cannot be both 'release' and 'policyAuthor' (the constraint layer is approved apart from whoever releases the image)")
            }
            if let expires = key.expires, let problem = Self.timestampProblem(expires) {
                throw fail("keys[\(i)].expires: \(problem)")
            }
        }

        var revoked: Set<String> = []
        for (i, keyid) in revokedKeys.enumerated() {
            guard Hex.isLowercaseHex(keyid, length: 64) else {
                throw fail("revokedKeys[\(i)]: must be a key id (64 lowercase hex characters), got '\(keyid)'")
            }
            guard revoked.insert(keyid).inserted else { throw fail("revokedKeys[\(i)]: key \(keyid) is listed twice") }
        }

        guard thresholds[.release] != nil else {
            throw fail("thresholds.release: missing (how many distinct release keys must sign an image)")
        }
        for role in Role.allCases {
            guard let k = thresholds[role] else { continue }
            guard k >= 1 else { throw fail("thresholds.\(role.rawValue): must be at least 1, got \(k)") }
            let usable = keys.filter { $0.roles.contains(role) && !revoked.contains($0.keyID) }.count
            guard k <= usable else {
                throw fail("thresholds.\(role.rawValue): \(k) is more than the \(usable) unrevoked key\(usable == 1 ? "" : "s") with role '\(role.rawValue)'")
            }
        }

        guard minimumSequence >= 0 else { throw fail("minimumSequence: must be 0 or more, got \(minimumSequence)") }

        if let allowedModels {
            guard !allowedModels.isEmpty else {
                throw fail("allowedModels: must list at least one model digest (leave the field out to allow any model)")
            }
            var seen: Set<SHA256Digest> = []
            for (i, digest) in allowedModels.enumerated() where !seen.insert(digest).inserted {
                throw fail("allowedModels[\(i)]: \(digest.hex) is listed twice")
            }
        }

        guard !requiredPredicates.isEmpty else {
            throw fail("requiredPredicates: must list at least one predicate type (the release signatures are counted on these attestations)")
        }
        var seenTypes: Set<String> = []
        for (i, type) in requiredPredicates.enumerated() {
            guard !type.isEmpty, !type.contains(where: { $0.isWhitespace }) else {
                throw fail("requiredPredicates[\(i)]: must be a predicate type URI without spaces, got '\(type)'")
            }
            guard seenTypes.insert(type).inserted else { throw fail("requiredPredicates[\(i)]: '\(type)' is listed twice") }
        }

        if let certificationEngines {
            guard thresholds[.certifier] != nil else {
                throw fail("certificationEngines: needs thresholds.certifier (without certifiers there is no certification to restrict)")
            }
            guard !certificationEngines.isEmpty else {
                throw fail("certificationEngines: must list at least one engine (leave the field out to accept any)")
            }
            var seen: Set<String> = []
            for (i, engine) in certificationEngines.enumerated() {
                let bytes = Array(engine.utf8)
                let remote = Array("openai:".utf8)
                guard engine == "embedded"
                        || (bytes.starts(with: remote) && bytes.count > remote.count && bytes.count <= 263 && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F })
                else {
                    throw fail("certificationEngines[\(i)]: must be 'embedded' or 'openai:<model id>' (printable ASCII, no spaces), got '\(engine)'")
                }
                guard seen.insert(engine).inserted else { throw fail("certificationEngines[\(i)]: '\(engine)' is listed twice") }
            }
        }

        if let expires, let problem = Self.timestampProblem(expires) { throw fail("expires: \(problem)") }

        self.keys = keys
        self.revokedKeys = revokedKeys
        self.thresholds = thresholds
        self.minimumSequence = minimumSequence
        self.allowedModels = allowedModels
        self.requiredPredicates = requiredPredicates
        self.certificationEngines = certificationEngines
        self.expires = expires
        self.allowDowngrade = allowDowngrade
        self.comment = comment
    }

    /// The key with this id, if the policy lists it (revoked or not).
    public func key(withID keyid: String) -> TrustedKey? {
        keys.first { $0.keyID == keyid }
    }

    public func isRevoked(_ keyid: String) -> Bool { revokedKeys.contains(keyid) }

    /// Nil when `seconds` survives a round trip through the file's
    /// timestamp form (years 0000–9999).
    static func timestampProblem(_ seconds: Int64) -> String? {
        // 0000-01-01 … 9999-12-31T23:59:59Z: the range the four-digit form can spell.
        guard (-62_167_219_200...253_402_300_799).contains(seconds), Timestamp.parse(Timestamp.format(seconds)) == seconds else {
            return "\(seconds) is outside the years 0000–9999"
        }
        return nil
    }
}
