import SovereignSystem
import SovereignCrypto
import SovereignFormats

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

        public init(path: String, sha256: SHA256Digest) {
            self.path = path
            self.sha256 = sha256
        }

        /// By bytes: Swift's `String ==` calls canonically equivalent text
        /// equal ("K" and U+212A KELVIN SIGN), but files are named by bytes.
        public static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.sha256 == rhs.sha256 && lhs.path.utf8.elementsEqual(rhs.path.utf8)
        }
    }

    /// How an in-toto statement names the layer as a whole among its
    /// subjects (a certification's second subject, an approval's first).
    public static let subjectName = "constraint-layer"

    public static func of(_ entries: [Entry]) -> SHA256Digest {
        let list = JSONValue.object(["files": .array(sorted(entries).map { .object(["path": .string($0.path), "sha256": .string($0.sha256.hex)]) })])
        return SHA256.hash(CanonicalJSON.serialize(list))
    }

    /// `entries` sorted by path bytes: the order the digest hashes them in.
    public static func sorted(_ entries: [Entry]) -> [Entry] {
        entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// Every file of `layer`'s folder as `sovereign build` packages it, hashed, sorted by path bytes.
    public static func entries(of layer: ConstraintLayer) throws(FormatsError) -> [Entry] {
        var entries: [Entry] = []
        for path in layer.files {
            let source = layer.directory + "/" + path
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(source, limit: 64 * 1024 * 1024) } catch {
                throw FormatsError(source: error.thing, reason: error.reason)
            }
            entries.append(Entry(path: path, sha256: SHA256.hash(bytes)))
        }
        return sorted(entries)
    }
}
