/// An OCI image manifest (also used, with `subject`, for referrers).
public struct OCIManifest: Codable, Sendable, Equatable {
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
public struct OCIIndex: Codable, Sendable, Equatable {
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
public struct OCILayoutMarker: Codable, Sendable, Equatable {
    public var imageLayoutVersion = OCIMediaType.layoutVersion
    public init() {}
}
