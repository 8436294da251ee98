import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive

/// The one reader of an image on disk, an OCI layout directory or its tar
/// archive, used by `inspect`, `verify`, `install` and co-signing alike, so
/// that they accept exactly the same inputs.
///
/// Rules, the same for both forms:
/// - Only the names an OCI image layout of ours has: `oci-layout`,
///   `index.json`, `blobs/sha256/<64 lowercase hex>`, and the exported
///   attestations `attestations/<known file>`. Anything else is refused,
///   and so is any name twice (an archive could otherwise let a later
///   `index.json` win).
/// - Regular files only: opened with `O_NOFOLLOW | O_NONBLOCK` and checked
///   with `fstat`, so a symlink to `/dev/zero` or a FIFO in place of a blob
///   fails at once instead of hanging; reads stop at the size `fstat` (or
///   the archive header) gave.
/// - `oci-layout` must say `{"imageLayoutVersion":"1.0.0"}`.
/// - Every blob up to `smallBlobLimit` is read now and checked against its
///   name; larger ones (layers of weights) are only sized here and stream
///   later through `streamBlobs`, where their digest is computed as they are
///   read (by the layer extractor, on a second core).
public final class ImageSource {
    /// The path as given: what errors name.
    public let path: String
    public let isArchive: Bool
    public private(set) var indexBytes: [UInt8] = []
    /// Small blobs by digest ("sha256:…"), each checked against its name.
    public private(set) var smallBlobs: [String: [UInt8]] = [:]
    /// Every blob present, by digest, with its size.
    public private(set) var blobSizes: [String: Int64] = [:]
    /// Exported attestation files by name (e.g. "provenance.dsse.json").
    public private(set) var exports: [String: [UInt8]] = [:]
    /// Bytes hashed so far (small blobs now; large ones as they stream).
    public private(set) var bytesRead: Int64 = 0
    private(set) var smallBlobBytes: Int64 = 0

    static let smallBlobLimit = 16 << 20
    /// All small blobs together: what an image's metadata can reasonably
    /// take (ours: well under 1 MiB), so a layout stuffed with blobs cannot
    /// make the reader hold gigabytes before it finds them unreferenced.
    static let smallBlobsTotalLimit = 64 << 20
    /// Blobs in one image (ours: a dozen).
    static let blobCountLimit = 1024
    static let indexLimit = 1 << 20
    static let layoutMarkerLimit = 4096
    static let exportLimit = 16 << 20
    /// The exported files an image may carry.
    static var exportNames: Set<String> { Set(ImageLayout.exports.map(\.file) + [ImageLayout.modelSignatureFile]) }

    public init(_ path: String) throws(ImageError) {
        self.path = path
        isArchive = !FileSystem.isDirectory(path)
        if isArchive { try catalogueArchive() } else { try catalogueDirectory() }
        guard !indexBytes.isEmpty else { throw ImageError(path, "has no index.json (not an OCI image layout)") }
    }

    func blobName(_ digest: String) -> String { "\(path): blob \(digest)" }

    // MARK: Names

    /// What a name in the layout is, or why it does not belong.
    enum Member: Equatable {
        case layoutMarker, index, directory, blob(SHA256Digest), export(String)
    }

