import Foundation
import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignArchive

/// Writes an OCI image layout directory as one tar (what `skopeo copy
/// oci-archive:` reads), deterministically: sorted paths, the image's time.
enum ImageArchiveWriter {
    static func write(layout directory: String, to path: String, mtime: Int64) throws(ImageError) {
        let files = try listTree(directory, prefix: "")
        let fd: FileDescriptor
        do { fd = try FileDescriptor.createExclusive(path) } catch { throw ImageError.from(error) }
        do throws(ImageError) {
            var plan = LayerPlan(layer: .index)
            for file in files { plan.add(file, .file(directory + "/" + file)) }
            do {
                let tar = try DeterministicTarWriter(label: path, mtime: mtime) { (chunk) throws(ArchiveError) in
                    do throws(SystemError) { try fd.writeAll(chunk) } catch { throw ArchiveError(error) }
                }
                let writer = LayerWriter(mtime: mtime, progress: nil)
                for item in plan.sortedItems {
                    guard let entry = item.entry, case .file(let source) = entry.source else {
                        try tar.addDirectory(item.path)
                        continue
                    }
                    _ = try writer.streamFile(source, as: entry.path, layer: .index, into: tar)
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
