import SovereignCrypto

/// One signature line of a note: `— <name> <base64(key ID ‖ signature)>`.
public struct NoteSignature: Sendable, Hashable {
    public let name: String
    public let keyID: UInt32
    /// The signature bytes after the 4-byte key ID (64 for Ed25519).
    public let signature: [UInt8]

    public init(name: String, keyID: UInt32, signature: [UInt8]) {
        self.name = name
        self.keyID = keyID
        self.signature = signature
    }

    /// base64(key ID ‖ signature): the second field of the line.
    public var base64: String { Base64.encode(NoteVerifierKey.bytes(keyID) + signature) }

    /// The whole line with its newline.
    public var line: String { "\u{2014} \(name) \(base64)\n" }

    /// Parses the base64 field of a signature line; nil when it is not
    /// canonical base64 or shorter than a key ID and one byte.
    public init?(name: String, base64 text: String) {
        guard let bytes = Base64.decodeStrict(text), bytes.count >= 5 else { return nil }
        self.init(name: name, keyID: UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3]),
                  signature: Array(bytes[4...]))
    }
}

/// What checking a note against trusted keys found.
public enum NoteVerdict: Sendable, Equatable {
    /// At least one trusted key signed it, and no trusted key's signature failed.
    case verified(by: [NoteVerifierKey])
    /// Why it is refused.
    case rejected(reason: String)

    public var isVerified: Bool {
        if case .verified = self { return true }
        return false
    }
}

/// A C2SP signed note (c2sp.org/signed-note): UTF-8 text lines, a blank
/// line, then one or more signature lines `— <name> <base64>` (U+2014).
/// The signed message is the text including its final newline.
///
/// Parsing follows the spec and Go's `note.Open`: valid UTF-8, no control
/// character but newline, split at the last "\n\n", every signature line
/// well formed, at most 100 signatures. Verification ignores signatures by
/// unknown (name, key ID) pairs, rejects the note if any trusted key's
/// signature fails, and rejects it unless a trusted key signed it.
public struct SignedNote: Sendable, Hashable {
    /// Largest note read (ours are about 200 bytes; witnesses add ~100 each).
    public static let maxBytes = 64 << 10
    public static let maxSignatures = 100
    static let dash: [UInt8] = [0xE2, 0x80, 0x94, 0x20]

    /// The signed text, ending in a newline.
    public let text: [UInt8]
    public let signatures: [NoteSignature]

    public init(text: [UInt8], signatures: [NoteSignature]) {
        precondition(text.last == 0x0A, "a note's text ends with a newline")
        self.text = text
        self.signatures = signatures
    }

    public init(parsing bytes: [UInt8], source: String) throws(LogError) {
        guard bytes.count <= Self.maxBytes else {
            throw LogError(source, "a signed note is at most \(Self.maxBytes) bytes, this is \(bytes.count)")
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw LogError(source, "a signed note must be UTF-8")
        }
        if let control = decoded.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }) {
            throw LogError(source, "a signed note may hold no control character but newline (found U+\(NoteVerifierKey.hex(control.value).suffix(4)))")
        }
        guard let split = Self.lastBlankLine(bytes) else {
            throw LogError(source, "not a signed note: no blank line before the signatures")
        }
        let text = Array(bytes[...split])
        var rest = bytes[(split + 2)...]
        guard !rest.isEmpty, rest.last == 0x0A else {
            throw LogError(source, "not a signed note: the signatures must end with a newline")
        }
        var signatures: [NoteSignature] = []
        var lineNumber = text.filter { $0 == 0x0A }.count + 1
        while let newline = rest.firstIndex(of: 0x0A) {
            lineNumber += 1
            let line = rest[rest.startIndex..<newline]
            rest = rest[(newline + 1)...]
            guard line.starts(with: Self.dash) else {
                throw LogError(source, "line \(lineNumber): a signature line starts with '\u{2014} '")
            }
            let fields = line.dropFirst(Self.dash.count).split(separator: 0x20, maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2 else {
                throw LogError(source, "line \(lineNumber): a signature line is '\u{2014} <name> <base64>'")
            }
            let name = String(decoding: fields[0], as: UTF8.self)
            guard NoteVerifierKey.isValidName(name) else {
                throw LogError(source, "line \(lineNumber): '\(name)' is not a valid key name")
            }
            guard let signature = NoteSignature(name: name, base64: String(decoding: fields[1], as: UTF8.self)) else {
                throw LogError(source, "line \(lineNumber): the signature is not canonical base64 of at least 5 bytes")
            }
            signatures.append(signature)
            guard signatures.count <= Self.maxSignatures else {
                throw LogError(source, "more than \(Self.maxSignatures) signatures")
            }
        }
        self.text = text
        self.signatures = signatures
    }

    /// The note as written: text, a blank line, the signature lines.
    public var bytes: [UInt8] {
        var out = text
        out.append(0x0A)
        for signature in signatures { out += Array(signature.line.utf8) }
        return out
    }

    /// Checks the signatures by the trusted `keys` (see the type's summary).
    public func verify(trusting keys: [NoteVerifierKey]) -> NoteVerdict {
        var verifiedBy: [NoteVerifierKey] = []
        for signature in signatures {
            guard let key = keys.first(where: { $0.name == signature.name && $0.keyID == signature.keyID }) else { continue }
            guard key.isValidSignature(signature.signature, for: text) else {
                return .rejected(reason: "the signature by \(key.name)+\(key.keyIDHex) does not verify")
            }
            if !verifiedBy.contains(key) { verifiedBy.append(key) }
        }
        guard !verifiedBy.isEmpty else {
            let names = keys.map { "\($0.name)+\($0.keyIDHex)" }.joined(separator: ", ")
            return .rejected(reason: "no signature by a trusted key (\(names))")
        }
        return .verified(by: verifiedBy)
    }

    /// Index of the first newline of the last "\n\n".
    private static func lastBlankLine(_ bytes: [UInt8]) -> Int? {
        var index = bytes.count - 2
        while index >= 0 {
            if bytes[index] == 0x0A && bytes[index + 1] == 0x0A { return index }
            index -= 1
        }
        return nil
    }
}
