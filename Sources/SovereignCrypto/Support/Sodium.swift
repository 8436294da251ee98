internal import CSodium

/// libsodium must be initialised once before use; sodium_init is
/// idempotent and thread-safe, and a Swift global is initialised once.
let sodiumIsReady: Bool = sodium_init() >= 0

@inline(__always)
func requireSodium() {
    precondition(sodiumIsReady, "libsodium failed to initialise")
}

/// Cryptographically secure random bytes from libsodium.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        requireSodium()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { randombytes_buf(base, raw.count) }
        }
        return out
    }
}

/// Zeroes secret material in place (not optimised away, unlike a loop).
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
}