    static func member(_ path: SafeTarPath, isDirectory: Bool) -> Member? {
        let parts = path.components.map { String(decoding: $0, as: UTF8.self) }
        switch (parts.count, isDirectory) {
        case (1, false) where parts[0] == "oci-layout": return .layoutMarker
        case (1, false) where parts[0] == "index.json": return .index
        case (1, true) where parts[0] == "blobs" || parts[0] == ImageLayout.exportsDirectory: return .directory
        case (2, true) where parts[0] == "blobs" && parts[1] == "sha256": return .directory
        case (3, false) where parts[0] == "blobs" && parts[1] == "sha256":
            guard path.components[2].count == 64, path.components[2].allSatisfy(isLowercaseHex),
                  let digest = SHA256Digest(hex: parts[2]) else { return nil }
            return .blob(digest)
        case (2, false) where parts[0] == ImageLayout.exportsDirectory && (exportNames.contains(parts[1]) || ImageLayout.isLayerApprovalFile(parts[1])):
            return .export(parts[1])
        default: return nil
        }
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// Takes one regular file's bytes (read by `read`, up to `limit`) into the catalogue.
    private func take(_ member: Member, size: Int64, at place: String,
                      read: (Int) throws(ImageError) -> [UInt8]) throws(ImageError) {
        switch member {
        case .layoutMarker:
            let bytes = try read(Self.layoutMarkerLimit)
            try Self.checkLayoutMarker(bytes, at: place)
        case .index:
            indexBytes = try read(Self.indexLimit)
            guard !indexBytes.isEmpty else { throw ImageError(place, "is empty") }
        case .blob(let digest):
            blobSizes[digest.prefixed] = size
            guard blobSizes.count <= Self.blobCountLimit else {
                throw ImageError(path, "holds more than \(Self.blobCountLimit) blobs")
            }
            guard size <= Int64(Self.smallBlobLimit) else { return }
            guard smallBlobBytes + size <= Int64(Self.smallBlobsTotalLimit) else {
                throw ImageError(path, "holds more than \(Self.smallBlobsTotalLimit >> 20) MiB of blobs under \(Self.smallBlobLimit >> 20) MiB each")
            }
            smallBlobBytes += size
            let bytes = try read(Self.smallBlobLimit)
            bytesRead += Int64(bytes.count)
            guard SHA256.hash(bytes) == digest else { throw ImageError(blobName(digest.prefixed), "content does not match its digest") }
            smallBlobs[digest.prefixed] = bytes
        case .export(let name):
            exports[name] = try read(Self.exportLimit)
        case .directory:
            break
        }
    }

    static func checkLayoutMarker(_ bytes: [UInt8], at place: String) throws(ImageError) {
        do throws(FormatsError) {
            var reader = try JSONObjectReader(parsing: bytes, source: place, mode: .strict)
            let version = try reader.string("imageLayoutVersion")
            try reader.finish()
            guard version == OCIMediaType.layoutVersion else {
                throw FormatsError(source: place, reason: "imageLayoutVersion is '\(version)', expected '\(OCIMediaType.layoutVersion)'")
            }
        } catch { throw ImageError(error.source, error.reason) }
    }

    // MARK: Directory

    private func catalogueDirectory() throws(ImageError) {
        var seenMarker = false
        let top = try system { () throws(SystemError) in try DirectoryHandle.open(path) }
        try walk(top, prefix: [], seenMarker: &seenMarker)
        guard seenMarker else { throw ImageError(path, "has no oci-layout file (not an OCI image layout)") }
    }

    /// Every entry of the layout, checked against the allow-list: regular
    /// files and the three directories, nothing else.
    private func walk(_ directory: borrowing DirectoryHandle, prefix: [[UInt8]], seenMarker: inout Bool) throws(ImageError) {
        for name in try system({ () throws(SystemError) in try directory.entries() }) {
            let components = prefix + [name]
            let raw = Array(components.joined(separator: [UInt8(ascii: "/")]))
            let place = "\(path)/\(SafeTarPath.display(raw))"
            guard let info = try system({ () throws(SystemError) in try directory.status(name) }) else { continue }
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            guard let parsed = try? SafeTarPath.parse(raw, as: .canonical).get(), let member = Self.member(parsed, isDirectory: isDirectory) else {
                throw ImageError(place, "is not part of an OCI image layout")
            }
            if member == .directory {
                try walk(try system { () throws(SystemError) in try directory.openDirectory(name) }, prefix: components, seenMarker: &seenMarker)
                continue
            }
            if member == .layoutMarker { seenMarker = true }
            let (file, size) = try system { () throws(SystemError) in try directory.openRegularFile(name) }
            defer { file.closeIgnoringErrors() }
            try take(member, size: size, at: place) { (limit) throws(ImageError) -> [UInt8] in
                guard size <= Int64(limit) else { throw ImageError(place, "is \(size) bytes, more than the \(limit) allowed") }
                var bytes = [UInt8](repeating: 0, count: Int(size))
                let count = try system { () throws(SystemError) in
                    try bytes.withUnsafeMutableBytes { raw in Result { () throws(SystemError) in try file.readFully(into: raw) } }.get()
                }
                guard count == Int(size) else { throw ImageError(place, "shrank while it was read") }
                return bytes
            }
        }
    }

    private func system<T: ~Copyable>(_ call: () throws(SystemError) -> T) throws(ImageError) -> T {
        do { return try call() } catch { throw ImageError.from(error) }
    }

    // MARK: Archive

    private func catalogueArchive() throws(ImageError) {
        var seen = Set<SafeTarPath>()
        var seenMarker = false
        do {
            try forEachArchiveMember { (member, entry, chunks) throws(ImageError) in
                guard seen.insert(entry).inserted else { throw ImageError("\(path): \(entry.string)", "appears twice in the archive") }
                if member == .layoutMarker { seenMarker = true }
                if case .blob = member, chunks.size > Int64(Self.smallBlobLimit) {
                    blobSizes[Self.digest(member)] = chunks.size
                    guard blobSizes.count <= Self.blobCountLimit else {
                        throw ImageError(path, "holds more than \(Self.blobCountLimit) blobs")
                    }
                    return  // streamed later; libarchive skips its data now
                }
                try take(member, size: chunks.size, at: "\(path): \(entry.string)") { (limit) throws(ImageError) -> [UInt8] in
                    do { return try chunks.collect(limit: limit) } catch { throw ImageError.from(error) }
                }
            }
        }
        guard seenMarker else { throw ImageError(path, "has no oci-layout file (not an OCI image layout)") }
    }

    private static func digest(_ member: Member) -> String {
        if case .blob(let digest) = member { return digest.prefixed }
        return ""
    }

    /// Every entry of the archive, checked against the allow-list; regular
    /// files are handed over with a reader of their bytes.
    private func forEachArchiveMember(
        _ body: (Member, SafeTarPath, TarReader.Chunks) throws(ImageError) -> Void
    ) throws(ImageError) {
        do {
            try TarReader.forEachEntryStreaming(inFile: path) { (entry, chunks) throws(ArchiveError) in
                let place = "\(path): \(SafeTarPath.display(entry.rawPath))"
                let parsed: SafeTarPath
                switch SafeTarPath.parse(entry.rawPath, as: .archiveEntry(isDirectory: entry.isDirectory)) {
                case .success(let path): parsed = path
                case .failure(let refusal): throw ArchiveError(path: place, reason: refusal.reason)
                }
                guard let member = Self.member(parsed, isDirectory: entry.isDirectory) else {
                    throw ArchiveError(path: place, reason: "is not part of an OCI image layout")
                }
                if member == .directory { return }
                do throws(ImageError) { try body(member, parsed, chunks) } catch { throw ArchiveError(path: error.thing, reason: error.reason) }
            }
        } catch {
            throw ImageError.from(error)
        }
    }

    // MARK: Streaming large blobs

    /// Streams each blob in `digests` (large ones the catalogue only sized)
    /// to `body`, in the source's own order: by name for a directory, one
    /// further pass in archive order for an archive. Each stream stops at
    /// the size recorded in the catalogue; the caller checks the digest.
    public func streamBlobs(_ digests: Set<String>, _ body: (String, LayerStream) throws(ImageError) -> Void) throws(ImageError) {
        if digests.isEmpty { return }
        if !isArchive {
            for digest in digests.sorted() {
                guard let expected = blobSizes[digest], digest.hasPrefix("sha256:"), let hex = SHA256Digest(hex: String(digest.dropFirst(7)))?.hex else {
                    throw ImageError(blobName(digest), "is missing")
                }
                let place = "\(path)/blobs/sha256/\(hex)"
                let (file, size) = try system { () throws(SystemError) in
                    try DirectoryHandle.open(path).openDirectory(Array("blobs".utf8)).openDirectory(Array("sha256".utf8))
                        .openRegularFile(Array(hex.utf8))
                }
                defer { file.closeIgnoringErrors() }
                guard size == expected else { throw ImageError(place, "changed size while the image was read (\(expected) bytes, now \(size))") }
                try body(digest, capped(LayerStream(file), at: size))
            }
            return
        }
        var remaining = digests
        try forEachArchiveMember { (member, _, chunks) throws(ImageError) in
            let digest = Self.digest(member)
            guard remaining.remove(digest) != nil else { return }
            try body(digest, capped(LayerStream(read: chunks.read), at: chunks.size))
        }
        if let missing = remaining.sorted().first { throw ImageError(blobName(missing), "is missing (the archive changed while it was read?)") }
    }

    /// A stream that ends after `limit` bytes, counting what it reads.
    private func capped(_ stream: LayerStream, at limit: Int64) -> LayerStream {
        var left = limit
        return LayerStream { [self] (buffer) throws(ArchiveError) -> Int in
            guard left > 0 else { return 0 }
            let window = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(min(Int64(buffer.count), left))])
            let n = try stream.read(window)
            left -= Int64(n)
            bytesRead += Int64(n)
            return n
        }
    }
}
