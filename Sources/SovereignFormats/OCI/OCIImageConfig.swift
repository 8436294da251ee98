/// An OCI image configuration. Ours describes a data image: no entrypoint,
/// labels naming the appliance, and the layers' diff_ids.
public struct OCIImageConfig: Codable, Sendable, Equatable {
    public struct Config: Codable, Sendable, Equatable {
        public var Labels: [String: String]?
        public init(labels: [String: String]?) { Labels = labels }
    }
    public struct RootFS: Codable, Sendable, Equatable {
        public var type = "layers"
        public var diff_ids: [String]
        public init(diffIDs: [String]) { diff_ids = diffIDs }
    }
    public struct History: Codable, Sendable, Equatable {
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
