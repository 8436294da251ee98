import SovereignCrypto
import SovereignFormats

/// The file form of a trust policy.
///
/// ```json
/// {
///   "allowDowngrade": false,
///   "allowedModels": ["<64 hex: SHA-256 of the model file>"],
///   "certificationEngines": ["embedded", "openai:<model id>"],
///   "comment": "free text",
///   "expires": "2027-01-01T00:00:00Z",
///   "keys": [
///     {
///       "comment": "release engineer A",
///       "expires": "2026-12-31T00:00:00Z",
///       "keyid": "<64 hex: SHA-256 of the raw 32-byte public key>",
///       "publicKey": "<the raw 32-byte Ed25519 key, standard padded base64>",
///       "roles": ["release"]
///     }
///   ],
///   "minimumSequence": 1,
///   "requiredPredicates": ["https://slsa.dev/provenance/v1"],
///   "revokedKeys": ["<64 hex key id>"],
///   "schema": "sovereign.trust-policy/v1",
///   "thresholds": {"certifier": 1, "policyAuthor": 2, "release": 2}
/// }
/// ```
///
/// Required: `schema`, `keys` (each with `keyid`, `publicKey`, `roles`),
/// `thresholds.release`. Defaults: `revokedKeys` [], `minimumSequence` 0,
/// `allowedModels` absent (any model), `requiredPredicates` [SLSA provenance
/// v1], `certificationEngines` absent (any), `expires` absent (never),
/// `allowDowngrade` false.
///
/// Public keys are the raw key in base64 (44 characters, what `sovereign
/// key show` prints as `publicKey`), not PEM: one line, no escaped
/// newlines, easy to compare by eye. The key id must be the key's. Times
/// are RFC 3339 UTC to the second (`2026-01-02T03:04:05Z`). Unknown
/// fields are errors, named by their path.
extension TrustPolicy {
    /// Parses and checks a policy file.
    public init(parsing bytes: [UInt8], source: String) throws(TrustError) {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes, source: source) } catch { throw TrustError(error) }
        try self.init(json: value, source: source)
    }

    /// Reads and checks a parsed policy document.
    public init(json: JSONValue, source: String) throws(TrustError) {
        let fields: Fields
        do { fields = try Fields(json, source: source) } catch { throw TrustError(error) }
        try self.init(keys: fields.keys, revokedKeys: fields.revokedKeys, thresholds: fields.thresholds,
                      minimumSequence: fields.minimumSequence, allowedModels: fields.allowedModels,
                      requiredPredicates: fields.requiredPredicates, certificationEngines: fields.certificationEngines,
                      expires: fields.expires,
                      allowDowngrade: fields.allowDowngrade, comment: fields.comment, source: source)
    }

    /// The policy as a JSON document; every field is written, defaults
    /// included, so the file says everything it decides.
    public func json() -> JSONValue {
        var members: [String: JSONValue] = [
            "schema": .string(Self.schema),
            "keys": .array(keys.map { key in
                var entry: [String: JSONValue] = [
                    "keyid": .string(key.keyID),
                    "publicKey": .string(Base64.encode(key.publicKey.rawRepresentation)),
                    "roles": .array(key.roles.sorted().map { .string($0.rawValue) }),
                ]
                if let expires = key.expires { entry["expires"] = .string(Timestamp.format(expires)) }
                if let comment = key.comment { entry["comment"] = .string(comment) }
                return .object(entry)
            }),
            "revokedKeys": .array(revokedKeys.map { .string($0) }),
            "thresholds": .object(Dictionary(uniqueKeysWithValues: thresholds.map { ($0.key.rawValue, .integer(Int64($0.value))) })),
            "minimumSequence": .integer(minimumSequence),
            "requiredPredicates": .array(requiredPredicates.map { .string($0) }),
            "allowDowngrade": .bool(allowDowngrade),
        ]
        if let allowedModels { members["allowedModels"] = .array(allowedModels.map { .string($0.hex) }) }
        if let certificationEngines { members["certificationEngines"] = .array(certificationEngines.map(JSONValue.string)) }
        if let expires { members["expires"] = .string(Timestamp.format(expires)) }
        if let comment { members["comment"] = .string(comment) }
        return .object(members)
    }

    /// The file's bytes: `PrettyJSON` (sorted keys, two-space indent) and a
    /// final newline.
    public func fileBytes() -> [UInt8] {
        PrettyJSON.serialize(json()) + [0x0A]
    }

    /// The SHA-256 of `fileBytes()`; a VSA names the policy by the digest
    /// of the file actually read, which is this when the file was written
    /// by `fileBytes()`.
    public var fileDigest: SHA256Digest { SHA256.hash(fileBytes()) }
}

