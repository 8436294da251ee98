import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignPolicy

/// The one definition of a constraint layer's digest: SHA-256 of the
/// canonical JSON `{"files":[{"path","sha256"}…]}` of its files (documents,
/// rules, runtime settings), paths relative to the layer, sorted by bytes.
/// The same bytes give the same digest whether read from a layer folder (a
/// policy author approving it) or from an image's signed file list (a
/// customer installing it).
public enum ConstraintLayerDigest {
    public struct Entry: Sendable, Equatable {
        public let path: String
        public let sha256: SHA256Digest
    }

    public static func of(_ entries: [Entry]) -> SHA256Digest {
        let sorted = entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        let list = JSONValue.object(["files": .array(sorted.map { .object(["path": .string($0.path), "sha256": .string($0.sha256.hex)]) })])
        return SHA256.hash(CanonicalJSON.serialize(list))
    }

    /// Every file of `layer`'s folder as `sovereign build` packages it, hashed, sorted by path bytes.
    public static func entries(of layer: ConstraintLayer) throws(ImageError) -> [Entry] {
        var entries: [Entry] = []
        for path in layer.files {
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(layer.directory + "/" + path, limit: 64 * 1024 * 1024) } catch { throw ImageError.from(error) }
            entries.append(Entry(path: path, sha256: SHA256.hash(bytes)))
        }
        return entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }
}
