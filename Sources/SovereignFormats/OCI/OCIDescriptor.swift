import SovereignCrypto

/// An OCI content descriptor: what a blob is, its digest and size.
public struct OCIDescriptor: Codable, Sendable, Equatable {
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

public struct OCIPlatform: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public init(architecture: String, os: String) {
        self.architecture = architecture
        self.os = os
    }
}
