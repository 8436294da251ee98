internal import CArchive
import Dispatch
import Glibc
import SovereignSystem
import SovereignCrypto

/// Feeds a layer file to libarchive through its read callback while a
/// second thread computes the SHA-256 of exactly the bytes read: the
/// layer's digest and the extraction (which hashes each file) run on two
/// cores from one read, as `FileHashing.streamHashingAside` does for a
/// push consumer. libarchive pulls, so the same two-buffer scheme lives
/// here, in the callback.
///
/// libarchive promises to be done with a buffer when it asks for the next
/// one. Two buffers alternate: buffer k is refilled at call k+2, after
/// libarchive has moved on (call k+1) and after its background hash has
/// finished (its group is waited on). The hash runs on a serial queue, so
/// it sees the chunks in file order.
///
/// Every chunk is also held to the layer tar profile (`TarProfileValidator`)
/// before libarchive sees it: a chunk that departs from it is never handed
/// over (the read fails, and `refusal` says why), and the entries it
/// validated wait in order for the extractor to compare with libarchive's.
final class SafeTarLayerSource {
    static let chunkSize = FileHashing.chunkSize
    /// Bytes kept from the end of the stream: the two end-of-archive blocks.
    static let tailSize = 1024

    private let stream: LayerStream
    private let hasher = LayerHasher()
    private let queue = DispatchQueue(label: "sovereign.safe-tar.layer-hash")
    private let buffers: [UnsafeMutableRawBufferPointer]
    private let pending = [DispatchGroup(), DispatchGroup()]
    private var which = 0
    private var atEnd = false
    /// Bytes read from the file (and handed to the hash) so far.
    private(set) var count: Int64 = 0
    /// The read error, kept for the caller: the C callback can only return -1.
    private(set) var error: ArchiveError?
    /// The layer's first departure from the tar profile, kept likewise.
    private(set) var refusal: ArchiveError?
    private var validator: TarProfileValidator
    /// The last `tailSize` bytes read (fewer if the stream is shorter).
    private(set) var tail: [UInt8] = []

    /// - Parameter label: names the layer in the profile's refusals.
    init(_ stream: LayerStream, label: String) {
        self.stream = stream
        validator = TarProfileValidator(label: label)
        buffers = (0..<2).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 64) }
    }

    deinit {
        // Never free a buffer the background hash may still read.
        for group in pending { group.wait() }
        for buffer in buffers { buffer.deallocate() }
    }

    /// The next chunk of the file (empty at the end), or nil after a read
    /// error or a departure from the tar profile.
    func next() -> UnsafeRawBufferPointer? {
        if error != nil || refusal != nil { return nil }
        if atEnd { return UnsafeRawBufferPointer(start: nil, count: 0) }
        which ^= 1
        pending[which].wait()
        let n: Int
        do { n = try stream.read(buffers[which]) } catch {
            self.error = error
            return nil
        }
        if n == 0 {
            do { try validator.finish() } catch {
                refusal = error
                return nil
            }
            atEnd = true
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        let chunk = UnsafeRawBufferPointer(rebasing: buffers[which][0..<n])
        do { try validator.consume(chunk) } catch {
            refusal = error
            return nil
        }
        if n >= Self.tailSize {
            tail = Array(chunk[(n - Self.tailSize)...])
        } else {
            tail.append(contentsOf: chunk)
            if tail.count > Self.tailSize { tail.removeFirst(tail.count - Self.tailSize) }
        }
        let group = pending[which]
        let reference = LayerChunk(bytes: chunk)
        let hasher = self.hasher
        group.enter()
        queue.async {
            hasher.update(reference.bytes)
            group.leave()
        }
        count += Int64(n)
        return chunk
    }

    /// Reads whatever libarchive did not ask for (the end-of-archive blocks'
    /// padding, or anything after them), so the digest covers the whole file
    /// and the profile sees the layer's end.
    func drain() throws(ArchiveError) {
        while true {
            guard let chunk = next() else { throw refusal ?? error ?? ArchiveError(path: "layer", reason: "read failed") }
            if chunk.isEmpty { return }
        }
    }

    /// The next entry the profile validated, in archive order, for the
    /// extractor to compare with what libarchive reports; nil if none waits.
    func claimValidatedEntry() -> TarProfileEntry? {
        validator.claimEntry()
    }

    /// The SHA-256 and size of everything read; call after `drain()`.
    func digest() -> (digest: SHA256Digest, size: Int64) {
        queue.sync {}
        return (hasher.finalize(), count)
    }
}

/// Where a layer's bytes come from: a blob file, or an entry of an image
/// archive being read. `read` fills the buffer's start, returning 0 at the end.
public struct LayerStream {
    public let read: (UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int

    public init(read: @escaping (UnsafeMutableRawBufferPointer) throws(ArchiveError) -> Int) {
        self.read = read
    }

    /// The bytes of an open file, read front to back.
    public init(_ file: FileDescriptor) {
        file.adviseSequential()
        read = { (buffer) throws(ArchiveError) -> Int in
            do throws(SystemError) { return try file.read(into: buffer) } catch { throw ArchiveError(error) }
        }
    }
}

/// libarchive's read callback: finds the source through the client data.
func safeTarRead(
    _ archive: OpaquePointer?, _ clientData: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UnsafeRawPointer?>?
) -> la_ssize_t {
    guard let clientData, let buffer else { return -1 }
    let source = Unmanaged<SafeTarLayerSource>.fromOpaque(clientData).takeUnretainedValue()
    // On a read error the source keeps it; libarchive only learns "failed".
    guard let chunk = source.next() else { return -1 }
    buffer.pointee = chunk.baseAddress
    return la_ssize_t(chunk.count)
}

/// A chunk handed to the background hash; its buffer stays untouched until
/// that hash has finished (the source waits on the buffer's group).
private struct LayerChunk: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
}

/// A SHA-256 context touched only from one serial queue at a time.
private final class LayerHasher: @unchecked Sendable {
    private var hasher = SHA256()
    func update(_ chunk: UnsafeRawBufferPointer) { hasher.update(chunk) }
    func finalize() -> SHA256Digest { hasher.finalize() }
}
