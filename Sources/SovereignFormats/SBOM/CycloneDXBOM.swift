import SovereignCrypto

/// The CycloneDX 1.6 bill of materials of an appliance image: the model as a
/// `machine-learning-model` component (hash, licence, where it came from,
/// model card), and every reference document, rule set, runtime settings
/// file, audit suite and the image index as `file` components with their
/// SHA-256, all tied to the image (`metadata.component`, a `container`) in
/// the dependency graph.
///
/// Deterministic: the timestamp is the image's `created`, the serial number
/// a name-based UUID of the document's own content, and every list is
/// sorted, so the same inputs give the same canonical bytes.
public struct ImageBOM: Sendable, Equatable, InTotoPredicate {
    /// The in-toto predicate type for CycloneDX documents.
    public static let predicateType = "https://cyclonedx.org/bom"
    public static let specVersion = "1.6"

    public struct Model: Sendable, Equatable {
        public var name: String
        public var version: String?
        /// Path in the image, e.g. `sovereign/model/SmolLM2-135M-Instruct.Q4_1.gguf`.
        public var fileName: String
        public var sha256: SHA256Digest
        public var size: Int64
        /// An SPDX licence id (`Apache-2.0`) or SPDX expression.
        public var license: String
        /// Where the weights came from (a URL or a purl).
        public var source: String
        /// GGUF `general.architecture`, e.g. `llama`.
        public var architecture: String
        /// Hyperparameters for the model card (`block_count`, `quantization`, …).
        public var parameters: [String: String]

        public init(name: String, version: String? = nil, fileName: String, sha256: SHA256Digest, size: Int64,
                    license: String, source: String, architecture: String, parameters: [String: String] = [:]) {
            self.name = name
            self.version = version
            self.fileName = fileName
            self.sha256 = sha256
            self.size = size
            self.license = license
            self.source = source
            self.architecture = architecture
            self.parameters = parameters
        }
    }

    public struct File: Sendable, Equatable {
        /// What a file is to the appliance; written as the `sovereign:role` property.
        public enum Role: String, Sendable, CaseIterable {
            case referenceDocument = "reference-document"
            case rules
            case runtimeSettings = "runtime-settings"
            case auditSuite = "audit-suite"
            case imageIndex = "image-index"
        }

        /// Path in the image.
        public var path: String
        public var sha256: SHA256Digest
        public var size: Int64
        public var role: Role

        public init(path: String, sha256: SHA256Digest, size: Int64, role: Role) {
            self.path = path
            self.sha256 = sha256
            self.size = size
            self.role = role
        }
    }

    public var imageName: String
    public var imageVersion: String
    /// RFC 3339 UTC: the image's creation time, never the clock.
    public var created: String
    /// The image's anti-rollback sequence number.
    public var sequence: Int64
    public var model: Model
    /// In any order: the document lists them sorted by path, and equality
    /// ignores the order.
    public var files: [File]
    public var toolName: String
    public var toolVersion: String

    public init(imageName: String, imageVersion: String, created: String, sequence: Int64, model: Model,
                files: [File], toolName: String, toolVersion: String) {
        self.imageName = imageName
        self.imageVersion = imageVersion
        self.created = created
        self.sequence = sequence
        self.model = model
        self.files = files
        self.toolName = toolName
        self.toolVersion = toolVersion
    }

    public static func == (lhs: ImageBOM, rhs: ImageBOM) -> Bool {
        lhs.imageName == rhs.imageName && lhs.imageVersion == rhs.imageVersion && lhs.created == rhs.created
            && lhs.sequence == rhs.sequence && lhs.model == rhs.model && lhs.toolName == rhs.toolName
            && lhs.toolVersion == rhs.toolVersion && lhs.sortedFiles == rhs.sortedFiles
    }

    // MARK: - Writing

    /// Property names, in a `sovereign:` namespace of their own (CycloneDX
    /// reserves `cdx:`).
    enum Property {
        static let path = "sovereign:path"
        static let size = "sovereign:size"
        static let role = "sovereign:role"
        static let sequence = "sovereign:sequence"
    }

    static let imageRef = "image"
    static func modelRef(_ model: Model) -> String { "model:" + model.fileName }
    static func fileRef(_ file: File) -> String { "file:" + file.path }

