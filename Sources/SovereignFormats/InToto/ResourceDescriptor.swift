import SovereignCrypto

/// An in-toto ResourceDescriptor (attestation spec v1,
/// `resource_descriptor.md`): a reference to an artifact by name, URI and/or
/// digest. SLSA provenance uses it for resolved dependencies, builder
/// dependencies and byproducts; the SLSA VSA for its policy and input
/// attestations.
///
/// At least one of `name`, `uri` and `digest` must be set. An empty
/// `digest` or `annotations` map means "absent" and is not written.
public struct ResourceDescriptor: Sendable, Equatable, Hashable {
    public var name: String?
    public var uri: String?
    /// Algorithm → lowercase hex, checked by `DigestSet.problem(in:)`.
    public var digest: [String: String]
    /// The resource's bytes inline (written as standard base64).
    public var content: [UInt8]?
    public var downloadLocation: String?
    public var mediaType: String?
    public var annotations: [String: JSONValue]

    public init(name: String? = nil, uri: String? = nil, digest: [String: String] = [:], content: [UInt8]? = nil,
                downloadLocation: String? = nil, mediaType: String? = nil, annotations: [String: JSONValue] = [:]) {
        self.name = name
        self.uri = uri
        self.digest = digest
        self.content = content
        self.downloadLocation = downloadLocation
        self.mediaType = mediaType
        self.annotations = annotations
    }

    /// A resource identified by its SHA-256 digest.
    public init(name: String? = nil, uri: String? = nil, sha256: SHA256Digest, mediaType: String? = nil) {
        self.init(name: name, uri: uri, digest: ["sha256": sha256.hex], mediaType: mediaType)
    }

    /// The descriptor as a JSON object (absent fields omitted).
    public func json() -> JSONValue {
        var members: [String: JSONValue] = [:]
        if let name { members["name"] = .string(name) }
        if let uri { members["uri"] = .string(uri) }
        if !digest.isEmpty { members["digest"] = .object(digest.mapValues { .string($0) }) }
        if let content { members["content"] = .string(Base64.encode(content)) }
        if let downloadLocation { members["downloadLocation"] = .string(downloadLocation) }
        if let mediaType { members["mediaType"] = .string(mediaType) }
        if !annotations.isEmpty { members["annotations"] = .object(annotations) }
        return .object(members)
    }

    /// Parses and validates a descriptor; `path` names it in errors
    /// (`buildDefinition.resolvedDependencies[2]`).
    public init(json: JSONValue, source: String, path: String = "resourceDescriptor") throws(FormatsError) {
        self = try Self.read(json, source: source, path: path)
    }
}

extension ResourceDescriptor: JSONObjectDecodable {
    /// Unknown fields are ignored, as the in-toto parsing rules require.
    public static let jsonReadingMode = JSONObjectReader.Mode.ignoringUnknownFields

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        name = try reader.optionalNonEmptyString("name")
        uri = try reader.optionalNonEmptyString("uri")
        digest = try reader.optionalDigestSet() ?? [:]
        if let encoded = try reader.optionalNonEmptyString("content") {
            guard let bytes = Base64.decodeStrict(encoded) else { throw reader.error("content", "must be standard padded base64") }
            content = bytes
        } else {
            content = nil
        }
        downloadLocation = try reader.optionalNonEmptyString("downloadLocation")
        mediaType = try reader.optionalNonEmptyString("mediaType")
        annotations = try reader.optionalRawObject("annotations") ?? [:]
        guard name != nil || uri != nil || !digest.isEmpty else {
            throw reader.error("", "must have at least one of 'name', 'uri' or 'digest'")
        }
    }
}
