import Testing
import SovereignFormats
@testable import SovereignHTTP

/// Parses `text` as one complete request head (plus whatever follows).
private func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) throws(HTTPProtocolError) -> (head: HTTPRequestHead, length: Int)? {
    try HTTPRequestParser.parse(Array(text.utf8), limits: limits)
}

private func status(of text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
    do {
        _ = try parse(text, limits: limits)
        return nil
    } catch {
        return error.status
    }
}

@Suite struct HTTPRequestParserTests {
    @Test func parsesRequestLineHeadersAndQuery() throws {
        let text = "GET /v1/models?limit=2&x=%20 HTTP/1.1\r\nHost: localhost\r\nX-Custom:   spaced value \t\r\nAccept: */*\r\n\r\nNEXT"
        let parsed = try #require(try parse(text))
        #expect(parsed.length == text.utf8.count - 4)
        let head = parsed.head
        #expect(head.method == Array("GET".utf8))
        #expect(head.path == Array("/v1/models".utf8))
        #expect(head.query == Array("limit=2&x=%20".utf8))
        #expect(head.minorVersion == 1)
        #expect(head.keepAlive)
        #expect(head.contentLength == 0)
        #expect(head.headers["x-custom"] == "spaced value")
        #expect(head.headers["X-CUSTOM"] == "spaced value")
        #expect(head.headers.fields.map(\.name) == ["host", "x-custom", "accept"])
        #expect(head.headers["missing"] == nil)
    }

    @Test func parsesContentLengthAndConnectionSemantics() throws {
        let post = try #require(try parse("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 0042\r\nConnection: Close\r\n\r\n"))
        #expect(post.head.contentLength == 42)
        #expect(!post.head.keepAlive)
        #expect(post.head.query == nil)

        let old = try #require(try parse("GET / HTTP/1.0\r\n\r\n"))
        #expect(old.head.minorVersion == 0)
        #expect(!old.head.keepAlive)
        let oldKeep = try #require(try parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
        #expect(oldKeep.head.keepAlive)

        let expect = try #require(try parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"))
        #expect(expect.head.expectsContinue)
        // An empty query is kept as present-but-empty.
        let emptyQuery = try #require(try parse("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(emptyQuery.head.query == [])
    }

    @Test func skipsEmptyLinesBeforeTheRequestLine() throws {
        let parsed = try #require(try parse("\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(parsed.head.path == Array("/x".utf8))
    }

    @Test func incompleteHeadNeedsMoreBytes() throws {
        #expect(try parse("GET / HTTP/1.1\r\nHost: a\r\n") == nil)
        #expect(try parse("GET / HTTP/1.1\r") == nil)
    }

    @Test func byteAtATimeScanGivesTheSameHead() throws {
        let bytes = Array("POST /p?q HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".utf8)
        var scanner = HTTPHeadScanner(limits: HTTPLimits())
        var buffer: [UInt8] = []
        var end: Int?
        for byte in bytes where end == nil {
            buffer.append(byte)
            end = try scanner.scan(buffer)
        }
        #expect(end == bytes.count - 3)
        #expect(scanner.scanned == bytes.count - 3)
    }

    @Test func scannerRejectsEarlyBeforeTheHeadIsComplete() {
        var scanner = HTTPHeadScanner(limits: HTTPLimits())
        #expect(throws: HTTPProtocolError.self) { try scanner.scan(Array("GET / HTTP/1.1\nHo".utf8)) }
        var long = HTTPHeadScanner(limits: HTTPLimits(maxRequestLineBytes: 100))
        // No line end yet, but already too long: 414 without waiting.
        #expect(throws: HTTPProtocolError.requestLineTooLong) { try long.scan([UInt8](repeating: 0x41, count: 101)) }
    }

