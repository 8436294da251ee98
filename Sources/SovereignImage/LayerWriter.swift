import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive

/// What goes into one layer: files from disk or memory at image paths.
struct LayerPlan {
    enum Source {
        case file(String)
        case bytes([UInt8])
    }
    struct Entry {
        let path: String
        let source: Source
    }

    let layer: ImageLayout.Layer
    var entries: [Entry] = []

    mutating func add(_ path: String, _ source: Source) { entries.append(Entry(path: path, source: source)) }

    /// Every entry and every ancestor directory, in byte order of path, so
    /// parents precede children and no file system's order leaks in.
    var sortedItems: [(path: String, entry: Entry?)] {
        var directories = Set<String>()
        for entry in entries {
            var parts = entry.path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                directories.insert(parts.joined(separator: "/") + "/")
                parts = parts.dropLast()
            }
        }
        let items: [(path: String, entry: Entry?)] = directories.map { ($0, nil) } + entries.map { ($0.path, $0) }
        return items.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }
}

/// Streams a layer plan into a tar blob: one read of each input, hashing
/// the file (for image.json) and the tar stream (for the blob digest).
struct LayerWriter {
    let mtime: Int64
    /// Called with (path, bytes done, total) while large files stream.
    let progress: ((String, Int64, Int64) -> Void)?

    func write(_ plan: LayerPlan, into layout: OCILayoutWriter) throws(ImageError) -> (descriptor: OCIDescriptor, files: [FileRecord]) {
        var records: [FileRecord] = []
        let (digest, size) = try layout.streamBlob { (sink) throws(ArchiveError) in
            let tar = try DeterministicTarWriter(label: "\(plan.layer.rawValue) layer", mtime: mtime, sink: sink)
            for item in plan.sortedItems {
                guard let entry = item.entry else {
                    try tar.addDirectory(item.path)
                    continue
                }
                switch entry.source {
                case .bytes(let bytes):
                    try tar.addFile(entry.path, bytes: bytes)
                    records.append(FileRecord(path: entry.path, size: Int64(bytes.count), sha256: SHA256.hash(bytes), layer: plan.layer))
                case .file(let source):
                    records.append(try streamFile(source, as: entry.path, layer: plan.layer, into: tar))
                }
            }
            _ = try tar.finish()
        }
        let descriptor = OCIDescriptor(mediaType: OCIMediaType.layerTar, digest: digest, size: size,
                                       annotations: [OCIAnnotation.title: plan.layer.rawValue])
        return (descriptor, records)
    }

    func streamFile(_ source: String, as path: String, layer: ImageLayout.Layer,
                    into tar: DeterministicTarWriter) throws(ArchiveError) -> FileRecord {
        var info = stat()
        guard stat(source, &info) == 0 else { throw ArchiveError(SystemError(path: source, operation: "stat", errno: errno)) }
        let size = Int64(info.st_size)
        var digest: SHA256Digest?
        // The file's own digest (for image.json) is computed on a second
        // core from the same read, while this thread writes and hashes the tar stream.
        try tar.addFile(path, size: size) { (write) throws(ArchiveError) in
            do throws(FileHashing.StreamError<ArchiveError>) {
                digest = try FileHashing.streamHashingAside(source, progress: { progress?(source, $0, size) }) { (chunk) throws(ArchiveError) in
                    try write(chunk)
                }.digest
            } catch {
                switch error {
                case .read(let cause): throw ArchiveError(path: cause.thing, reason: cause.reason)
                case .consume(let cause): throw cause
                }
            }
        }
        guard let digest else { throw ArchiveError(path: source, reason: "was not read") }
        return FileRecord(path: path, size: size, sha256: digest, layer: layer)
    }
}
