/// Normalises text as it arrives, in two forms, each mapped back to the
/// original's UTF-8 byte offsets:
///
/// - `folded`: every scalar folded (`ScalarFolding`: NFKD, case folding,
///   accents and default-ignorables removed). Detectors and the grounded
///   check read this form, because they need the separators a number was
///   written with.
/// - `matching`: `folded` with every run of white space and dashes
///   collapsed (to `" "` when the run holds white space, else to `"-"`),
///   leading and trailing runs dropped, and digit groups joined: a single
///   space or dash between two digits disappears, so `4111 1111-1111 1111`
///   reads `4111111111111111`. Phrases and patterns match this form.
///
/// Folding works scalar by scalar (a combining accent folds to nothing, so
/// a base letter's form never depends on what follows it), which lets
/// `folded` grow with every scalar received. Input may arrive in any
/// pieces, even splitting a UTF-8 sequence; `matching` holds back a run of
/// separators until the next scalar shows whether it joins two digit
/// groups (`pendingSourceOffset` says from where the forms may still
/// change). Invalid UTF-8 becomes U+FFFD.
public struct TextNormalizer: Sendable {
    public private(set) var folded = NormalizedText()
    public private(set) var matching = NormalizedText()
    /// UTF-8 bytes received so far.
    public private(set) var sourceLength = 0
    /// Unicode scalars received so far (U+FFFD for each invalid sequence).
    public private(set) var sourceScalarCount = 0

    /// Bytes of an incomplete UTF-8 sequence at the end of the last chunk.
    private var heldBytes: [UInt8] = []
    /// A run of white space and dashes not yet written to `matching`.
    private var run: (source: Range<Int>, length: Int, hasSpace: Bool)?
    private var finished = false
    /// Indices of received scalars whose bytes to remember (for a length
    /// limit), and the byte ranges found.
    var watchedScalarIndices: Set<Int> = []
    private(set) var watchedScalarRanges: [Int: Range<Int>] = [:]

    public init() {}

    /// Both forms of a complete text.
    public static func normalize(_ text: String) -> TextNormalizer {
        var normalizer = TextNormalizer()
        normalizer.append(text)
        normalizer.finish()
        return normalizer
    }

    /// The first byte of the original text whose normalised form may still
    /// change (`sourceLength` when everything so far is final).
    public var pendingSourceOffset: Int {
        if let run { return run.source.lowerBound }
        return sourceLength - heldBytes.count
    }

    public mutating func append(_ text: String) {
        append(utf8: Array(text.utf8))
    }

    /// Appends raw bytes (a token's piece); a sequence split across calls
    /// is joined.
    public mutating func append(utf8 bytes: [UInt8]) {
        precondition(!finished, "TextNormalizer: append after finish")
        var input = heldBytes
        input.append(contentsOf: bytes)
        let base = sourceLength - heldBytes.count
        sourceLength += bytes.count
        let complete = input.count - Self.incompleteTailLength(input)
        heldBytes = Array(input[complete...])
        decode(input[..<complete], base: base)
    }

    /// Ends the text: held bytes become U+FFFD, a trailing run is dropped.
    public mutating func finish() {
        guard !finished else { return }
        if !heldBytes.isEmpty {
            let base = sourceLength - heldBytes.count
            let held = heldBytes
            heldBytes = []
            decode(held[...], base: base)
        }
        run = nil
        finished = true
    }

    /// How many bytes at the end of `bytes` start a UTF-8 sequence that is
    /// valid so far but not complete (0 to 3).
    static func incompleteTailLength(_ bytes: [UInt8]) -> Int {
        var back = 0
        while back < min(3, bytes.count) {
            back += 1
            let byte = bytes[bytes.count - back]
            if byte & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
            let needed: Int
            switch byte {
            case 0xC2...0xDF: needed = 2
            case 0xE0...0xEF: needed = 3
            case 0xF0...0xF4: needed = 4
            default: return 0
            }
            return needed > back ? back : 0
        }
        return 0
    }

    private mutating func decode(_ bytes: ArraySlice<UInt8>, base: Int) {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = base
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                receive(Unicode.UTF8.decode(encoded), source: offset..<(offset + encoded.count))
                offset += encoded.count
            case .error(let length):
                receive("\u{FFFD}", source: offset..<(offset + length))
                offset += length
            case .emptyInput:
                return
            }
        }
    }

    private mutating func receive(_ scalar: Unicode.Scalar, source: Range<Int>) {
        if watchedScalarIndices.contains(sourceScalarCount) { watchedScalarRanges[sourceScalarCount] = source }
        sourceScalarCount += 1
        if scalar.isASCII {
            let folded = ScalarFolding.asciiFold(scalar)
            self.folded.append(folded, from: source)
            collapse(folded, from: source)
            return
        }
        var output: [Unicode.Scalar] = []
        ScalarFolding.fold(scalar, into: &output)
        for folded in output {
            self.folded.append(folded, from: source)
            collapse(folded, from: source)
        }
    }

    /// The second stage: runs of white space and dashes, digit groups.
    private mutating func collapse(_ scalar: Unicode.Scalar, from source: Range<Int>) {
        let isSpace = scalar.isSpaceLike
        if isSpace || scalar.isDashLike {
            if let current = run {
                run = (current.source.lowerBound..<source.upperBound, current.length + 1, current.hasSpace || isSpace)
            } else {
                run = (source, 1, isSpace)
            }
            return
        }
        if let pending = run {
            run = nil
            if let last = matching.scalars.last {
                let joinsDigits = pending.length == 1 && last.isDecimalDigit && scalar.isDecimalDigit
                if !joinsDigits {
                    matching.append(pending.hasSpace ? " " : "-", from: pending.source)
                }
            }
        }
        matching.append(scalar, from: source)
    }
}
