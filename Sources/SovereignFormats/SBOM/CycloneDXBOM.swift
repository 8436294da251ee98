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
    /// `verify`).
    public init(json: JSONValue, source: String) throws(FormatsError) {
        self = try JSONObjectReader.read(json, source: source, mode: Self.jsonReadingMode,
                                         what: "a CycloneDX BOM") { root throws(FormatsError) in
            try Self(reading: &root)
        }
    }

    public static let defaultSource = "bom"

    private static func readModel(_ component: inout JSONObjectReader) throws(FormatsError) -> Model {
        let properties = try readProperties(&component)
        guard let fileName = properties[Property.path], !fileName.isEmpty else {
            throw component.error("properties", "has no '\(Property.path)'")
        }
        let size = try size(component, properties, of: fileName)
        let (architecture, parameters) = try component.object("modelCard") { card throws(FormatsError) in
            let architecture = try card.object("modelParameters") { parameters throws(FormatsError) in
                try parameters.nonEmptyString("architectureFamily")
            }
            return (architecture, try readProperties(&card))
        }
        var sourceURL: String?
        _ = try component.objects("externalReferences") { reference throws(FormatsError) in
            guard try reference.nonEmptyString("type") == "distribution" else { return }
            guard sourceURL == nil else { throw reference.error("", "is a second distribution reference") }
            sourceURL = try reference.nonEmptyString("url")
        }
        guard let sourceURL else {
            throw component.error("externalReferences", "has no 'distribution' reference (where the model came from)")
        }
        return Model(name: try component.nonEmptyString("name"), version: try component.optionalNonEmptyString("version"),
                     fileName: fileName, sha256: try sha256(&component), size: size,
                     license: try license(&component), source: sourceURL,
                     architecture: architecture, parameters: parameters)
    }

    private static func readFile(_ component: inout JSONObjectReader) throws(FormatsError) -> File {
        let properties = try readProperties(&component)
        let path = try component.nonEmptyString("name")
        let size = try size(component, properties, of: path)
        guard let roleText = properties[Property.role] else {
            throw component.error("properties", "has no '\(Property.role)'")
        }
        guard let role = File.Role(rawValue: roleText) else {
            throw component.error("", "'\(Property.role)' of '\(path)' is '\(roleText)', expected one of \(File.Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return File(path: path, sha256: try sha256(&component), size: size, role: role)
    }

    /// The `sovereign:size` property of the component for `path`.
    private static func size(_ component: JSONObjectReader, _ properties: [String: String], of path: String) throws(FormatsError) -> Int64 {
        guard let sizeText = properties[Property.size] else {
            throw component.error("properties", "has no '\(Property.size)'")
        }
        guard let size = Int64(sizeText), size >= 0 else {
            throw component.error("", "'\(Property.size)' of '\(path)' must be a non-negative integer, got '\(sizeText)'")
        }
        return size
    }

    /// The one SHA-256 among a component's `hashes`.
    private static func sha256(_ component: inout JSONObjectReader) throws(FormatsError) -> SHA256Digest {
        var found: SHA256Digest?
        _ = try component.objects("hashes") { hash throws(FormatsError) in
            guard try hash.nonEmptyString("alg") == "SHA-256" else { return }
            let digest = try hash.sha256("content")
            guard found == nil else { throw hash.error("", "is a second SHA-256 hash") }
            found = digest
        }
        guard let found else { throw component.error("hashes", "has no SHA-256 hash") }
        return found
    }

    /// The one licence: an SPDX `license.id` (or `license.name`), or an
    /// `expression`.
    private static func license(_ component: inout JSONObjectReader) throws(FormatsError) -> String {
        let licenses = try component.objects("licenses") { entry throws(FormatsError) in
            if let expression = try entry.optionalNonEmptyString("expression") { return expression }
            let license = try entry.optionalObject("license") { license throws(FormatsError) -> String in
                if let id = try license.optionalNonEmptyString("id") { return id }
                if let name = try license.optionalNonEmptyString("name") { return name }
                throw license.error("", "must have 'id' or 'name'")
            }
            guard let license else { throw entry.error("", "must have 'license' or 'expression'") }
            return license
        }
        guard licenses.count == 1, let license = licenses.first else {
            throw component.error("licenses", "must hold exactly one licence, got \(licenses.count)")
        }
        return license
    }

    private static func expectType(_ component: inout JSONObjectReader, _ expected: String) throws(FormatsError) {
        let type = try component.nonEmptyString("type")
        guard type == expected else { throw component.error("type", "is '\(type)', expected '\(expected)'") }
    }

    /// A component's `properties` as a map; a name given twice is refused
    /// (which value would be meant?).
    private static func readProperties(_ component: inout JSONObjectReader) throws(FormatsError) -> [String: String] {
        var properties: [String: String] = [:]
        let propertiesPath = component.fieldPath("properties")
        _ = try component.optionalObjects("properties") { property throws(FormatsError) in
            let name = try property.nonEmptyString("name")
            let text = try property.string("value")
            guard properties.updateValue(text, forKey: name) == nil else {
                throw FormatsError(source: property.source, reason: "\(propertiesPath): lists '\(name)' twice")
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

extension ImageBOM: JSONObjectDecodable {
    /// Fields it does not read are ignored (CycloneDX, like in-toto, lets
    /// consumers ignore what they do not know); but a component of a type
    /// Sovereign never writes is refused, so nothing in the BOM goes unshown.
    public static let jsonReadingMode = JSONObjectReader.Mode.ignoringUnknownFields

    public init(reading root: inout JSONObjectReader) throws(FormatsError) {
        let format = try root.nonEmptyString("bomFormat")
        guard format == "CycloneDX" else { throw root.error("bomFormat", "is '\(format)', expected 'CycloneDX'") }
        let version = try root.nonEmptyString("specVersion")
        guard version == Self.specVersion else { throw root.error("specVersion", "is '\(version)', expected '\(Self.specVersion)'") }
        let serial = try root.nonEmptyString("serialNumber")
        guard Self.isUUIDURN(serial) else {
            throw root.error("serialNumber", "must be urn:uuid: and a lowercase UUID, got '\(serial)'")
        }

        let header = try root.object("metadata") { metadata throws(FormatsError) in
            let created = try metadata.timestamp("timestamp")
            let tools = try metadata.object("tools") { tools throws(FormatsError) in
                try tools.objects("components") { tool throws(FormatsError) in
                    (name: try tool.nonEmptyString("name"), version: try tool.nonEmptyString("version"))
                }
            }
            guard let tool = tools.first else {
                throw metadata.error("tools.components", "must list the tool that wrote the BOM")
            }
            let image = try metadata.object("component") { image throws(FormatsError) in
                try Self.expectType(&image, "container")
                let name = try image.nonEmptyString("name")
                let version = try image.nonEmptyString("version")
                let properties = try Self.readProperties(&image)
                guard let sequenceText = properties[Property.sequence] else {
                    throw image.error("properties", "has no '\(Property.sequence)'")
                }
                guard let sequence = Int64(sequenceText), sequence >= 0 else {
                    throw image.error("", "'\(Property.sequence)' must be a non-negative integer, got '\(sequenceText)'")
                }
                return (name: name, version: version, sequence: sequence)
            }
            return (created: created, tool: tool, image: image)
        }
        created = header.created
        toolName = header.tool.name
        toolVersion = header.tool.version
        imageName = header.image.name
        imageVersion = header.image.version
        sequence = header.image.sequence

        var model: Model?
        var files: [File] = []
        _ = try root.objects("components") { component throws(FormatsError) in
            let type = try component.nonEmptyString("type")
            switch type {
            case "machine-learning-model":
                guard model == nil else { throw component.error("", "is a second machine-learning-model; an image has one model") }
                model = try Self.readModel(&component)
            case "file":
                files.append(try Self.readFile(&component))
            default:
                throw component.error("type", "is '\(type)'; a Sovereign image BOM lists only 'machine-learning-model' and 'file' components")
            }
        }
        guard let model else { throw root.error("components", "has no machine-learning-model component") }
        self.model = model
        self.files = files

        var seen: Set<String> = [model.fileName]
        for file in files where !seen.insert(file.path).inserted {
            throw root.error("components", "'\(file.path)' is listed twice")
        }
    }
}
