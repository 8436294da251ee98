internal import CSodium

/// Streaming BLAKE2b-512 (libsodium's generichash), used by minisign's
/// pre-hashed signatures.
public struct BLAKE2b512 {
    public static let byteCount = 64

    /// libsodium wants the state 64-byte aligned, which Swift's stack layout
    /// does not promise for an imported struct, so it lives on the heap.
    private final class State {
        let pointer: UnsafeMutableRawPointer
        init() {
            requireSodium()
            pointer = .allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
            crypto_generichash_init(OpaquePointer(pointer), nil, 0, BLAKE2b512.byteCount)
        }
        deinit { pointer.deallocate() }
    }

    private let state = State()

    public init() {}

    public func update(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count > 0, let base = buffer.baseAddress else { return }
        crypto_generichash_update(OpaquePointer(state.pointer),
                                  base.assumingMemoryBound(to: UInt8.self), UInt64(buffer.count))
    }

    /// The digest; call once.
    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        crypto_generichash_final(OpaquePointer(state.pointer), &out, Self.byteCount)
        return out
    }

    public static func hash<Bytes: ContiguousBytes>(_ bytes: Bytes) -> [UInt8] {
        let hasher = BLAKE2b512()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }
}
