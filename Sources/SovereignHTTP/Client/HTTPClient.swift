#if canImport(Glibc)
import Glibc
#endif

/// Bounds on what a remote server can make the client wait for or hold.
public struct HTTPClientLimits: Sendable {
    public var connectTimeout: Duration
    /// From the request sent to the response head received (an engine
    /// queueing the request and reading the prompt).
    public var headTimeout: Duration
    /// The longest silence between body bytes.
    public var idleTimeout: Duration
    /// The longest a whole response may take, however steadily it trickles.
    public var responseTimeout: Duration
    public var maxHeadBytes: Int
    public var maxBodyBytes: Int

    public init(connectTimeout: Duration = .seconds(5), headTimeout: Duration = .seconds(120), idleTimeout: Duration = .seconds(60),
                responseTimeout: Duration = .seconds(600), maxHeadBytes: Int = 16 * 1024, maxBodyBytes: Int = 8 * 1024 * 1024) {
        self.connectTimeout = connectTimeout
        self.headTimeout = headTimeout
        self.idleTimeout = idleTimeout
        self.responseTimeout = responseTimeout
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// HTTP/1.1 requests to a remote server, one connection per request
/// (`Connection: close`), every wait bounded. The body is read as it
/// arrives, so a streamed answer can be judged piece by piece and the
/// connection closed the moment the caller has seen enough: closing is how
/// a caller tells an engine to stop generating.
public enum HTTPClient {
    /// Sends a request and reads the response head. `keepGoing` is asked
    /// at least every 100 ms while waiting; false ends the wait with `.cancelled`.
    public static func send(_ method: String, _ endpoint: HTTPEndpoint, path: String, headers: [(String, String)] = [],
                            body: [UInt8]? = nil, limits: HTTPClientLimits = .init(),
                            keepGoing: () -> Bool = { true }) throws(HTTPClientError) -> HTTPClientResponse {
        let route = endpoint.url + path
        let socket = try connect(endpoint, route: route, timeout: limits.connectTimeout, keepGoing: keepGoing)
        var head = "\(method) \(endpoint.basePath)\(path) HTTP/1.1\r\nhost: \(endpoint.address)\r\nconnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "content-length: \(body.count)\r\n" }
        let request = Array((head + "\r\n").utf8) + (body ?? [])
        guard socket.sendAll(request, deadline: monotonicMilliseconds() + limits.headTimeout.milliseconds) else {
            socket.closeNow()
            throw HTTPClientError(route, "the connection broke while sending the request", kind: .connectionLost)
        }
        let response = HTTPClientResponse(socket: socket, route: route, limits: limits)
        do { try response.readHead(keepGoing: keepGoing) } catch {
            response.close()
            throw error
        }
        return response
    }

    private static func connect(_ endpoint: HTTPEndpoint, route: String, timeout: Duration,
                                keepGoing: () -> Bool) throws(HTTPClientError) -> Socket {
        let family: Int32
        if case .ipv6 = endpoint.address.host { family = AF_INET6 } else { family = AF_INET }
        let fd = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError(route, "cannot create a socket (errno \(errno))", kind: .unreachable) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let status = endpoint.address.withSocketAddress { Glibc.connect(fd, $0, $1) }
        if status != 0 && errno != EINPROGRESS {
            let code = errno
            close(fd)
            throw HTTPClientError(route, "cannot connect: \(String(cString: strerror(code)))", kind: .unreachable)
        }
        let deadline = monotonicMilliseconds() + timeout.milliseconds
        while status != 0 {
            let remaining = deadline - monotonicMilliseconds()
            guard remaining > 0, keepGoing() else {
                close(fd)
                throw remaining > 0 ? HTTPClientError(route, "cancelled while connecting", kind: .cancelled)
                                    : HTTPClientError(route, "no connection within \(timeout)", kind: .unreachable)
            }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining, 100)))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                close(fd)
                throw HTTPClientError(route, "cannot connect: \(String(cString: strerror(error)))", kind: .unreachable)
            }
            break
        }
        return Socket(fd: fd)
    }
}

