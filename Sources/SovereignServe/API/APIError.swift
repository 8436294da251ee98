import SovereignHTTP

/// An error as OpenAI's API shapes it (`{"error": {"message", "type",
/// "param", "code"}}`), with its HTTP status. The official client maps the
/// status to its exception classes and retries 408/409/429/5xx, so policy
/// decisions are never 5xx (a refusal is a 200 with `content_filter`).
public struct APIError: Error, Sendable, Equatable {
    public let status: Int
    public let message: String
    public let type: String
    public let code: String?
    public let param: String?
    /// Extra response headers (`retry-after`, `x-should-retry`).
    public var headers: [(String, String)] = []

    public init(status: Int, message: String, type: String, code: String? = nil, param: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
    }

    public static func == (a: APIError, b: APIError) -> Bool {
        a.status == b.status && a.message == b.message && a.type == b.type && a.code == b.code && a.param == b.param
    }

    static func invalid(_ message: String, param: String? = nil, code: String = "invalid_request") -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", code: code, param: param)
    }

    static func unsupported(_ param: String, _ message: String) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", code: "unsupported_parameter", param: param)
    }

    static let unauthorized = APIError(status: 401, message: "missing or wrong bearer token (Authorization: Bearer <token>)",
                                       type: "authentication_error", code: "invalid_api_key")

    static func notFound(_ method: String, _ path: String) -> APIError {
        APIError(status: 404, message: "no route \(method) \(path)", type: "invalid_request_error", code: "not_found")
    }

    static func busy(_ message: String) -> APIError {
        var error = APIError(status: 503, message: message, type: "server_error", code: "server_busy")
        error.headers = [("retry-after", "1")]
        return error
    }

    /// A failure that retrying cannot fix (the client is told not to).
    static func internalFailure(_ message: String) -> APIError {
        var error = APIError(status: 500, message: message, type: "server_error", code: "internal_error")
        error.headers = [("x-should-retry", "false")]
        return error
    }

    var response: HTTPResponse {
        var response = HTTPResponse.error(status, message: message, type: type, code: code, param: param)
        response.headers += headers
        return response
    }
}
