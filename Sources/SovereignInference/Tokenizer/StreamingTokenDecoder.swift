/// Turns tokens into text as they are generated. A byte-level token can end
/// in the middle of a multi-byte character (an emoji is often two or three
/// tokens), so the decoder holds back an incomplete trailing sequence until
/// the token that completes it arrives, and never emits half a character.
public struct StreamingTokenDecoder: Sendable {
    public let vocabulary: TokenVocabulary
    /// Render control tokens (`<|im_end|>`) as their text.
    public let special: Bool
    private var pending: [UInt8] = []

    public init(vocabulary: TokenVocabulary, special: Bool = false) {
        self.vocabulary = vocabulary
        self.special = special
    }

    /// Bytes held back, waiting for the rest of a character.
    public var pendingByteCount: Int { pending.count }

    /// Adds one token; returns the text that is now complete (maybe empty).
    public mutating func append(_ token: TokenID) -> String {
        pending += vocabulary.piece(for: token, special: special)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Ends the stream: whatever is held back, with U+FFFD for an unfinished character.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a character
    /// that more bytes could still complete. Bytes that can never be valid
    /// are let through (they decode to U+FFFD) rather than held forever.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // A UTF-8 sequence is at most 4 bytes: look at the last 3 for a lead byte.
        var index = bytes.count - 1
        var continuation = 0
        while index >= 0 && continuation < 3 && bytes[index] & 0xC0 == 0x80 {
            continuation += 1
            index -= 1
        }
        guard index >= 0 else { return bytes.count }
        let lead = bytes[index]
        let width: Int
        switch lead {
        case 0xC2 ... 0xDF: width = 2
        case 0xE0 ... 0xEF: width = 3
        case 0xF0 ... 0xF4: width = 4
        default: return bytes.count  // ASCII, or a byte that starts nothing
        }
        return continuation + 1 < width ? index : bytes.count
    }
}
