import SovereignCrypto
import Testing
@testable import SovereignFormats

@Suite struct SLSAVerificationSummaryTests {
    static func digest(_ text: String) -> SHA256Digest { SHA256.hash(Array(text.utf8)) }

    /// What `sovereign certify` would sign: no time (reproducible).
    static func sample() -> SLSAVerificationSummary {
        SLSAVerificationSummary(
            verifier: .init(id: "https://sovereign.dev/certifier/v1"),
            resourceUri: "oci:reference:1.0.0",
            policy: ResourceDescriptor(uri: "Attestation/reference/certification.policy.json", sha256: digest("policy")),
            verificationResult: .passed,
            verifiedLevels: ["SOVEREIGN_CONSTRAINT_LAYER_INTACT", "SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING"])
    }

    /// Every optional field set.
    static func full() -> SLSAVerificationSummary {
        var summary = sample()
        summary.verifier.version = ["sovereign": "0.1.0", "swift": "6.3.1"]
        summary.timeVerified = "2026-01-02T03:04:05.123456789Z"
        summary.inputAttestations = [
            ResourceDescriptor(uri: "provenance.dsse.json", sha256: digest("provenance")),
            ResourceDescriptor(uri: "bom.dsse.json", sha256: digest("bom"), mediaType: "application/vnd.dsse.envelope.v1+json"),
        ]
        summary.verifiedLevels = ["SLSA_BUILD_LEVEL_2", "SOVEREIGN_CONSTRAINT_LAYER_INTACT"]
        summary.dependencyLevels = ["SLSA_BUILD_LEVEL_2": 3, "SLSA_BUILD_LEVEL_0": 0]
        summary.slsaVersion = "1.1"
        return summary
    }

    static func failed() -> SLSAVerificationSummary {
        var summary = sample()
        summary.verificationResult = .failed
        summary.verifiedLevels = ["FAILED"]
        summary.inputAttestations = []
        summary.dependencyLevels = [:]
        return summary
    }

    static let subject = InTotoStatement.Subject(name: "reference:1.0.0", digest: ["sha256": digest("manifest").hex])

    // MARK: - Round trips

    @Test(arguments: [sample(), full(), failed()])
    func roundTrips(summary: SLSAVerificationSummary) throws {
        #expect(try SLSAVerificationSummary(json: summary.json(), source: "v") == summary)
        let bytes = CanonicalJSON.serialize(summary.json())
        let reread = try SLSAVerificationSummary(json: try JSONParser.parse(bytes, source: "v"), source: "v")
        #expect(reread == summary)
        #expect(CanonicalJSON.serialize(reread.json()) == bytes)
    }

    /// Absent and empty differ for these two fields (the spec gives an
    /// empty dependencyLevels its own meaning: no dependencies at all).
    @Test func keepsEmptyApartFromAbsent() throws {
        let json = Self.failed().json()
        #expect(json["inputAttestations"] == .array([]))
        #expect(json["dependencyLevels"] == .object([:]))
        let absent = Self.sample().json()
        #expect(absent["inputAttestations"] == nil)
        #expect(absent["dependencyLevels"] == nil)
        #expect(try SLSAVerificationSummary(json: absent, source: "v").dependencyLevels == nil)
        #expect(try SLSAVerificationSummary(json: json, source: "v").dependencyLevels == [:])
    }

    @Test func roundTripsThroughAnInTotoStatement() throws {
        let statement = try Self.full().statement(subjects: [Self.subject])
        #expect(statement.predicateType == "https://slsa.dev/verification_summary/v1")
        let reparsed = try InTotoStatement(parsing: statement.canonicalBytes, source: "vsa.intoto.json")
        #expect(try SLSAVerificationSummary(statement: reparsed, source: "vsa.intoto.json") == Self.full())
    }

    @Test func ignoresFieldsItDoesNotKnow() throws {
        let extended = Self.sample().json()
            .setting(["https://sovereign.dev/vsa/constraintLayer"], to: .string(Self.digest("layer").hex))
            .setting(["verifier", "future"], to: .integer(1))
        #expect(try SLSAVerificationSummary(json: extended, source: "v") == Self.sample())
    }