/// A response being read: its status and headers, then its body as it arrives
/// (Content-Length, chunked, or until the server closes).
public final class HTTPClientResponse {
    public private(set) var status = 0
    /// Header names in lower case, values as sent (bytes, trimmed).
    public private(set) var headers: [(name: String, value: [UInt8])] = []
    public let route: String
    private let socket: Socket
    private let limits: HTTPClientLimits
    private var buffer: [UInt8] = []
    private var closed = false
    private var bodyBytes = 0
    private enum Framing { case length(Int), chunked, untilClose }
    private var framing = Framing.untilClose
    private var chunkRemaining = 0
    private var chunkState = ChunkState.size
    private enum ChunkState { case size, data, dataEnd, trailers, done }
    private var finished = false
    /// When the whole response must be in (monotonic ms).
    private let responseDeadline: Int64

    init(socket: Socket, route: String, limits: HTTPClientLimits) {
        self.socket = socket
        self.route = route
        self.limits = limits
        responseDeadline = monotonicMilliseconds() + limits.responseTimeout.milliseconds
    }

    deinit { close() }

    public func header(_ name: String) -> [UInt8]? { headers.first { $0.name == name }?.value }

    /// Closes the connection at once (the server sees the client go).
    public func close() {
        guard !closed else { return }
        closed = true
        socket.closeNow()
    }

    private func fail(_ reason: String, _ kind: HTTPClientError.Kind = .protocolViolation) -> HTTPClientError {
        HTTPClientError(route, reason, kind: kind)
    }

    /// Reads more bytes into the buffer, waiting until `deadline` (monotonic ms); false at end of stream.
    private func fill(deadline: Int64, what: String, keepGoing: () -> Bool) throws(HTTPClientError) -> Bool {
        while true {
            guard monotonicMilliseconds() < responseDeadline else {
                throw fail("the response took longer than \(limits.responseTimeout)", .timedOut)
            }
            let remaining = min(deadline, responseDeadline) - monotonicMilliseconds()
            guard remaining > 0 else { throw fail("no \(what) within the time allowed", .timedOut) }
            guard keepGoing() else { throw fail("cancelled by the caller", .cancelled) }
            switch socket.waitReadable(deadline: monotonicMilliseconds() + min(remaining, 100)) {
            case .timedOut: continue
            case .stopped, .failed: throw fail("the connection failed", .connectionLost)
            case .ready: break
            }
            switch socket.receive(into: &buffer, maxBytes: 65536) {
            case .bytes: return true
            case .wouldBlock: continue
            case .endOfStream: return false
            case .failed: throw fail("the connection was reset", .connectionLost)
            }
        }
    }

