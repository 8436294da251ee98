import SovereignCrypto
import SovereignFormats

/// One file of the image tree as `sovereign/image.json` lists it.
public struct FileRecord: Sendable, Equatable {
    public let path: String
    public let size: Int64
    public let sha256: SHA256Digest
    public let layer: ImageLayout.Layer

    public var json: JSONValue {
        .object(["path": .string(path), "size": .integer(size), "sha256": .string(sha256.hex), "layer": .string(layer.rawValue)])
    }
}