    // MARK: - Determinism

    @Test func sameInputsGiveIdenticalCanonicalBytesWithNoTime() {
        #expect(CanonicalJSON.serialize(Self.sample().json()) == CanonicalJSON.serialize(Self.sample().json()))
        #expect(Self.sample().json()["timeVerified"] == nil)
        #expect(String(decoding: CanonicalJSON.serialize(Self.sample().json()), as: UTF8.self) == #"{"policy":{"digest":{"sha256":"\#(Self.digest("policy").hex)"},"uri":"Attestation/reference/certification.policy.json"},"resourceUri":"oci:reference:1.0.0","verificationResult":"PASSED","verifiedLevels":["SOVEREIGN_CONSTRAINT_LAYER_INTACT","SOVEREIGN_CONSTRAINT_LAYER_LOAD_BEARING"],"verifier":{"id":"https://sovereign.dev/certifier/v1"}}"#)
    }

    @Test func aChangedPolicyDigestChangesTheBytes() {
        var changed = Self.sample()
        changed.policy.digest["sha256"] = Self.digest("other policy").hex
        #expect(CanonicalJSON.serialize(changed.json()) != CanonicalJSON.serialize(Self.sample().json()))
    }

    // MARK: - Rejections

    @Test(arguments: [
        (["verifier"], nil, "missing field 'verifier'"),
        (["verifier", "id"], nil, "missing field 'verifier.id'"),
        (["verifier", "id"], .string(""), "verifier.id: must not be empty"),
        (["verifier", "version"], .object(["sovereign": .integer(1)]), "verifier.version.sovereign: must be a string, got number"),
        (["timeVerified"], .string("2026-02-30T00:00:00Z"),
         "timeVerified: must be an RFC 3339 UTC timestamp like 2025-01-02T03:04:05Z, got '2026-02-30T00:00:00Z'"),
        (["resourceUri"], nil, "missing field 'resourceUri'"),
        (["policy"], nil, "missing field 'policy'"),
        (["policy"], .object([:]), "policy: must have at least one of 'name', 'uri' or 'digest'"),
        (["policy", "uri"], nil, "missing field 'policy.uri' (a VSA policy must name its URI)"),
        (["policy", "digest", "sha256"], .string("00"), "policy: digest 'sha256' must be 64 lowercase hex characters, got '00'"),
        (["inputAttestations"], .object([:]), "inputAttestations: must be an array, got object"),
        (["inputAttestations"], .array([.object(["uri": .string("bom.dsse.json")])]),
         "missing field 'inputAttestations[0].digest' (each input attestation must carry its digest)"),
        (["verificationResult"], nil, "missing field 'verificationResult'"),
        (["verificationResult"], .string("passed"), "verificationResult: is 'passed', expected 'PASSED' or 'FAILED'"),
        (["verifiedLevels"], nil, "missing field 'verifiedLevels'"),
        (["verifiedLevels"], .string("SLSA_BUILD_LEVEL_3"), "verifiedLevels: must be an array, got string"),
        (["verifiedLevels"], .array([.integer(3)]), "verifiedLevels[0]: must be a string, got number"),
        (["verifiedLevels"], .array([.string("SLSA_BUILD_LEVEL_2"), .string("SLSA_BUILD_LEVEL_3")]),
         "verifiedLevels: lists two levels of one track: 'SLSA_BUILD_LEVEL_2' and 'SLSA_BUILD_LEVEL_3'"),
        (["verifiedLevels"], .array([.string("X"), .string("X")]), "verifiedLevels: lists 'X' twice"),
        (["dependencyLevels"], .object(["SLSA_BUILD_LEVEL_1": .integer(-1)]),
         "dependencyLevels.SLSA_BUILD_LEVEL_1: must be a level name with a count of zero or more, got -1"),
        (["dependencyLevels"], .object(["SLSA_BUILD_LEVEL_1": .string("2")]),
         "dependencyLevels.SLSA_BUILD_LEVEL_1: must be an integer, got string"),
        (["slsaVersion"], .string("1"), "slsaVersion: must be MAJOR.MINOR like 1.1, got '1'"),
        (["slsaVersion"], .string("v1.0"), "slsaVersion: must be MAJOR.MINOR like 1.1, got 'v1.0'"),
    ] as [([JSONStep], JSONValue?, String)])
    func rejects(path: [JSONStep], value: JSONValue?, reason: String) {
        let broken = Self.sample().json().setting(path, to: value)
        #expect(throws: FormatsError(source: "vsa.json", reason: reason)) {
            try SLSAVerificationSummary(json: broken, source: "vsa.json")
        }
    }

    @Test func rejectsANonObject() {
        #expect(throws: FormatsError(source: "v", reason: "a SLSA verification summary predicate must be a JSON object, got string")) {
            try SLSAVerificationSummary(json: .string("PASSED"), source: "v")
        }
    }

    @Test func validateCatchesBadValuesBuiltInCode() {
        var summary = Self.sample()
        summary.policy.uri = nil
        #expect(throws: FormatsError(source: "verification summary", reason: "missing field 'policy.uri' (a VSA policy must name its URI)")) {
            try summary.validate()
        }
        summary = Self.sample()
        summary.timeVerified = "2026-01-02T03:04:05+00:00"
        #expect(throws: FormatsError.self) { try summary.statement(subjects: [Self.subject]) }
    }

    @Test func statementOfAnotherPredicateTypeIsRefused() throws {
        let statement = try InTotoStatement(subjects: [Self.subject], predicateType: "https://slsa.dev/verification_summary/v0.2",
                                            predicate: Self.sample().json())
        #expect(throws: FormatsError(source: "s", reason: "predicateType is 'https://slsa.dev/verification_summary/v0.2', expected 'https://slsa.dev/verification_summary/v1'")) {
            try SLSAVerificationSummary(statement: statement, source: "s")
        }
    }

    // MARK: - Timestamps

    @Test(arguments: ["2026-01-02T03:04:05Z", "2024-02-29T23:59:59Z", "1985-04-12T23:20:50.52Z", "2026-01-02T03:04:05.123456789Z"])
    func acceptsUTCTimestamps(text: String) {
        #expect(RFC3339.isValidUTC(text))
    }

    @Test(arguments: ["2026-01-02T03:04:05", "2026-01-02t03:04:05Z", "2026-01-02T03:04:05z", "2026-01-02 03:04:05Z",
                      "2026-01-02T03:04:05+00:00", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-02T24:00:00Z",
                      "2026-01-02T03:60:00Z", "2026-12-31T23:59:60Z", "2026-01-02T03:04:05.Z", "2026-01-02T03:04:05.1234567890Z",
                      "0000-01-01T00:00:00Z", "+2026-01-02T03:04:05Z", ""])
    func rejectsOtherTimestamps(text: String) {
        #expect(!RFC3339.isValidUTC(text))
    }

    // MARK: - Independent validation (in-toto-attestation + the VSA spec)

    @Test(arguments: [sample(), full(), failed()])
    func inTotoAttestationAcceptsTheStatement(summary: SLSAVerificationSummary) throws {
        let statement = try summary.statement(subjects: [Self.subject])
        let result = try FormatsInterop.check("check_slsa_predicate.py", ["vsa"], document: statement.json)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == "valid")
    }

    @Test(arguments: [
        (["predicate", "verifiedLevels"], JSONValue.string("SLSA_BUILD_LEVEL_3"), "verifiedLevels is required"),
        (["predicate", "policy", "uri"], nil, "policy.uri is required"),
        (["predicate", "timeVerified"], .string("2026-01-02"), "timeVerified"),
        (["predicate", "verificationResult"], .string("OK"), "PASSED or FAILED"),
        (["predicate", "resourceURI"], .string("x"), "does not define"),
        (["predicate", "policy", "digests"], .object([:]), "digests"),
    ] as [([JSONStep], JSONValue?, String)])
    func inTotoAttestationRejectsABrokenStatement(path: [JSONStep], value: JSONValue?, expected: String) throws {
        let statement = try Self.full().statement(subjects: [Self.subject])
        let result = try FormatsInterop.check("check_slsa_predicate.py", ["vsa"], document: statement.json.setting(path, to: value))
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains(expected), "\(result.output)")
    }
}
