public import SovereignSystem

/// Every failure SovereignInference reports about a model file: the GGUF
/// container, the metadata it carries (hyper-parameters, vocabulary, chat
/// template), the tensors it describes, and the inputs a run of it is given
/// (token ids, context length). Each case names the file (`source`, the
/// `thing` of `SovereignError`) and says what is wrong, expected against
/// actual where there is one, so the CLI prints `sovereign: <file>: <reason>`
/// as it does for every module's error, with no case of its own for this one.
///
/// A hostile or damaged file must end here, never in a trap: the parser
/// checks every count, length and offset against the bytes that exist before
/// it reads or allocates.
public enum GGUFError: SovereignError, Sendable, Equatable {
    /// The file could not be opened, sized or mapped: the failed call, its
    /// path and errno, as every module reports a system call.
    case io(SystemError)
    /// The path names something other than a regular file (a FIFO, a
    /// device, …): mapping one is never what a model path means.
    case notRegularFile(source: String)
    /// The first four bytes are not `GGUF`.
    case badMagic(source: String, found: [UInt8])
    /// A GGUF version this reader does not speak (only 2 and 3 are read).
    case unsupportedVersion(source: String, version: UInt32)
    /// The file ends before a field that the header says is there.
    case truncated(source: String, what: String, offset: UInt64, needed: UInt64, available: UInt64)
    /// A count or length is larger than any sane file holds; refused before allocating.
    case limitExceeded(source: String, what: String, value: UInt64, limit: UInt64)
    /// A metadata entry is malformed (bad type tag, invalid UTF-8, duplicate key, …).
    case invalidMetadata(source: String, key: String, reason: String)
    /// A metadata key the caller needs is absent.
    case missingKey(source: String, key: String)
    /// A metadata key holds a value of another type than the caller needs.
    case typeMismatch(source: String, key: String, expected: String, actual: String)
    /// A tensor description is malformed (dimensions, offset, size, duplicate name, …).
    case invalidTensor(source: String, tensor: String, reason: String)
    /// A tensor uses a ggml type number this reader does not know (or one ggml removed).
    case unknownTensorType(source: String, tensor: String, rawType: UInt32)
    /// Two tensors' byte ranges overlap.
    case overlappingTensors(source: String, first: String, second: String)
    /// The model is not of a family this module can run, or its shapes do not fit it.
    case unsupportedModel(source: String, reason: String)
    /// A tensor the architecture needs is absent.
    case missingTensor(source: String, tensor: String)
    /// A tensor has another shape or type than the hyper-parameters imply.
    case tensorShapeMismatch(source: String, tensor: String, expected: String, actual: String)
    /// The vocabulary metadata cannot make a tokenizer.
    case invalidVocabulary(source: String, reason: String)
    /// `tokenizer.chat_template` is of a family we do not render.
    case unsupportedChatTemplate(source: String, reason: String)
    /// A token id outside the model's vocabulary was given to it.
    case invalidToken(source: String, token: Int32, vocabularySize: Int)
    /// The tokens would not fit in the context (its length is set when it is made).
    case contextFull(source: String, needed: Int, contextLength: Int)
    /// Generation was asked to continue a prompt of no tokens.
    case emptyPrompt(source: String)

    /// The file (or other source) the error is about.
    public var source: String {
        switch self {
        case .io(let error):
            return error.path
        case .notRegularFile(let source), .badMagic(let source, _), .unsupportedVersion(let source, _),
             .truncated(let source, _, _, _, _), .limitExceeded(let source, _, _, _),
             .invalidMetadata(let source, _, _), .missingKey(let source, _),
             .typeMismatch(let source, _, _, _), .invalidTensor(let source, _, _),
             .unknownTensorType(let source, _, _), .overlappingTensors(let source, _, _),
             .unsupportedModel(let source, _), .missingTensor(let source, _),
             .tensorShapeMismatch(let source, _, _, _), .invalidVocabulary(let source, _),
             .unsupportedChatTemplate(let source, _), .invalidToken(let source, _, _),
             .contextFull(let source, _, _), .emptyPrompt(let source):
            return source
        }
    }

    /// What is wrong, without the source.
    public var reason: String {
        switch self {
        case .io(let error):
            return error.reason
        case .notRegularFile:
            return "not a regular file"
        case .badMagic(_, let found):
            let hex = found.map { byte in
                let digits = String(byte, radix: 16)
                return digits.count == 1 ? "0" + digits : digits
            }.joined()
            return "not a GGUF file (magic is 0x\(hex), expected \"GGUF\")"
        case .unsupportedVersion(_, let version):
            return "GGUF version \(version) is not supported (expected 2 or 3)"
        case .truncated(_, let what, let offset, let needed, let available):
            return "truncated: \(what) at offset \(offset) needs \(needed) bytes, \(available) remain"
        case .limitExceeded(_, let what, let value, let limit):
            return "\(what) is \(value), more than the limit of \(limit)"
        case .invalidMetadata(_, let key, let reason):
            return "metadata '\(key)': \(reason)"
        case .missingKey(_, let key):
            return "metadata '\(key)' is missing"
        case .typeMismatch(_, let key, let expected, let actual):
            return "metadata '\(key)' is \(actual), expected \(expected)"
        case .invalidTensor(_, let tensor, let reason):
            return "tensor '\(tensor)': \(reason)"
        case .unknownTensorType(_, let tensor, let rawType):
            return "tensor '\(tensor)': unknown ggml type \(rawType)"
        case .overlappingTensors(_, let first, let second):
            return "tensors '\(first)' and '\(second)' overlap"
        case .unsupportedModel(_, let reason):
            return reason
        case .missingTensor(_, let tensor):
            return "tensor '\(tensor)' is missing"
        case .tensorShapeMismatch(_, let tensor, let expected, let actual):
            return "tensor '\(tensor)' is \(actual), expected \(expected)"
        case .invalidVocabulary(_, let reason):
            return "vocabulary: \(reason)"
        case .unsupportedChatTemplate(_, let reason):
            return "unsupported chat template family: \(reason)"
        case .invalidToken(_, let token, let vocabularySize):
            return "token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
        case .contextFull(_, let needed, let contextLength):
            return "\(needed) tokens do not fit in the context of \(contextLength) tokens"
        case .emptyPrompt:
            return "the prompt has no tokens"
        }
    }

    public var thing: String { source }
}