    /// Files sorted by the bytes of their path (locale-independent).
    var sortedFiles: [File] {
        files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// The CycloneDX 1.6 JSON document.
    public func json() -> JSONValue {
        var document = documentWithoutSerialNumber()
        document["serialNumber"] = .string(serialNumber)
        return .object(document)
    }

    /// `urn:uuid:` + a version-8 UUID from the SHA-256 of the canonical
    /// document without its serial number: a changed byte anywhere (a hash,
    /// a path, the sequence) changes it, and nothing else does. (CycloneDX
    /// asks for a new serial per generated BOM; regenerating the same BOM
    /// here gives the same one, which is what reproducibility means.)
    public var serialNumber: String {
        var hasher = SHA256()
        hasher.update(Array("sovereign.cyclonedx-serial-number.v1\n".utf8))
        hasher.update(CanonicalJSON.serialize(.object(documentWithoutSerialNumber())))
        return "urn:uuid:" + NameBasedUUID.version8(sha256: hasher.finalize())
    }

    private func documentWithoutSerialNumber() -> [String: JSONValue] {
        let files = sortedFiles
        let imageComponent: JSONValue = .object([
            "type": .string("container"), "bom-ref": .string(Self.imageRef),
            "name": .string(imageName), "version": .string(imageVersion),
            "properties": Self.properties([Property.sequence: String(sequence)]),
        ])
        let tool: JSONValue = .object([
            "type": .string("application"), "name": .string(toolName), "version": .string(toolVersion),
        ])
        let metadata: JSONValue = .object([
            "timestamp": .string(created),
            "lifecycles": .array([.object(["phase": .string("build")])]),
            "tools": .object(["components": .array([tool])]),
            "component": imageComponent,
        ])
        let components: [JSONValue] = [modelComponent()] + files.map(Self.fileComponent)
        // Every component appears in the graph; those without dependencies
        // as bare entries, as CycloneDX 1.6 asks.
        let componentRefs = [Self.modelRef(model)] + files.map(Self.fileRef)
        let dependencies: [JSONValue] = [
            .object(["ref": .string(Self.imageRef), "dependsOn": .array(componentRefs.map(JSONValue.string))]),
        ] + componentRefs.map { .object(["ref": .string($0)]) }
        return [
            "$schema": .string("http://cyclonedx.org/schema/bom-1.6.schema.json"),
            "bomFormat": .string("CycloneDX"),
            "specVersion": .string(Self.specVersion),
            "version": .integer(1),
            "metadata": metadata,
            "components": .array(components),
            "dependencies": .array(dependencies),
        ]
    }

    private func modelComponent() -> JSONValue {
        var modelCard: [String: JSONValue] = [
            "modelParameters": .object([
                "task": .string("text-generation"),
                "architectureFamily": .string(model.architecture),
                "modelArchitecture": .string(model.architecture),
                "inputs": .array([.object(["format": .string("text")])]),
                "outputs": .array([.object(["format": .string("text")])]),
            ]),
        ]
        if !model.parameters.isEmpty { modelCard["properties"] = Self.properties(model.parameters) }
        var component: [String: JSONValue] = [
            "type": .string("machine-learning-model"),
            "bom-ref": .string(Self.modelRef(model)),
            "name": .string(model.name),
            "hashes": Self.hashes(model.sha256),
            "licenses": Self.licenses(model.license),
            "externalReferences": .array([.object(["type": .string("distribution"), "url": .string(model.source)])]),
            "modelCard": .object(modelCard),
            "properties": Self.properties([Property.path: model.fileName, Property.size: String(model.size)]),
        ]
        if let version = model.version { component["version"] = .string(version) }
        return .object(component)
    }

    private static func fileComponent(_ file: File) -> JSONValue {
        var component: [String: JSONValue] = [
            "type": .string("file"),
            "bom-ref": .string(fileRef(file)),
            "name": .string(file.path),
            "hashes": hashes(file.sha256),
            "properties": properties([Property.role: file.role.rawValue, Property.size: String(file.size)]),
        ]
        if let mediaType = mediaType(of: file.path) { component["mime-type"] = .string(mediaType) }
        return .object(component)
    }

    static func mediaType(of path: String) -> String? {
        if path.hasSuffix(".md") { return "text/markdown" }
        if path.hasSuffix(".json") { return "application/json" }
        return nil
    }

    private static func hashes(_ digest: SHA256Digest) -> JSONValue {
        .array([.object(["alg": .string("SHA-256"), "content": .string(digest.hex)])])
    }

    /// A single SPDX id as `license.id`; an expression (`MIT OR Apache-2.0`)
    /// or a `LicenseRef-`/`DocumentRef-` reference as `expression`, the
    /// only place CycloneDX accepts those.
    private static func licenses(_ license: String) -> JSONValue {
        let isExpression = license.contains(" ") || license.contains("(")
            || license.hasPrefix("LicenseRef-") || license.hasPrefix("DocumentRef-")
        let entry: JSONValue = isExpression
            ? .object(["expression": .string(license)])
            : .object(["license": .object(["id": .string(license)])])
        return .array([entry])
    }

    /// Name/value properties sorted by name.
    private static func properties(_ values: [String: String]) -> JSONValue {
        .array(values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map {
            .object(["name": .string($0.key), "value": .string($0.value)])
        })
    }

    // MARK: - Reading

    /// Parses and validates a BOM this type wrote (for `inspect` and
    /// `verify`). Fields it does not read are ignored; a component of a type
    /// Sovereign never writes is refused, so nothing in the BOM goes unshown.
    public init(json: JSONValue, source: String) throws(FormatsError) {
        let root = try JSONObjectReader(json, path: "", source: source, what: "a CycloneDX BOM")
        func fail(_ reason: String) -> FormatsError { root.fail(reason) }

        let format = try root.string("bomFormat")
        guard format == "CycloneDX" else { throw fail("'bomFormat' is '\(format)', expected 'CycloneDX'") }
        let version = try root.string("specVersion")
        guard version == Self.specVersion else { throw fail("'specVersion' is '\(version)', expected '\(Self.specVersion)'") }
        let serial = try root.string("serialNumber")
        guard Self.isUUIDURN(serial) else {
            throw fail("'serialNumber' must be urn:uuid: and a lowercase UUID, got '\(serial)'")
        }

        let metadata = try root.object("metadata")
        created = try metadata.timestamp("timestamp")
        let tools = try metadata.object("tools").array("components")
        guard let (toolPath, toolValue) = tools.first else {
            throw fail("'metadata.tools.components' must list the tool that wrote the BOM")
        }
        let tool = try JSONObjectReader(toolValue, path: toolPath, source: source)
        toolName = try tool.string("name")
        toolVersion = try tool.string("version")

        let image = try metadata.object("component")
        try Self.expectType(image, "container")
        imageName = try image.string("name")
        imageVersion = try image.string("version")
        let imageProperties = try Self.readProperties(image)
        guard let sequenceText = imageProperties[Property.sequence] else {
            throw fail("'metadata.component.properties' has no '\(Property.sequence)'")
        }
        guard let sequence = Int64(sequenceText), sequence >= 0 else {
            throw fail("'\(Property.sequence)' must be a non-negative integer, got '\(sequenceText)'")
        }
        self.sequence = sequence

        var model: Model?
        var files: [File] = []
        for (path, value) in try root.array("components") {
            let component = try JSONObjectReader(value, path: path, source: source)
            let type = try component.string("type")
            switch type {
            case "machine-learning-model":
                guard model == nil else { throw fail("'\(path)' is a second machine-learning-model; an image has one model") }
                model = try Self.readModel(component)
            case "file":
                files.append(try Self.readFile(component))
            default:
                throw fail("'\(path).type' is '\(type)'; a Sovereign image BOM lists only 'machine-learning-model' and 'file' components")
            }
        }
        guard let model else { throw fail("'components' has no machine-learning-model component") }
        self.model = model
        self.files = files

        var seen: Set<String> = [model.fileName]
        for file in files where !seen.insert(file.path).inserted {
            throw fail("'\(file.path)' is listed twice")
        }
    }

    public static let defaultSource = "bom"

    private static func readModel(_ component: JSONObjectReader) throws(FormatsError) -> Model {
        let properties = try readProperties(component)
        let (fileName, size) = try pathAndSize(component, properties, pathFrom: Property.path)
        let card = try component.object("modelCard")
        let parameters = try card.object("modelParameters")
        var sourceURL: String?
        for (path, value) in try component.array("externalReferences") {
            let reference = try JSONObjectReader(value, path: path, source: component.source)
            if try reference.string("type") == "distribution" {
                guard sourceURL == nil else { throw component.fail("'\(path)' is a second distribution reference") }
                sourceURL = try reference.string("url")
            }
        }
        guard let sourceURL else {
            throw component.fail("'\(component.fieldPath("externalReferences"))' has no 'distribution' reference (where the model came from)")
        }
        return Model(name: try component.string("name"), version: try component.optionalString("version"),
                     fileName: fileName, sha256: try sha256(component), size: size,
                     license: try license(component), source: sourceURL,
                     architecture: try parameters.string("architectureFamily"),
                     parameters: try readProperties(card))
    }

    private static func readFile(_ component: JSONObjectReader) throws(FormatsError) -> File {
        let properties = try readProperties(component)
        let (path, size) = try pathAndSize(component, properties, pathFrom: nil)
        guard let roleText = properties[Property.role] else {
            throw component.fail("'\(component.fieldPath("properties"))' has no '\(Property.role)'")
        }
        guard let role = File.Role(rawValue: roleText) else {
            throw component.fail("'\(Property.role)' of '\(path)' is '\(roleText)', expected one of \(File.Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return File(path: path, sha256: try sha256(component), size: size, role: role)
    }

    /// The image path (the `name`, or a property for the model) and the size.
    private static func pathAndSize(_ component: JSONObjectReader, _ properties: [String: String],
                                    pathFrom property: String?) throws(FormatsError) -> (String, Int64) {
        let path: String
        if let property {
            guard let value = properties[property], !value.isEmpty else {
                throw component.fail("'\(component.fieldPath("properties"))' has no '\(property)'")
            }
            path = value
        } else {
            path = try component.string("name")
        }
        guard let sizeText = properties[Property.size] else {
            throw component.fail("'\(component.fieldPath("properties"))' has no '\(Property.size)'")
        }
        guard let size = Int64(sizeText), size >= 0 else {
            throw component.fail("'\(Property.size)' of '\(path)' must be a non-negative integer, got '\(sizeText)'")
        }
        return (path, size)
    }

    private static func sha256(_ component: JSONObjectReader) throws(FormatsError) -> SHA256Digest {
        var found: SHA256Digest?
        for (path, value) in try component.array("hashes") {
            let hash = try JSONObjectReader(value, path: path, source: component.source)
            guard try hash.string("alg") == "SHA-256" else { continue }
            let content = try hash.string("content")
            guard found == nil else { throw component.fail("'\(path)' is a second SHA-256 hash") }
            guard let digest = SHA256Digest(hex: content) else {
                throw component.fail("'\(path).content' must be 64 lowercase hex characters, got '\(content)'")
            }
            found = digest
        }
        guard let found else { throw component.fail("'\(component.fieldPath("hashes"))' has no SHA-256 hash") }
        return found
    }

    private static func license(_ component: JSONObjectReader) throws(FormatsError) -> String {
        let entries = try component.array("licenses")
        guard entries.count == 1, let (path, value) = entries.first else {
            throw component.fail("'\(component.fieldPath("licenses"))' must hold exactly one licence, got \(entries.count)")
        }
        let entry = try JSONObjectReader(value, path: path, source: component.source)
        if let expression = try entry.optionalString("expression") { return expression }
        guard let license = try entry.optionalObject("license") else {
            throw component.fail("'\(path)' must have 'license' or 'expression'")
        }
        if let id = try license.optionalString("id") { return id }
        if let name = try license.optionalString("name") { return name }
        throw component.fail("'\(license.path)' must have 'id' or 'name'")
    }

    private static func expectType(_ component: JSONObjectReader, _ expected: String) throws(FormatsError) {
        let type = try component.string("type")
        guard type == expected else {
            throw component.fail("'\(component.fieldPath("type"))' is '\(type)', expected '\(expected)'")
        }
    }

    /// A component's `properties` as a map; a name given twice is refused
    /// (which value would be meant?).
    private static func readProperties(_ component: JSONObjectReader) throws(FormatsError) -> [String: String] {
        var properties: [String: String] = [:]
        for (path, value) in try component.optionalArray("properties") ?? [] {
            let property = try JSONObjectReader(value, path: path, source: component.source)
            let name = try property.string("name")
            guard case .string(let text)? = property.members["value"] else {
                throw component.fail("'\(path).value' must be a string")
            }
            guard properties.updateValue(text, forKey: name) == nil else {
                throw component.fail("'\(component.fieldPath("properties"))' lists '\(name)' twice")
            }
        }
        return properties
    }

    static func isUUIDURN(_ text: String) -> Bool {
        guard text.hasPrefix("urn:uuid:") else { return false }
        let uuid = Array(text.utf8.dropFirst(9))
        guard uuid.count == 36 else { return false }
        for (i, byte) in uuid.enumerated() {
            if [8, 13, 18, 23].contains(i) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else if !((0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)) {
                return false
            }
        }
        return true
    }
}
