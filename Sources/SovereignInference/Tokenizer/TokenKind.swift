/// What a vocabulary entry is, from `tokenizer.ggml.token_type`
/// (llama.cpp's `llama_token_type`: 1 normal, 2 unknown, 3 control,
/// 4 user-defined, 5 unused, 6 byte; anything else is undefined).
public enum TokenKind: Sendable, Equatable {
    case normal
    case unknown
    case control
    case userDefined
    case unused
    case byte
    case undefined

    init(ggmlTokenType value: Int64) {
        switch value {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = .undefined
        }
    }

    /// Matched in text before BPE (control and unknown only when special
    /// tokens are parsed; user-defined always), as llama.cpp does.
    var isSplitOutOfText: Bool { self == .control || self == .userDefined || self == .unknown }

    /// Rendered only when decoding with `special: true`.
    var rendersOnlyWhenSpecial: Bool { self == .control || self == .unknown }
}
