public import SovereignFormats

/// A complete response. The server adds the framing headers
/// (`content-length`, `transfer-encoding`, `connection`) itself and drops
/// any the handler set, so a handler cannot desynchronise the connection.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// `value` as compact JSON (RFC 8785 canonical form), content-type
    /// application/json.
    public static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("content-type", "application/json")],
                     body: CanonicalJSON.serialize(value))
    }

    /// The OpenAI error shape: `{"error":{"message","type","param","code"}}`,
    /// with `param` and `code` null when absent, as OpenAI's clients expect.
    public static func error(_ status: Int, message: String, type: String, code: String?, param: String? = nil) -> HTTPResponse {
        json(status, .object(["error": .object([
            "message": .string(message),
            "type": .string(type),
            "param": param.map { .string($0) } ?? .null,
            "code": code.map { .string($0) } ?? .null,
        ])]))
    }

    /// The answer to a protocol-level refusal.
    static func protocolError(_ error: HTTPProtocolError) -> HTTPResponse {
        Self.error(error.status, message: error.message,
                   type: error.status >= 500 ? "server_error" : "invalid_request_error", code: error.code)
    }

    /// The standard reason phrase (clients ignore it, people read it).
    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }

    /// The framing headers the server owns.
    static let reservedNames: [[UInt8]] = ["content-length", "transfer-encoding", "connection"].map { Array($0.utf8) }

    /// Serialises a status line and headers. Handler-supplied headers whose
    /// name is not a token or whose value holds a control byte are dropped:
    /// a CR or LF there would let request data inject headers.
    static func head(status: Int, headers: [(String, String)], framing: [(String, String)]) -> [UInt8] {
        let code = (200 ... 999).contains(status) ? status : 500
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out += "HTTP/1.1 \(code) \(reasonPhrase(code))\r\n".utf8
        for (name, value) in headers {
            let nameBytes = Array(name.utf8), valueBytes = Array(value.utf8)
            guard !nameBytes.isEmpty, nameBytes.allSatisfy(HTTPRequestParser.isToken),
                  valueBytes.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }),
                  !reservedNames.contains(lowercasedASCII(nameBytes)) else { continue }
            out += nameBytes; out += ": ".utf8; out += valueBytes; out += "\r\n".utf8
        }
        for (name, value) in framing {
            out += name.utf8; out += ": ".utf8; out += value.utf8; out += "\r\n".utf8
        }
        out += "\r\n".utf8
        return out
    }
}