    static let rejections: [(String, Int, String)] = [
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", 400, "NUL in value"),
        ("GET /\u{0} HTTP/1.1\r\nHost: a\r\n\r\n", 400, "NUL in target"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bare CR"),
        ("GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF"),
        ("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, "bare LF in headers"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400, "obs-fold tab"),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "space before colon"),
        ("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "tab before colon"),
        ("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "no colon"),
        ("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400, "empty name"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}\r\n\r\n", 400, "DEL in value"),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: \u{1}\r\n\r\n", 400, "control in value"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "TE"),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, "TE and CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 400, "duplicate CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", 400, "CL list"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "negative CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400, "signed CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400, "hex CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "empty CL"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", 413, "CL over the limit"),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413, "CL overflow"),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0"),
        ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP/1.2"),
        ("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "HTTP/0.9"),
        ("GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "short version"),
        ("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "lowercase version"),
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "trailing space"),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "double space"),
        ("GET /\tx HTTP/1.1\r\nHost: a\r\n\r\n", 400, "tab in target"),
        ("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "absolute-form"),
        ("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk-form"),
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad method"),
        ("GET / HTTP/1.1\r\n\r\n", 400, "no Host"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts"),
        ("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n", 417, "unknown expectation"),
        ("GET /\u{E9} HTTP/1.1\r\nHost: a\r\n\r\n", 400, "non-ASCII target"),
    ]

    @Test(arguments: rejections)
    func rejects(_ rejection: (String, Int, String)) {
        #expect(status(of: rejection.0) == rejection.1, "\(rejection.2)")
    }

    @Test func enforcesSizeLimits() {
        let longLine = "GET /" + String(repeating: "a", count: 10_000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(status(of: longLine) == 414)
        let manyHeaders = "GET / HTTP/1.1\r\nHost: a\r\n" + (0 ..< 65).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        #expect(status(of: manyHeaders) == 431)
        let bigHeader = "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 17_000) + "\r\n\r\n"
        #expect(status(of: bigHeader) == 431)
        // Exactly at the limits is fine.
        let limits = HTTPLimits(maxRequestLineBytes: 30, maxHeaderBytes: 64, maxHeaderCount: 2)
        let atLimit = "GET /" + String(repeating: "a", count: 16) + " HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n"
        #expect(atLimit.utf8.count - "\r\nHost: a\r\nX: 1\r\n\r\n".utf8.count == 30)
        #expect(status(of: atLimit, limits: limits) == nil)
        #expect(status(of: "GET /" + String(repeating: "a", count: 17) + " HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == 414)
        #expect(status(of: "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n", limits: limits) == 431)
    }

    @Test func obsTextInValuesIsKeptAsBytes() throws {
        var bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf".utf8)
        bytes += [0xE9]  // Latin-1 é: obs-text, allowed, not UTF-8
        bytes += Array("\r\n\r\n".utf8)
        let parsed = try #require(try HTTPRequestParser.parse(bytes))
        #expect(parsed.head.headers.valueBytes("x-name") == Array("caf".utf8) + [0xE9])
    }

    @Test func headerLookupIsByteExact() {
        let headers = HTTPHeaders([("Content-Type", "a"), ("X-Dup", "1"), ("x-dup", "2")])
        #expect(headers["content-type"] == "a")
        #expect(headers.values("x-dup") == ["1", "2"])
        // The Kelvin sign lowercases to "k" in Unicode, but is not the ASCII byte.
        #expect(HTTPHeaders([("\u{212A}ey", "v")])["key"] == nil)
    }
}

@Suite struct HTTPValueTests {
    @Test func parsesAddresses() throws {
        let v4 = try HTTPAddress.parse("127.0.0.1:8080")
        #expect(v4.port == 8080 && v4.isLoopback && v4.description == "127.0.0.1:8080")
        let any = try HTTPAddress.parse("0.0.0.0:0")
        #expect(any.port == 0 && !any.isLoopback)
        let v6 = try HTTPAddress.parse("[::1]:8080")
        #expect(v6.isLoopback && v6.description == "[::1]:8080")
        let local = try HTTPAddress.parse("localhost:9000")
        #expect(local == HTTPAddress(host: .ipv4(127, 0, 0, 1), port: 9000))
        #expect(try !HTTPAddress.parse("[2001:db8::1]:443").isLoopback)
        for bad in ["127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "1.2.3:80", "1.2.3.4.5:80",
                    "01.2.3.4:80", "256.0.0.1:80", "example.com:80", "[::1:80", "[zz::1]:80", ":80", "1.2.3.4:8 0"] {
            #expect(throws: HTTPAddressError.self, "\(bad)") { try HTTPAddress.parse(bad) }
        }
    }

    @Test func errorResponseHasTheOpenAIShape() throws {
        let response = HTTPResponse.error(404, message: "no such model", type: "invalid_request_error", code: "model_not_found", param: "model")
        #expect(response.status == 404)
        #expect(response.headers.first { $0.0 == "content-type" }?.1 == "application/json")
        let value = try JSONParser.parse(response.body, source: "test")
        let error = try #require(value["error"])
        #expect(error["message"] == .string("no such model"))
        #expect(error["type"] == .string("invalid_request_error"))
        #expect(error["code"] == .string("model_not_found"))
        #expect(error["param"] == .string("model"))
        let bare = try JSONParser.parse(HTTPResponse.error(500, message: "m", type: "server_error", code: nil).body, source: "test")
        #expect(bare["error"]?["code"] == .null)
        #expect(bare["error"]?["param"] == .null)
    }

    @Test func responseHeadDropsInjectedAndFramingHeaders() {
        let head = HTTPResponse.head(status: 200,
                                     headers: [("x-ok", "1"), ("x-bad", "a\r\nset-cookie: evil"), ("bad name", "v"),
                                               ("Content-Length", "999"), ("connection", "keep-alive")],
                                     framing: [("content-length", "0")])
        let text = String(decoding: head, as: UTF8.self)
        #expect(text == "HTTP/1.1 200 OK\r\nx-ok: 1\r\ncontent-length: 0\r\n\r\n")
    }
}
