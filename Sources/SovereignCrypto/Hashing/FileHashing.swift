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
