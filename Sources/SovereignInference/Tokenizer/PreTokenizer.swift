/// Splits text into the words BPE runs on, as llama.cpp does for the
/// pre-tokenizer named in `tokenizer.ggml.pre`.
///
/// `smollm` (as llama.cpp's LLAMA_VOCAB_PRE_TYPE_SMOLLM) applies two
/// regexes in turn, each to the pieces the previous one left:
///   1. `\p{N}` — every number codepoint becomes a piece of its own;
///   2. GPT-2's `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
/// `gpt2` applies the second alone. Both are implemented by hand over
/// Unicode scalars (no regex engine), with the classes of `CodepointClass`.
/// A piece never spans two pieces of the earlier pass: in particular
/// `\s+(?!\S)` looks ahead only within its piece, as llama.cpp's does.
public enum PreTokenizer: String, Sendable, CaseIterable {
    case smollm
    case gpt2

    /// Word boundaries of `scalars`, as the ends (exclusive) of consecutive
    /// words in scalar indices; the first word starts at 0.
    func wordEnds(_ scalars: [UInt32]) -> [Int] {
        let classes = scalars.map(CodepointClass.of)
        var ends: [Int] = []
        ends.reserveCapacity(scalars.count / 3 + 1)
        switch self {
        case .gpt2:
            Self.splitGPT2(scalars, classes, 0 ..< scalars.count, into: &ends)
        case .smollm:
            // Pass 1 isolates each number; pass 2 splits the pieces between.
            var start = 0
            for index in scalars.indices where classes[index] == .number {
                if start < index { Self.splitGPT2(scalars, classes, start ..< index, into: &ends) }
                ends.append(index + 1)
                start = index + 1
            }
            if start < scalars.count { Self.splitGPT2(scalars, classes, start ..< scalars.count, into: &ends) }
        }
        return ends
    }

    private static let apostrophe = UInt32(UInt8(ascii: "'"))
    private static let space = UInt32(UInt8(ascii: " "))

    /// GPT-2's regex over `piece`, appending word ends.
    private static func splitGPT2(
        _ scalars: [UInt32], _ classes: [CodepointClass], _ piece: Range<Int>, into ends: inout [Int]
    ) {
        let end = piece.upperBound
        // The class at `index`, or nil past the piece (nothing matches there).
        func classAt(_ index: Int) -> CodepointClass? { index < end ? classes[index] : nil }
        func scalarAt(_ index: Int) -> UInt32? { index < end ? scalars[index] : nil }

        var position = piece.lowerBound
        while position < end {
            let scalar = scalars[position]

            // 's 't 'm 'd 're 've 'll (lower case only, as the regex says)
            if scalar == apostrophe, let next = scalarAt(position + 1) {
                switch next {
                case 0x73, 0x74, 0x6D, 0x64:  // s t m d
                    position += 2
                    ends.append(position)
                    continue
                default:
                    if let third = scalarAt(position + 2),
                       (next == 0x72 && third == 0x65) || (next == 0x76 && third == 0x65)
                        || (next == 0x6C && third == 0x6C) {  // re ve ll
                        position += 3
                        ends.append(position)
                        continue
                    }
                }
            }

            // An optional leading space joins a run of letters, numbers or "other".
            let leadingSpace = scalar == space
            let runClass = leadingSpace ? classAt(position + 1) : classes[position]
            if let runClass, runClass != .whitespace {
                position += leadingSpace ? 1 : 0
                while classAt(position) == runClass { position += 1 }
                ends.append(position)
                continue
            }

            var whitespace = 0
            while classAt(position + whitespace) == .whitespace { whitespace += 1 }
            if whitespace > 1 && position + whitespace < end {
                // \s+(?!\S): leave the last whitespace to lead the next word.
                position += whitespace - 1
                ends.append(position)
                continue
            }
            // \s+ (or, unreachable for assigned classes, a lone scalar).
            position += max(whitespace, 1)
            ends.append(position)
        }
    }
}
