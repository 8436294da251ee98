/// The BPE merges as integer pairs. Every byte string that can occur as a
/// BPE symbol (each single byte, each side of a merge and its result) gets a
/// symbol id: vocabulary entries keep their token id, other strings get ids
/// from `vocabularySize` up. A merge is then `(left id, right id) → (rank,
/// result id)`, so the merge loop compares integers, never strings.
struct BPEMergeTable: Sendable {
    struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// Symbol id of each single byte.
    let byteSymbols: [Int32]
    /// Merges keyed by `left << 32 | right`.
    let merges: [UInt64: Merge]
    /// Symbol ids below this are vocabulary tokens.
    let vocabularySize: Int32
    /// The bytes of each symbol id at or above `vocabularySize`.
    let extraSymbolBytes: [[UInt8]]

    /// - Parameters:
    ///   - tokenBytes: the raw bytes of each token that is byte-level text
    ///     (nil for tokens that are not), indexed by token id.
    ///   - merges: `tokenizer.ggml.merges`, highest priority first.
    init(tokenBytes: [[UInt8]?], merges mergeLines: [String]) {
        var symbolIds: [[UInt8]: Int32] = [:]
        symbolIds.reserveCapacity(tokenBytes.count + mergeLines.count)
        // A later token with the same text wins, as in llama.cpp's token_to_id.
        for (id, bytes) in tokenBytes.enumerated() {
            if let bytes { symbolIds[bytes] = Int32(id) }
        }
        let vocabularySize = Int32(tokenBytes.count)
        var extra: [[UInt8]] = []
        func symbol(_ bytes: [UInt8]) -> Int32 {
            if let id = symbolIds[bytes] { return id }
            let id = vocabularySize + Int32(extra.count)
            extra.append(bytes)
            symbolIds[bytes] = id
            return id
        }

        let byteSymbols = (0 ... 255).map { symbol([UInt8($0)]) }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(mergeLines.count)
        for (rank, line) in mergeLines.enumerated() {
            // "left right": split at the first space after the first byte.
            let utf8 = Array(line.utf8)
            guard utf8.count > 1, let split = utf8[1...].firstIndex(of: 0x20) else { continue }
            // A side outside the byte-level alphabet can never be a symbol.
            guard let left = ByteLevelEncoding.bytes(of: String(decoding: utf8[..<split], as: UTF8.self)),
                  let right = ByteLevelEncoding.bytes(of: String(decoding: utf8[(split + 1)...], as: UTF8.self)),
                  !left.isEmpty, !right.isEmpty
            else { continue }
            let key = UInt64(UInt32(symbol(left))) << 32 | UInt64(UInt32(symbol(right)))
            // The first (highest-priority) line for a pair wins.
            if merges[key] == nil {
                merges[key] = Merge(rank: Int32(rank), result: symbol(left + right))
            }
        }

        self.byteSymbols = byteSymbols
        self.merges = merges
        self.vocabularySize = vocabularySize
        self.extraSymbolBytes = extra
    }

    @inline(__always)  // the innermost lookup of the merge loop
    func merge(_ left: Int32, _ right: Int32) -> Merge? {
        merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))]
    }
}
