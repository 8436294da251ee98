/// An OCI image configuration. Ours describes a data image: no entrypoint,
/// labels naming the appliance, and the layers' diff_ids.
public struct OCIImageConfig: Encodable, Sendable, Equatable {
    public struct Config: Encodable, Sendable, Equatable {
        public var Labels: [String: String]?
        public init(labels: [String: String]?) { Labels = labels }
    }
    public struct RootFS: Encodable, Sendable, Equatable {
        public var type = "layers"
        public var diff_ids: [String]
        public init(diffIDs: [String]) { diff_ids = diffIDs }
    }
    public struct History: Encodable, Sendable, Equatable {
        public var created: String?
        public var created_by: String?
        public var comment: String?
        public init(created: String?, createdBy: String?, comment: String?) {
            self.created = created
            created_by = createdBy
            self.comment = comment
        }
    }

    public var created: String?
    public var architecture: String
    public var os: String
    public var config: Config?
    public var rootfs: RootFS
    public var history: [History]?

    public init(created: String?, platform: OCIPlatform, labels: [String: String]?, diffIDs: [String], history: [History]?) {
        self.created = created
        architecture = platform.architecture
        os = platform.os
        config = Config(labels: labels)
        rootfs = RootFS(diffIDs: diffIDs)
        self.history = history
    }
}

// MARK: - Reading

extension OCIImageConfig: JSONObjectDecodable {
    /// Unknown fields ignored, `null` as absent (a Go-written config has
    /// `Env`, `Cmd`, `"Labels": null`, …): see `JSONObjectReader.Mode.oci`.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        created = try reader.optionalString("created")
        architecture = try reader.string("architecture")
        os = try reader.string("os")
        config = try reader.decodeIfPresent(Config.self, "config")
        rootfs = try reader.decode(RootFS.self, "rootfs")
        history = try reader.decodeArrayIfPresent(History.self, "history")
    }
}

extension OCIImageConfig.Config: JSONObjectDecodable {
    /// Only `Labels` is read; the rest of a runtime config is ignored.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        Labels = try reader.optionalStringMap("Labels")
    }
}

extension OCIImageConfig.RootFS: JSONObjectDecodable {
    /// See `JSONObjectReader.Mode.oci`; `type` is required, its value the
    /// caller's to check.
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        type = try reader.string("type")
        diff_ids = try reader.strings("diff_ids")
    }
}

extension OCIImageConfig.History: JSONObjectDecodable {
    /// See `JSONObjectReader.Mode.oci` (`author`, `empty_layer` ignored).
    public static let jsonReadingMode = JSONObjectReader.Mode.oci

    public init(reading reader: inout JSONObjectReader) throws(FormatsError) {
        created = try reader.optionalString("created")
        created_by = try reader.optionalString("created_by")
        comment = try reader.optionalString("comment")
    }
}
