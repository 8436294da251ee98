/// Cuts special tokens (`<|im_start|>`, …) out of text before BPE, as
/// llama.cpp's `tokenizer_st_partition` does: longest token text first, each
/// token splitting every text fragment left from the previous ones at each
/// of its occurrences. Control and unknown tokens are cut only when special
/// tokens are parsed; user-defined tokens always.
struct SpecialTokenSplitter: Sendable {
    enum Fragment: Equatable {
        case text(Range<Int>)   // byte range of the input
        case token(TokenID)
    }

    private struct Special: Sendable {
        var id: TokenID
        var bytes: [UInt8]
        var kind: TokenKind
    }

    private let specials: [Special]

    init(vocabulary: TokenVocabulary) {
        var specials: [Special] = []
        for (index, kind) in vocabulary.kinds.enumerated() where kind.isSplitOutOfText {
            specials.append(Special(id: TokenID(index), bytes: Array(vocabulary.texts[index].utf8), kind: kind))
        }
        // Longest first; ids break ties so the order is the same on every run.
        specials.sort { ($0.bytes.count, -$0.id) > ($1.bytes.count, -$1.id) }
        self.specials = specials
    }

    /// The token `split(_:parseSpecial: true)` makes of exactly `text`:
    /// the first in the same order, so duplicates resolve as they do there.
    func token(forText text: [UInt8]) -> TokenID? {
        specials.first { $0.bytes == text }?.id
    }

    func split(_ text: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !text.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0 ..< text.count)]
        for special in specials {
            if !parseSpecial && special.kind != .userDefined { continue }
            var next: [Fragment] = []
            next.reserveCapacity(fragments.count + 2)
            for fragment in fragments {
                guard case .text(let range) = fragment else {
                    next.append(fragment)
                    continue
                }
                var start = range.lowerBound
                while let match = Self.find(special.bytes, in: text, from: start, to: range.upperBound) {
                    if match > start { next.append(.text(start ..< match)) }
                    next.append(.token(special.id))
                    start = match + special.bytes.count
                }
                if start < range.upperBound { next.append(.text(start ..< range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    /// First index ≥ `from` where `needle` occurs wholly before `to`.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, to: Int) -> Int? {
        guard let first = needle.first, to - from >= needle.count else { return nil }
        var index = from
        let last = to - needle.count
        while index <= last {
            if haystack[index] == first {
                var matched = true
                for offset in 1 ..< needle.count where haystack[index + offset] != needle[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }
}