/// The fields of a policy document, read strictly; consistency is checked
/// by `TrustPolicy.init`.
private struct Fields {
    var keys: [TrustPolicy.TrustedKey] = []
    var revokedKeys: [String] = []
    var thresholds: [TrustPolicy.Role: Int] = [:]
    var minimumSequence: Int64 = 0
    var allowedModels: [SHA256Digest]?
    var requiredPredicates = TrustPolicy.defaultRequiredPredicates
    var certificationEngines: [String]?
    var expires: Int64?
    var allowDowngrade = false
    var comment: String?

    init(_ json: JSONValue, source: String) throws(FormatsError) {
        self = try JSONObjectReader.read(json, source: source, mode: .strict, what: "a trust policy") { root throws(FormatsError) in
            try Fields(reading: &root)
        }
    }

    private init(reading root: inout JSONObjectReader) throws(FormatsError) {
        let schema = try root.string("schema")
        guard schema == TrustPolicy.schema else {
            throw root.error("schema", "is '\(schema)', expected '\(TrustPolicy.schema)'")
        }

        keys = try root.objects("keys") { entry throws(FormatsError) in try Self.key(&entry) }

        if let ids = try root.optionalStrings("revokedKeys") { revokedKeys = ids }

        thresholds = try root.object("thresholds") { reader throws(FormatsError) in
            var thresholds: [TrustPolicy.Role: Int] = [:]
            for role in TrustPolicy.Role.allCases {
                if let k = try reader.optionalInteger(role.rawValue, in: Int64(Int32.min)...Int64(Int32.max)) {
                    thresholds[role] = Int(k)
                }
            }
            return thresholds
        }

        minimumSequence = try root.optionalInteger("minimumSequence") ?? 0

        if let texts = try root.optionalStrings("allowedModels") {
            var digests: [SHA256Digest] = []
            for (i, text) in texts.enumerated() {
                guard let digest = SHA256Digest(hex: text) else {
                    throw root.error("allowedModels[\(i)]", "must be a SHA-256 digest (64 lowercase hex characters), got '\(text)'")
                }
                digests.append(digest)
            }
            allowedModels = digests
        }

        if let types = try root.optionalStrings("requiredPredicates") { requiredPredicates = types }
        certificationEngines = try root.optionalStrings("certificationEngines")
        expires = try Self.timestamp(&root, "expires")
        allowDowngrade = try root.optionalBool("allowDowngrade") ?? false
        comment = try root.optionalString("comment")
    }

    private static func key(_ entry: inout JSONObjectReader) throws(FormatsError) -> TrustPolicy.TrustedKey {
        let keyid = try entry.string("keyid")
        guard Hex.isLowercaseHex(keyid, length: 64) else {
            throw entry.error("keyid", "must be 64 lowercase hex characters (the SHA-256 of the raw public key), got '\(keyid)'")
        }
        let encoded = try entry.string("publicKey")
        guard let raw = Base64.decodeStrict(encoded), raw.count == Ed25519.publicKeyByteCount,
              let publicKey = try? Ed25519.PublicKey(rawRepresentation: raw) else {
            let hint = encoded.contains("-----BEGIN") ? " (PEM is not accepted here: 'sovereign key show' prints the base64 form as publicKey)" : ""
            throw entry.error("publicKey", "must be a raw 32-byte Ed25519 public key in standard padded base64 (44 characters)\(hint)")
        }
        guard publicKey.keyID == keyid else {
            throw entry.error("keyid", "is \(keyid), but the public key's key id is \(publicKey.keyID)")
        }

        let roleNames = try entry.strings("roles")
        var roles: Set<TrustPolicy.Role> = []
        for (i, name) in roleNames.enumerated() {
            guard let role = TrustPolicy.Role(rawValue: name) else {
                throw entry.error("roles[\(i)]", "must be 'release', 'certifier' or 'policyAuthor', got '\(name)'")
            }
            guard roles.insert(role).inserted else { throw entry.error("roles[\(i)]", "'\(name)' is listed twice") }
        }

        let expires = try timestamp(&entry, "expires")
        let comment = try entry.optionalString("comment")
        return TrustPolicy.TrustedKey(publicKey: publicKey, roles: roles, expires: expires, comment: comment)
    }

    private static func timestamp(_ reader: inout JSONObjectReader, _ key: String) throws(FormatsError) -> Int64? {
        guard let text = try reader.optionalString(key) else { return nil }
        guard let seconds = Timestamp.parse(text) else {
            throw reader.error(key, "must be an RFC 3339 UTC time like 2026-01-02T03:04:05Z, got '\(text)'")
        }
        return seconds
    }
}
