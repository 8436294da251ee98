/// Media types from the OCI image spec v1.1 (and the ones we add).
public enum OCIMediaType {
    public static let imageIndex = "application/vnd.oci.image.index.v1+json"
    public static let imageManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let imageConfig = "application/vnd.oci.image.config.v1+json"
    /// Uncompressed layer: digest and diff_id are the same, and the image
    /// is bit-for-bit reproducible without depending on a compressor.
    public static let layerTar = "application/vnd.oci.image.layer.v1.tar"
    /// The empty descriptor's config, for artifacts (OCI 1.1).
    public static let empty = "application/vnd.oci.empty.v1+json"
    /// A DSSE envelope stored as a blob.
    public static let dsseEnvelope = "application/vnd.dsse.envelope.v1+json"
    /// The image layout's version marker file.
    public static let layoutVersion = "1.0.0"
}

/// Standard annotation keys (OCI annotations.md).
public enum OCIAnnotation {
    public static let title = "org.opencontainers.image.title"
    public static let version = "org.opencontainers.image.version"
    public static let created = "org.opencontainers.image.created"
    public static let source = "org.opencontainers.image.source"
    public static let revision = "org.opencontainers.image.revision"
    public static let refName = "org.opencontainers.image.ref.name"
}
