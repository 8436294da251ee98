import Foundation

/// Base64 as DSSE and minisign use it.
public enum Base64 {
    /// Standard alphabet with padding.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Data(bytes).base64EncodedString()
    }

    /// Decodes standard or URL-safe base64, padded or not (DSSE verifiers
    /// must accept both). Nil on any other character, a bad length, or a
    /// non-canonical encoding (see `decodeStrict`).
    public static func decodeLenient(_ text: String) -> [UInt8]? {
        var normalised = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        switch normalised.utf8.count % 4 {
        case 0: break
        case 2: normalised += "=="
        case 3: normalised += "="
        default: return nil
        }
        return decodeStrict(normalised)
    }

    /// Decodes padded standard base64, refusing non-canonical encodings
    /// (non-zero unused bits in the last character): otherwise two
    /// different files would carry the same signed bytes, and a flipped
    /// bit could go unnoticed.
    public static func decodeStrict(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text) else { return nil }
        let bytes = [UInt8](data)
        guard encode(bytes) == text else { return nil }
        return bytes
    }
}
