import Foundation
import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignArchive

/// Writes an OCI image layout directory as one tar (what `skopeo copy
/// oci-archive:` reads), deterministically, in an order that lets a reader
/// decide trust before the weights arrive: `oci-layout`, `index.json`, the
/// small blobs (manifests, configs, envelopes), then the large ones (layers),
/// then the exported attestations; each group sorted by path.
enum ImageArchiveWriter {
    /// Blobs up to this size count as metadata and come first.
    static let smallBlob = 1 << 20

    static func write(layout directory: String, to path: String, mtime: Int64) throws(ImageError) {
        let files = try orderedEntries(directory)
        let fd: FileDescriptor
        do { fd = try FileDescriptor.createExclusive(path) } catch { throw ImageError.from(error) }
        do throws(ImageError) {
            do {
                let tar = try DeterministicTarWriter(label: path, mtime: mtime, requiresSortedPaths: false) { (chunk) throws(ArchiveError) in
                    do throws(SystemError) { try fd.writeAll(chunk) } catch { throw ArchiveError(error) }
                }
                let writer = LayerWriter(mtime: mtime, progress: nil)
                for entry in files {
                    if entry.hasSuffix("/") {
                        try tar.addDirectory(entry)
                    } else {
                        _ = try writer.streamFile(directory + "/" + entry, as: entry, layer: .index, into: tar)
                    }
                }
                _ = try tar.finish()
                try fd.sync()
                try fd.close()
            } catch {
                throw ImageError.from(error)
            }
        } catch {
            fd.closeIgnoringErrors()
            unlink(path)
            throw error
        }
    }

    /// Directory entries (ending in "/") and files in archive order.
    static func orderedEntries(_ directory: String) throws(ImageError) -> [String] {
        let files = try listTree(directory, prefix: "")
        func size(_ file: String) -> Int {
            var info = stat()
            return stat(directory + "/" + file, &info) == 0 ? Int(info.st_size) : 0
        }
        let blobs = files.filter { $0.hasPrefix("blobs/") }
        let small = blobs.filter { size($0) <= smallBlob }, large = blobs.filter { size($0) > smallBlob }
        let exports = files.filter { $0.hasPrefix(ImageLayout.exportsDirectory + "/") }
        let first = ["oci-layout", "index.json"].filter(files.contains)
        let top = first + files.filter { !$0.contains("/") && !first.contains($0) }
        var ordered = top + ["blobs/", "blobs/sha256/"] + small + large
        if !exports.isEmpty { ordered += [ImageLayout.exportsDirectory + "/"] + exports }
        return ordered
    }

    /// Regular files below `directory`, relative, sorted by bytes.
    static func listTree(_ directory: String, prefix: String) throws(ImageError) -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw ImageError(directory, "cannot be listed")
        }
        var files: [String] = []
        for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            let path = directory + "/" + name
            if FileSystem.isDirectory(path) {
                files += try listTree(path, prefix: prefix + name + "/")
            } else {
                files.append(prefix + name)
            }
        }
        return files
    }
}
