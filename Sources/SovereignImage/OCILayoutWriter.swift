import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive

/// Writes an OCI image layout directory: blobs stored under their SHA-256,
/// each written to a temporary name, fsynced, then renamed to its digest.
final class OCILayoutWriter {
    let root: String
    private var temporaryCounter = 0

    init(root: String) throws(ImageError) {
        self.root = root
        for directory in [root, root + "/blobs", root + "/blobs/sha256"] { try Self.makeDirectory(directory) }
    }

    func blobPath(_ digest: SHA256Digest) -> String { root + "/blobs/sha256/" + digest.hex }

    /// Stores bytes as a blob; returns its descriptor.
    @discardableResult
    func writeBlob(_ bytes: [UInt8], mediaType: String, artifactType: String? = nil,
                   annotations: [String: String]? = nil) throws(ImageError) -> OCIDescriptor {
        let descriptor = OCIDescriptor(mediaType: mediaType, bytes: bytes, artifactType: artifactType, annotations: annotations)
        let (digest, _) = try streamBlob { (sink) throws(ArchiveError) in
            try bytes.withUnsafeBytes { raw in Result { () throws(ArchiveError) in try sink(raw) } }.get()
        }
        precondition(digest.prefixed == descriptor.digest)
        return descriptor
    }

    /// A referrer: an artifact manifest whose one layer is `blob` and whose
    /// `subject` is the image manifest. In index.json it carries a ref name
    /// (`<version>.<kind>`), when given, so tools that copy by name can reach it.
    func writeReferrer(_ blob: [UInt8], mediaType: String, predicateType: String?, subject: OCIDescriptor,
                       created: String, refName: String?) throws(ImageError) -> OCIDescriptor {
        let blobDescriptor = try writeBlob(blob, mediaType: mediaType)
        var annotations = [OCIAnnotation.created: created]
        if let predicateType { annotations[SovereignAnnotation.predicateType] = predicateType }
        let manifest = OCIManifest(config: .empty, layers: [blobDescriptor], artifactType: mediaType,
                                   subject: subject, annotations: annotations)
        var descriptor = try writeBlob(try encode(manifest), mediaType: OCIMediaType.imageManifest,
                                       artifactType: mediaType, annotations: annotations)
        if let refName { descriptor.annotations?[OCIAnnotation.refName] = refName }
        return descriptor
    }

    /// Streams a blob of unknown digest: `body` writes through the sink,
    /// the bytes are hashed on the way, and the file lands at its digest.
    func streamBlob(
        _ body: (_ sink: @escaping DeterministicTarWriter.Sink) throws(ArchiveError) -> Void
    ) throws(ImageError) -> (SHA256Digest, Int64) {
        temporaryCounter += 1
        let temporary = root + "/blobs/sha256/.partial-\(temporaryCounter)"
        let fd: FileDescriptor
        do { fd = try FileDescriptor.createExclusive(temporary) } catch { throw ImageError.from(error) }
        // Modes must not depend on the builder's umask: the output is reproducible to the mode bit.
        fchmod(fd.rawValue, 0o644)
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            try body { (chunk) throws(ArchiveError) in
                do throws(SystemError) { try fd.writeAll(chunk) } catch { throw ArchiveError(error) }
                hasher.update(chunk)
                size += Int64(chunk.count)
            }
            try fd.sync()
            try fd.close()
        } catch {
            fd.closeIgnoringErrors()
            unlink(temporary)
            throw ImageError.from(error)
        }
        let digest = hasher.finalize()
        guard rename(temporary, blobPath(digest)) == 0 else {
            let code = errno
            unlink(temporary)
            throw ImageError.from(SystemError(path: blobPath(digest), operation: "rename", errno: code))
        }
        return (digest, size)
    }

    /// Creates a directory (if missing) with mode 0755 whatever the umask.
    static func makeDirectory(_ path: String) throws(ImageError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw ImageError.from(SystemError(path: path, operation: "mkdir", errno: errno))
        }
        chmod(path, 0o755)
    }

    /// Writes a small file (index.json, oci-layout, an export), replacing
    /// what was there in one rename: a crash leaves the old or the new.
    func writeFile(_ name: String, _ bytes: [UInt8]) throws(ImageError) {
        do { try AtomicFileWriter.replace(bytes, at: root + "/" + name) } catch { throw ImageError.from(error) }
    }
}
