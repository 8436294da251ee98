public import SovereignSystem

/// Why a request was refused at the protocol level: the status to answer
/// with, a stable machine-readable code for the OpenAI error body, and a
/// human-readable message. Every one of these closes the connection, because
/// after a framing error the next request's first byte cannot be found.
public struct HTTPProtocolError: Error, Sendable, Equatable, SovereignError {
    public let status: Int
    public let code: String
    public let message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var thing: String { "HTTP request" }
    public var reason: String { "\(status) \(message)" }

    static func badRequest(_ message: String) -> HTTPProtocolError {
        HTTPProtocolError(status: 400, code: "bad_request", message: message)
    }
    static let requestLineTooLong = HTTPProtocolError(status: 414, code: "uri_too_long", message: "request line too long")
    static let headersTooLarge = HTTPProtocolError(status: 431, code: "headers_too_large", message: "request header section too large")
    static let tooManyHeaders = HTTPProtocolError(status: 431, code: "headers_too_large", message: "too many request header fields")
    static let bodyTooLarge = HTTPProtocolError(status: 413, code: "request_too_large", message: "request body too large")
    static let versionNotSupported = HTTPProtocolError(status: 505, code: "http_version_not_supported", message: "only HTTP/1.0 and HTTP/1.1 are supported")
    static let transferEncoding = HTTPProtocolError(status: 501, code: "not_implemented", message: "Transfer-Encoding on requests is not supported; send Content-Length")
    static let expectation = HTTPProtocolError(status: 417, code: "expectation_failed", message: "only Expect: 100-continue is supported")
    static let timeout = HTTPProtocolError(status: 408, code: "request_timeout", message: "request not received in time")
    static let truncated = HTTPProtocolError(status: 400, code: "bad_request", message: "connection closed before the request was complete")
}

/// An address that `HTTPAddress.parse` could not read.
public struct HTTPAddressError: Error, Sendable, Equatable, SovereignError {
    public let text: String
    public let reason: String
    public var thing: String { text }
}
