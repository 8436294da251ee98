import Glibc
import Synchronization
import SovereignSystem
@testable import SovereignHTTP

/// A response as read off the wire by `TestClient`.
struct WireResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var wasChunked = false
    var chunkSizes: [Int] = []

    func header(_ name: String) -> String? {
        headers.first { $0.0 == name }?.1
    }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A raw TCP client with deadlines on every read, so a server bug shows up
/// as a failed expectation, never as a hung test.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: UInt16, receiveBufferBytes: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError("socket failed") }
        if var size = receiveBufferBytes {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else { close(fd); throw TestClientError("connect failed: errno \(errno)") }
    }

    deinit { close(fd) }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with RST (SO_LINGER 0), like a client killed mid-stream.
    func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    enum Fill { case data, eof, timeout }

    /// One read into the buffer, waiting at most until `deadline`.
    private func fill(deadline: Int64) -> Fill {
        let remaining = deadline - monotonicMilliseconds()
        if remaining <= 0 { return .timeout }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(remaining))
        if ready == 0 { return .timeout }
        return withUnsafeTemporaryAllocation(byteCount: 65536, alignment: 16) { chunk in
            let count = recv(fd, chunk.baseAddress, chunk.count, 0)
            if count <= 0 { return .eof }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0 ..< count]))
            return .data
        }
    }

    /// Everything until the server closes; nil on timeout.
    func readToEnd(timeout: Double = 5) -> [UInt8]? {
        let deadline = monotonicMilliseconds() + Int64(timeout * 1000)
        while true {
            switch fill(deadline: deadline) {
            case .data: continue
            case .eof:
                defer { buffer = [] }
                return buffer
            case .timeout: return nil
            }
        }
    }

    /// True if the server closed the connection (EOF or reset) with nothing
    /// left unread, within the timeout.
    func isClosedByServer(timeout: Double = 5) -> Bool {
        guard let rest = readToEnd(timeout: timeout) else { return false }
        return rest.isEmpty
    }

    private func index(of pattern: [UInt8], from start: Int = 0) -> Int? {
        guard buffer.count >= pattern.count + start else { return nil }
        var i = start
        while i + pattern.count <= buffer.count {
            if buffer[i] == pattern[0] && Array(buffer[i ..< i + pattern.count]) == pattern { return i }
            i += 1
        }
        return nil
    }

    /// Reads one response (a 1xx counts as one). nil on timeout or EOF
    /// before it was complete.
    func readResponse(timeout: Double = 5) -> WireResponse? {
        let deadline = monotonicMilliseconds() + Int64(timeout * 1000)
        let crlfcrlf: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while true {
            headEnd = index(of: crlfcrlf)
            if headEnd != nil { break }
            if fill(deadline: deadline) != .data { return nil }
        }
        guard let end = headEnd else { return nil }
        let headText = String(decoding: buffer[0 ..< end], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingSpaces()))
        }
        buffer.removeFirst(end + 4)
        var response = WireResponse(status: status, headers: headers, body: [])
        if status < 200 || status == 204 || status == 304 { return response }
        if response.header("transfer-encoding") == "chunked" {
            response.wasChunked = true
            while true {
                var lineEnd: Int?
                while true {
                    lineEnd = index(of: [13, 10])
                    if lineEnd != nil { break }
                    if fill(deadline: deadline) != .data { return nil }
                }
                guard let sizeEnd = lineEnd,
                      let size = Int(String(decoding: buffer[0 ..< sizeEnd], as: UTF8.self), radix: 16) else { return nil }
                while buffer.count < sizeEnd + 2 + size + 2 {
                    if fill(deadline: deadline) != .data { return nil }
                }
                guard buffer[sizeEnd + 2 + size] == 13, buffer[sizeEnd + 3 + size] == 10 else { return nil }
                response.body += buffer[(sizeEnd + 2) ..< (sizeEnd + 2 + size)]
                buffer.removeFirst(sizeEnd + 4 + size)
                if size == 0 { return response }
                response.chunkSizes.append(size)
            }
        }
        if let lengthText = response.header("content-length") {
            guard let length = Int(lengthText) else { return nil }
            while buffer.count < length {
                if fill(deadline: deadline) != .data { return nil }
            }
            response.body = Array(buffer[0 ..< length])
            buffer.removeFirst(length)
            return response
        }
        // Neither: the body runs to the close (an HTTP/1.0 stream).
        while true {
            switch fill(deadline: deadline) {
            case .data: continue
            case .eof:
                response.body = buffer
                buffer = []
                return response
            case .timeout: return nil
            }
        }
    }
}

struct TestClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while scalars.first == " " || scalars.first == "\t" { scalars = scalars.dropFirst() }
        while scalars.last == " " || scalars.last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}

extension Substring {
    func trimmingSpaces() -> String { String(self).trimmingSpaces() }
}

/// A server running `run()` on its own thread for one test.
final class RunningServer: Sendable {
    let server: HTTPServer
    let port: UInt16
    private let finished = Mutex(false)

    init(limits: HTTPLimits = HTTPLimits(),
         handler: @escaping @Sendable (HTTPRequest, HTTPExchange) -> Void = RunningServer.echo) throws {
        server = try HTTPServer(address: HTTPAddress.parse("127.0.0.1:0"), limits: limits, handler: handler)
        port = server.boundAddress.port
        let server = self.server
        let started = spawnDetachedThread { [self] in
            server.run()
            finished.withLock { $0 = true }
        }
        guard started else { throw TestClientError("cannot start the server thread") }
    }

    var hasFinished: Bool { finished.withLock { $0 } }

    /// Requests a stop and waits for `run()` to return.
    @discardableResult
    func stop(timeout: Double = 10) -> Bool {
        server.requestStop()
        return waitUntil(timeout: timeout) { self.hasFinished }
    }

    func client(receiveBufferBytes: Int32? = nil) throws -> TestClient {
        try TestClient(port: port, receiveBufferBytes: receiveBufferBytes)
    }

    /// Answers with the method, path, query and body it got.
    static let echo: @Sendable (HTTPRequest, HTTPExchange) -> Void = { request, exchange in
        var headers: [(String, String)] = [("x-method", request.method), ("x-path", request.path)]
        if let query = request.query { headers.append(("x-query", query)) }
        exchange.respond(HTTPResponse(status: 200, headers: headers, body: request.body))
    }

    /// One valid request on a fresh connection: the server is alive and well.
    func isHealthy() -> Bool {
        guard let client = try? client() else { return false }
        client.send("POST /health?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
        guard let response = client.readResponse() else { return false }
        return response.status == 200 && response.text == "ok" && response.header("x-path") == "/health"
    }
}

/// Polls `condition` every 5 ms until it holds or the timeout passes.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicMilliseconds() + Int64(timeout * 1000)
    while monotonicMilliseconds() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

/// A value shared between a handler thread and the test.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value { storage.withLock { $0 } }
    func update(_ body: (inout Value) -> Void) { storage.withLock { body(&$0) } }
}
