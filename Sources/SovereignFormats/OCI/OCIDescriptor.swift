import SovereignCrypto

/// An OCI content descriptor: what a blob is, its digest and size.
///
/// Written with `Encodable` (`CanonicalJSON.encode`); read with
/// `JSONObjectReader` (see `jsonReadingMode`).
public struct OCIDescriptor: Encodable, Sendable, Equatable {
    public var mediaType: String
    public var digest: String
    public var size: Int64
    public var artifactType: String?
    public var annotations: [String: String]?
    public var platform: OCIPlatform?

    public init(mediaType: String, digest: SHA256Digest, size: Int64, artifactType: String? = nil,
                annotations: [String: String]? = nil, platform: OCIPlatform? = nil) {
        self.mediaType = mediaType
        self.digest = digest.prefixed
        self.size = size
        self.artifactType = artifactType
        self.annotations = annotations
        self.platform = platform
    }

    /// The descriptor of `bytes` as a blob of `mediaType`.
    public init(mediaType: String, bytes: [UInt8], artifactType: String? = nil, annotations: [String: String]? = nil) {
        self.init(mediaType: mediaType, digest: SHA256.hash(bytes), size: Int64(bytes.count),
                  artifactType: artifactType, annotations: annotations)
    }

    /// The SHA-256 digest, if `digest` is a well-formed `sha256:<64 hex>`.
    public var sha256: SHA256Digest? {
        guard digest.hasPrefix("sha256:") else { return nil }
        return SHA256Digest(hex: String(digest.dropFirst(7)))
    }

    /// The OCI 1.1 empty descriptor (`{}`), config of artifact manifests.
    public static let empty = OCIDescriptor(mediaType: OCIMediaType.empty, bytes: Array("{}".utf8))
}

public struct OCIPlatform: Encodable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public init(architecture: String, os: String) {
        self.architecture = architecture
        self.os = os
    }
}

// MARK: - Reading

/// How every OCI document (descriptor, manifest, index, config, layout
/// marker) is read: unknown fields ignored, an optional `null` read as
/// absent.
///
/// Why not strict, given that the verifier is deliberately strict about
/// what it accepts: the image-spec says consumers must ignore fields they do
/// not know (descriptors may carry `urls`, `data`; configs `Env`, `Cmd`,
/// `author`; platforms `variant`), and Go-written configs carry `"Labels":
/// null`. Refusing them would refuse images that `skopeo` and `umoci`
/// accept. Nothing is lost by ignoring them: every one of these documents
/// is a blob whose bytes are covered by its descriptor's digest, so an
/// unknown field cannot be added or changed without changing the digest the
/// signatures name. This is also what the `Codable` decoding did before (it
/// ignored unknown keys and read `null` as absent), so no image that was
/// accepted is refused now, and none that was refused is accepted.
extension JSONObjectReader.Mode {
    static let oci = JSONObjectReader.Mode.ignoringUnknownFields.readingNullAsAbsent
}

extension OCIDescriptor: JSONObjectDecodable {
    /// Unknown fields ignored, `null` as absent: see `JSONObjectReader.Mode.oci`.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        mediaType = try reader.string("mediaType")
        digest = try reader.string("digest")
        size = try reader.integer("size")
        artifactType = try reader.optionalString("artifactType")
        annotations = try reader.optionalStringMap("annotations")
        platform = try reader.decodeIfPresent(OCIPlatform.self, "platform")
    }
}

extension OCIPlatform: JSONObjectDecodable {
    /// Unknown fields (`variant`, `os.version`, `os.features`) ignored:
    /// see `JSONObjectReader.Mode.oci`.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        architecture = try reader.string("architecture")
        os = try reader.string("os")
    }
}
