/// A SLSA Verification Summary Attestation v1 predicate
/// (slsa.dev/spec/v1.1/verification_summary): a verifier's signed verdict
/// that an artifact met (or failed) a policy, and at which levels.
///
/// Written by `sovereign verify` (SLSA build levels) and `sovereign certify`
/// (`SOVEREIGN_CONSTRAINT_LAYER_INTACT`, `…_LOAD_BEARING`). Follows VSA 1.1,
/// where `timeVerified` is optional and `verifier.version` exists; a
/// reproducible verdict leaves the time out.
public struct SLSAVerificationSummary: Sendable, Equatable, InTotoPredicate {
    public static let predicateType = "https://slsa.dev/verification_summary/v1"

    public enum VerificationResult: String, Sendable, CaseIterable {
        case passed = "PASSED"
        case failed = "FAILED"
    }

    public struct Verifier: Sendable, Equatable {
        /// A URI naming the verifier.
        public var id: String
        /// Component name → version; empty leaves the field out.
        public var version: [String: String]

        public init(id: String, version: [String: String] = [:]) {
            self.id = id
            self.version = version
        }
    }

    public var verifier: Verifier
    /// RFC 3339 UTC; nil leaves it out (the default, for reproducibility).
    public var timeVerified: String?
    /// The URI of the artifact as the verifier was asked about it.
    public var resourceUri: String
    /// The policy applied; must have a `uri`, should have a `digest`.
    public var policy: ResourceDescriptor
    /// Every attestation the verdict used, each with a digest; nil when the
    /// verifier does not report them (not the same as "none").
    public var inputAttestations: [ResourceDescriptor]?
    public var verificationResult: VerificationResult
    /// At most one level per SLSA track, or `FAILED`; custom values allowed
    /// (they must not start with `SLSA_`).
    public var verifiedLevels: [String]
    /// Level → number of transitive dependencies verified at it; nil means no
    /// claim, an empty map means "no dependencies".
    public var dependencyLevels: [String: Int64]?
    /// `MAJOR.MINOR` of the SLSA specification applied.
    public var slsaVersion: String?

    public init(verifier: Verifier, timeVerified: String? = nil, resourceUri: String, policy: ResourceDescriptor,
                inputAttestations: [ResourceDescriptor]? = nil, verificationResult: VerificationResult,
                verifiedLevels: [String], dependencyLevels: [String: Int64]? = nil, slsaVersion: String? = nil) {
        self.verifier = verifier
        self.timeVerified = timeVerified
        self.resourceUri = resourceUri
        self.policy = policy
        self.inputAttestations = inputAttestations
        self.verificationResult = verificationResult
        self.verifiedLevels = verifiedLevels
        self.dependencyLevels = dependencyLevels
        self.slsaVersion = slsaVersion
    }

    /// The predicate as JSON (the signer canonicalises it).
    public func json() -> JSONValue {
        var verifierMembers: [String: JSONValue] = ["id": .string(verifier.id)]
        if !verifier.version.isEmpty { verifierMembers["version"] = .object(verifier.version.mapValues { .string($0) }) }
        var members: [String: JSONValue] = [
            "verifier": .object(verifierMembers),
            "resourceUri": .string(resourceUri),
            "policy": policy.json(),
            "verificationResult": .string(verificationResult.rawValue),
            "verifiedLevels": .array(verifiedLevels.map { .string($0) }),
        ]
        if let timeVerified { members["timeVerified"] = .string(timeVerified) }
        if let inputAttestations { members["inputAttestations"] = .array(inputAttestations.map { $0.json() }) }
        if let dependencyLevels { members["dependencyLevels"] = .object(dependencyLevels.mapValues { .integer($0) }) }
        if let slsaVersion { members["slsaVersion"] = .string(slsaVersion) }
        return .object(members)
    }

    /// Parses and validates a predicate.
    public init(json: JSONValue, source: String) throws(FormatsError) {
        self = try JSONObjectReader.read(json, source: source, mode: Self.jsonReadingMode,
                                         what: "a SLSA verification summary predicate") { root throws(FormatsError) in
            try Self(reading: &root)
        }
    }

    public static let defaultSource = "verification summary"

    /// The spec's rules on levels: no duplicates, and at most one level per
    /// SLSA track (`SLSA_BUILD_LEVEL_2` and `SLSA_BUILD_LEVEL_3` together
    /// are refused: the higher implies the lower).
    static func levelProblem(_ levels: [String]) -> String? {
        var seen: Set<String> = []
        var tracks: [String: String] = [:]
        for level in levels {
            guard seen.insert(level).inserted else { return "lists '\(level)' twice" }
            guard level.hasPrefix("SLSA_"), let marker = level.range(of: "_LEVEL_") else { continue }
            let track = String(level[..<marker.lowerBound])
            if let other = tracks[track] { return "lists two levels of one track: '\(other)' and '\(level)'" }
            tracks[track] = level
        }
        return nil
    }

    static func isMajorMinor(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }
}

extension SLSAVerificationSummary: JSONObjectDecodable {
    /// Fields this version does not know are ignored (in-toto parsing rules).
    public static let jsonReadingMode = JSONObjectReader.Mode.ignoringUnknownFields

    public init(reading root: inout JSONObjectReader) throws(FormatsError) {
        verifier = try root.object("verifier") { verifier throws(FormatsError) in
            Verifier(id: try verifier.nonEmptyString("id"), version: try verifier.optionalStringMap("version") ?? [:])
        }
        timeVerified = try root.optionalTimestamp("timeVerified")
        resourceUri = try root.nonEmptyString("resourceUri")

        policy = try root.decode(ResourceDescriptor.self, "policy")
        guard policy.uri != nil else {
            throw FormatsError(source: root.source, reason: "missing field '\(root.fieldPath("policy.uri"))' (a VSA policy must name its URI)")
        }

        inputAttestations = try root.optionalObjects("inputAttestations") { entry throws(FormatsError) in
            let descriptor = try ResourceDescriptor(reading: &entry)
            guard !descriptor.digest.isEmpty else {
                throw FormatsError(source: entry.source,
                                   reason: "missing field '\(entry.fieldPath("digest"))' (each input attestation must carry its digest)")
            }
            return descriptor
        }

        let resultText = try root.nonEmptyString("verificationResult")
        guard let result = VerificationResult(rawValue: resultText) else {
            throw root.error("verificationResult", "is '\(resultText)', expected 'PASSED' or 'FAILED'")
        }
        verificationResult = result

        verifiedLevels = try root.strings("verifiedLevels")
        if let empty = verifiedLevels.firstIndex(of: "") { throw root.error("verifiedLevels[\(empty)]", "must not be empty") }
        if let problem = Self.levelProblem(verifiedLevels) { throw root.error("verifiedLevels", problem) }

        dependencyLevels = try root.optionalObject("dependencyLevels") { levels throws(FormatsError) in
            var counts: [String: Int64] = [:]
            for key in levels.keys {
                let count = try levels.integer(key)
                guard !key.isEmpty, count >= 0 else {
                    throw levels.error(key, "must be a level name with a count of zero or more, got \(count)")
                }
                counts[key] = count
            }
            return counts
        }

        slsaVersion = try root.optionalNonEmptyString("slsaVersion")
        if let slsaVersion, !Self.isMajorMinor(slsaVersion) {
            throw root.error("slsaVersion", "must be MAJOR.MINOR like 1.1, got '\(slsaVersion)'")
        }
    }
}
