import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignArchive
import SovereignImage

/// Unpacks an OCI image archive into a scratch layout directory, reading
/// it once: each blob is hashed while written and must match its name.
/// Only the names an OCI layout has are accepted (`oci-layout`,
/// `index.json`, `blobs/sha256/<64 hex>`, `attestations/<file>`); anything
/// else is refused before a byte of it is written.
enum ArchiveUnpacker {
    static func unpack(_ archive: String, into directory: String) throws(InstallError) {
        for sub in ["/blobs", "/blobs/sha256", "/" + ImageLayout.exportsDirectory] {
            guard mkdir(directory + sub, 0o755) == 0 || errno == EEXIST else {
                throw InstallError.from(SystemError(path: directory + sub, operation: "mkdir", errno: errno))
            }
        }
        var seen = Set<String>()
        do {
            try TarReader.forEachEntryStreaming(inFile: archive) { (entry, chunks) throws(ArchiveError) in
                let name = entry.path.hasPrefix("./") ? String(entry.path.dropFirst(2)) : entry.path
                let label = "\(archive): \(name)"
                if entry.isDirectory {
                    guard ["blobs/", "blobs/sha256/", ImageLayout.exportsDirectory + "/"].contains(name) else {
                        throw ArchiveError(path: label, reason: "is not part of an OCI image layout")
                    }
                    return
                }
                guard seen.insert(name).inserted else { throw ArchiveError(path: label, reason: "appears twice") }
                var expected: SHA256Digest?
                if name.hasPrefix("blobs/sha256/") {
                    guard let digest = SHA256Digest(hex: String(name.dropFirst("blobs/sha256/".count))) else {
                        throw ArchiveError(path: label, reason: "is not named by a sha256 digest")
                    }
                    expected = digest
                } else if name.hasPrefix(ImageLayout.exportsDirectory + "/") {
                    let file = name.dropFirst(ImageLayout.exportsDirectory.count + 1)
                    guard !file.isEmpty, !file.contains("/"), !file.hasPrefix(".") else {
                        throw ArchiveError(path: label, reason: "is not part of an OCI image layout")
                    }
                } else {
                    guard name == "oci-layout" || name == "index.json" else {
                        throw ArchiveError(path: label, reason: "is not part of an OCI image layout")
                    }
                }
                let fd: FileDescriptor
                do throws(SystemError) { fd = try FileDescriptor.createExclusive(directory + "/" + name) } catch { throw ArchiveError(error) }
                defer { fd.closeIgnoringErrors() }
                var hasher = SHA256()
                var failure: SystemError?
                _ = try chunks.forEach { chunk in
                    guard failure == nil else { return }
                    do throws(SystemError) { try fd.writeAll(chunk) } catch { failure = error }
                    hasher.update(chunk)
                }
                if let failure { throw ArchiveError(failure) }
                if let expected, hasher.finalize() != expected {
                    throw ArchiveError(path: "\(archive): blob \(expected.prefixed)", reason: "content does not match its digest")
                }
            }
        } catch {
            throw InstallError.from(error)
        }
    }
}
