import Dispatch
import SovereignSystem
import Glibc

/// Streams files through hashers with one read of each byte.
public enum FileHashing {
    /// 1 MiB: large enough that syscall cost vanishes, small enough to stay
    /// in L2 while the hash reads it back.
    public static let chunkSize = 1 << 20

    /// Reads `path` front to back, handing each chunk to `consume`.
    /// `progress` receives the running byte count after each chunk.
    public static func stream(
        _ path: String,
        progress: ((Int64) -> Void)? = nil,
        _ consume: (UnsafeRawBufferPointer) -> Void
    ) throws(CryptoError) -> Int64 {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.openForReading(path) } catch { throw .system(error) }
        defer { fd.closeIgnoringErrors() }
        fd.adviseSequential()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n: Int
            do { n = try fd.read(into: buffer) } catch { throw .system(error) }
            if n == 0 { break }
            consume(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
            progress?(total)
        }
        return total
    }

    /// SHA-256 and size of a file.
    public static func sha256(
        ofFile path: String, progress: ((Int64) -> Void)? = nil
    ) throws(CryptoError) -> (digest: SHA256Digest, size: Int64) {
        var hasher = SHA256()
        let size = try stream(path, progress: progress) { hasher.update($0) }
        return (hasher.finalize(), size)
    }

    /// BLAKE2b-512 of a file (minisign pre-hashing).
    public static func blake2b512(ofFile path: String) throws(CryptoError) -> [UInt8] {
        let hasher = BLAKE2b512()
        _ = try stream(path) { hasher.update($0) }
        return hasher.finalize()
    }
}

extension FileHashing {
    /// Reads `path` once and hands each chunk to `consume`, while a second
    /// thread computes the file's SHA-256 from the same bytes: two passes of
    /// work (e.g. the file's digest and the tar stream's digest) on two cores.
    ///
    /// Two buffers alternate: while one is hashed in the background and
    /// consumed here, the other is filled; a buffer is refilled only after
    /// its background hash has finished, and the hash sees chunks in order
    /// (a serial queue), so the digest equals a sequential one.
    public static func streamHashingAside<E: Error>(
        _ path: String,
        progress: ((Int64) -> Void)? = nil,
        _ consume: (UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(StreamError<E>) -> (digest: SHA256Digest, size: Int64) {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.openForReading(path) } catch { throw .read(.system(error)) }
        defer { fd.closeIgnoringErrors() }
        fd.adviseSequential()
        let hasher = SharedHasher()
        let queue = DispatchQueue(label: "sovereign.hash-aside")
        let buffers = (0..<2).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64) }
        let pending = [DispatchGroup(), DispatchGroup()]
        defer {
            // Never free a buffer the background queue may still read.
            for group in pending { group.wait() }
            for buffer in buffers { buffer.deallocate() }
        }
        var total: Int64 = 0
        var which = 0
        while true {
            pending[which].wait()
            let n: Int
            do { n = try fd.read(into: buffers[which]) } catch { throw .read(.system(error)) }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffers[which][0..<n])
            pending[which].enter()
            let group = pending[which]
            let reference = ChunkReference(bytes: chunk)
            queue.async {
                hasher.update(reference.bytes)
                group.leave()
            }
            do { try consume(chunk) } catch { throw .consume(error) }
            total += Int64(n)
            progress?(total)
            which ^= 1
        }
        queue.sync {}
        return (hasher.finalize(), total)
    }

    /// Why a stream failed: reading the file, or the consumer.
    public enum StreamError<E: Error>: Error {
        case read(CryptoError)
        case consume(E)
    }
}

/// A chunk handed to the background hash; the buffer stays untouched until
/// that hash has finished (the caller waits on the buffer's group).
private struct ChunkReference: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
}

/// A SHA-256 context touched only from one serial queue at a time.
private final class SharedHasher: @unchecked Sendable {
    private var hasher = SHA256()
    func update(_ chunk: UnsafeRawBufferPointer) { hasher.update(chunk) }
    func finalize() -> SHA256Digest { hasher.finalize() }
}
