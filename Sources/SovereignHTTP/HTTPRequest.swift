/// One parsed request, body complete. The strings are made from bytes the
/// parser has already validated, so they carry no control characters.
public struct HTTPRequest: Sendable {
    /// RFC 9110 token, e.g. `GET`, `POST` (case-sensitive, as sent).
    public let method: String
    /// The origin-form target before `?`: printable ASCII starting with `/`.
    /// Not percent-decoded, so routing compares exactly what was sent.
    public let path: String
    /// The target after the first `?`, if there was one (may be empty).
    public let query: String?
    public let headers: HTTPHeaders
    public let body: [UInt8]
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public let minorVersion: Int

    public init(method: String, path: String, query: String? = nil, headers: HTTPHeaders = HTTPHeaders(),
                body: [UInt8] = [], minorVersion: Int = 1) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.minorVersion = minorVersion
    }
}

/// A request's header fields in arrival order. Names are stored lowercased
/// (ASCII only) and looked up by byte comparison, never by Unicode-aware
/// String equality, so no two byte strings that differ can match.
public struct HTTPHeaders: Sendable {
    /// Lowercased name bytes and the value's bytes (OWS trimmed).
    let raw: [(name: [UInt8], value: [UInt8])]

    init(raw: [(name: [UInt8], value: [UInt8])]) {
        self.raw = raw
    }

    /// Builds headers from strings (names are lowercased), e.g. for tests of
    /// handlers that do not go through a socket.
    public init(_ fields: [(String, String)] = []) {
        raw = fields.map { (lowercasedASCII(Array($0.0.utf8)), Array($0.1.utf8)) }
    }

    /// The first value of the field, looked up by lowercased name bytes.
    public subscript(_ lowercasedName: String) -> String? {
        guard let value = valueBytes(lowercasedName) else { return nil }
        return String(decoding: value, as: UTF8.self)
    }

    /// The first value's bytes, for callers that check values as bytes.
    public func valueBytes(_ name: String) -> [UInt8]? {
        let key = lowercasedASCII(Array(name.utf8))
        return raw.first(where: { $0.name == key })?.value
    }

    /// Every value of the field, in order.
    public func values(_ name: String) -> [String] {
        let key = lowercasedASCII(Array(name.utf8))
        return raw.filter { $0.name == key }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    /// Names lowercased, in arrival order. Values with obs-text bytes that
    /// are not UTF-8 show U+FFFD; `valueBytes` has the exact bytes.
    public var fields: [(name: String, value: String)] {
        raw.map { (String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }
    }

    public var count: Int { raw.count }
}

@inline(__always)
func lowercasedASCII(_ bytes: [UInt8]) -> [UInt8] {
    bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
}