    func readHead(keepGoing: () -> Bool) throws(HTTPClientError) {
        let deadline = monotonicMilliseconds() + limits.headTimeout.milliseconds
        let terminator: [UInt8] = [13, 10, 13, 10]
        var searchFrom = 0
        var end: Int?
        while end == nil {
            if buffer.count >= 4 {
                var index = searchFrom
                while index + 4 <= buffer.count {
                    if buffer[index] == 13, buffer[index ..< index + 4].elementsEqual(terminator) { end = index; break }
                    index += 1
                }
                searchFrom = max(0, buffer.count - 3)
            }
            if end != nil { break }
            guard buffer.count <= limits.maxHeadBytes else { throw fail("the response head is larger than \(limits.maxHeadBytes) bytes") }
            guard try fill(deadline: deadline, what: "response", keepGoing: keepGoing) else {
                throw fail(buffer.isEmpty ? "the server closed the connection without answering" : "the response head was cut short",
                           buffer.isEmpty ? .connectionLost : .protocolViolation)
            }
        }
        guard let end, end <= limits.maxHeadBytes else { throw fail("the response head is larger than \(limits.maxHeadBytes) bytes") }
        let lines = buffer[..<end].split(separator: 10, omittingEmptySubsequences: false).map { line in
            line.last == 13 ? line.dropLast() : line
        }
        buffer.removeSubrange(..<(end + 4))
        guard let statusLine = lines.first, statusLine.count >= 12, statusLine.starts(with: Array("HTTP/1.".utf8)),
              statusLine[statusLine.startIndex + 8] == UInt8(ascii: " "),
              let code = Int(String(decoding: statusLine.dropFirst(9).prefix(3), as: UTF8.self)), (100...599).contains(code) else {
            throw fail("the response does not start with an HTTP/1.x status line")
        }
        status = code
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw fail("a response header line has no name")
            }
            let name = line[..<colon]
            guard name.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else { throw fail("a response header name is malformed") }
            var value = Array(line[(colon + 1)...])
            while value.first == 32 || value.first == 9 { value.removeFirst() }
            while value.last == 32 || value.last == 9 { value.removeLast() }
            headers.append((String(decoding: name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self), value))
            guard headers.count <= 100 else { throw fail("the response has more than 100 header fields") }
        }
        if let encoding = header("transfer-encoding") {
            guard String(decoding: encoding, as: UTF8.self).lowercased() == "chunked" else {
                throw fail("Transfer-Encoding \(String(decoding: encoding, as: UTF8.self)) is not supported")
            }
            framing = .chunked
        } else if let length = header("content-length") {
            guard !length.isEmpty, length.count <= 18, length.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let value = Int(String(decoding: length, as: UTF8.self)) else { throw fail("the Content-Length is malformed") }
            guard value <= limits.maxBodyBytes else { throw fail("the response body of \(value) bytes is larger than \(limits.maxBodyBytes)") }
            framing = .length(value)
        }
    }

    /// The next body bytes as they arrive (decoded from chunks), nil at the end.
    public func read(keepGoing: () -> Bool = { true }) throws(HTTPClientError) -> [UInt8]? {
        while !finished {
            if let bytes = try take() {
                bodyBytes += bytes.count
                guard bodyBytes <= limits.maxBodyBytes else { throw fail("the response body is larger than \(limits.maxBodyBytes) bytes") }
                if !bytes.isEmpty { return bytes }
                continue
            }
            if finished { break }
            let more = try fill(deadline: monotonicMilliseconds() + limits.idleTimeout.milliseconds, what: "bytes for \(limits.idleTimeout)",
                                keepGoing: keepGoing)
            if !more {
                if case .untilClose = framing {
                    finished = true
                    if buffer.isEmpty { return nil }
                    continue
                }
                throw fail("the server closed the connection before the end of the response body", .connectionLost)
            }
        }
        return nil
    }

    /// The whole body, for short answers.
    public func readAll(keepGoing: () -> Bool = { true }) throws(HTTPClientError) -> [UInt8] {
        var body: [UInt8] = []
        while let bytes = try read(keepGoing: keepGoing) { body += bytes }
        return body
    }

    /// Body bytes decodable from the buffer now ([] when framing used bytes
    /// but produced none, nil when more input is needed).
    private func take() throws(HTTPClientError) -> [UInt8]? {
        switch framing {
        case .untilClose:
            guard !buffer.isEmpty else { return nil }
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        case .length(let remaining):
            if remaining == 0 { finished = true; return [] }
            guard !buffer.isEmpty else { return nil }
            let count = min(remaining, buffer.count)
            let bytes = Array(buffer[..<count])
            buffer.removeSubrange(..<count)
            framing = .length(remaining - count)
            if remaining - count == 0 { finished = true }
            return bytes
        case .chunked:
            return try takeChunked()
        }
    }

    private func takeChunked() throws(HTTPClientError) -> [UInt8]? {
        switch chunkState {
        case .size, .dataEnd, .trailers:
            guard let newline = buffer.firstIndex(of: 10) else {
                guard buffer.count <= 4096 else { throw fail("a chunk size line is longer than 4096 bytes") }
                return nil
            }
            var line = buffer[..<newline]
            if line.last == 13 { line = line.dropLast() }
            let lineBytes = Array(line)
            buffer.removeSubrange(...newline)
            switch chunkState {
            case .dataEnd:
                guard lineBytes.isEmpty else { throw fail("a chunk does not end with CRLF") }
                chunkState = .size
            case .trailers:
                if lineBytes.isEmpty { chunkState = .done; finished = true }
            default:
                let digits = lineBytes.prefix { $0 != UInt8(ascii: ";") }
                guard !digits.isEmpty, digits.count <= 8, digits.allSatisfy(isHexDigit),
                      let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    throw fail("a chunk size is malformed")
                }
                chunkRemaining = size
                chunkState = size == 0 ? .trailers : .data
            }
            return []
        case .data:
            guard !buffer.isEmpty else { return nil }
            let count = min(chunkRemaining, buffer.count)
            let bytes = Array(buffer[..<count])
            buffer.removeSubrange(..<count)
            chunkRemaining -= count
            if chunkRemaining == 0 { chunkState = .dataEnd }
            return bytes
        case .done:
            finished = true
            return []
        }
    }
}
