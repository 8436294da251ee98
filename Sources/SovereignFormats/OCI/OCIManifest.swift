/// An OCI image manifest (also used, with `subject`, for referrers).
public struct OCIManifest: Encodable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType = OCIMediaType.imageManifest
    public var artifactType: String?
    public var config: OCIDescriptor
    public var layers: [OCIDescriptor]
    public var subject: OCIDescriptor?
    public var annotations: [String: String]?

    public init(config: OCIDescriptor, layers: [OCIDescriptor], artifactType: String? = nil,
                subject: OCIDescriptor? = nil, annotations: [String: String]? = nil) {
        self.config = config
        self.layers = layers
        self.artifactType = artifactType
        self.subject = subject
        self.annotations = annotations
    }
}

/// An OCI image index; `index.json` of an image layout is one.
public struct OCIIndex: Encodable, Sendable, Equatable {
    public var schemaVersion = 2
    public var mediaType = OCIMediaType.imageIndex
    public var manifests: [OCIDescriptor]
    public var annotations: [String: String]?

    public init(manifests: [OCIDescriptor], annotations: [String: String]? = nil) {
        self.manifests = manifests
        self.annotations = annotations
    }
}

/// The `oci-layout` marker file.
public struct OCILayoutMarker: Encodable, Sendable, Equatable {
    public var imageLayoutVersion = OCIMediaType.layoutVersion
    public init() {}
}

// MARK: - Reading

extension OCIManifest: JSONObjectDecodable {
    /// Unknown fields ignored, `null` as absent: see `JSONObjectReader.Mode.oci`.
    /// `schemaVersion` and `mediaType` are required but their values are
    /// the caller's to check (the verifier does), as before.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        schemaVersion = Int(try reader.integer("schemaVersion"))
        mediaType = try reader.string("mediaType")
        artifactType = try reader.optionalString("artifactType")
        config = try reader.decode(OCIDescriptor.self, "config")
        layers = try reader.decodeArray(OCIDescriptor.self, "layers")
        subject = try reader.decodeIfPresent(OCIDescriptor.self, "subject")
        annotations = try reader.optionalStringMap("annotations")
    }
}

extension OCIIndex: JSONObjectDecodable {
    /// Unknown fields ignored, `null` as absent: see `JSONObjectReader.Mode.oci`.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        schemaVersion = Int(try reader.integer("schemaVersion"))
        mediaType = try reader.string("mediaType")
        manifests = try reader.decodeArray(OCIDescriptor.self, "manifests")
        annotations = try reader.optionalStringMap("annotations")
    }
}

extension OCILayoutMarker: JSONObjectDecodable {
    /// Unknown fields ignored: see `JSONObjectReader.Mode.oci`.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        imageLayoutVersion = try reader.string("imageLayoutVersion")
    }
}
