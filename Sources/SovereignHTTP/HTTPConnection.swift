#if canImport(Glibc)
import Glibc
#endif

/// One client connection, served on its own thread: reads requests one
/// after another (pipelined bytes stay in `buffer` for the next one), runs
/// the handler, and closes on any protocol error, timeout, or when either
/// side wants to stop.
final class HTTPConnection {
    let server: HTTPServer
    let socket: Socket
    let id: Int
    let remoteAddress: String
    let acceptedAt: Int64
    let limits: HTTPLimits
    /// Received bytes not yet consumed. Bounded: the head by the scanner's
    /// limits plus one read, the body by Content-Length ≤ maxBodyBytes.
    private var buffer: [UInt8] = []
    static let readChunk = 16 * 1024

    init(server: HTTPServer, fd: Int32, id: Int, remoteAddress: String, acceptedAt: Int64) {
        self.server = server
        self.socket = Socket(fd: fd)
        self.id = id
        self.remoteAddress = remoteAddress
        self.acceptedAt = acceptedAt
        self.limits = server.limits
    }

    enum Ending { case quiet, afterError }

    func run() {
        let ending = serve()
        socket.closeGracefully(linger: ending == .afterError) { server.unregister(id) }
    }

    enum ReadResult { case ok, timedOut, endOfStream, failed }

    /// One read of at most `maxBytes`, waiting until `deadline`.
    private func readMore(deadline: Int64, maxBytes: Int, stopFD: Int32? = nil) -> ReadResult {
        while true {
            switch socket.waitReadable(deadline: deadline, stopFD: stopFD) {
            case .ready: break
            case .timedOut: return .timedOut
            case .stopped, .failed: return .failed
            }
            switch socket.receive(into: &buffer, maxBytes: maxBytes) {
            case .bytes: return .ok
            case .wouldBlock: continue
            case .endOfStream: return .endOfStream
            case .failed: return .failed
            }
        }
    }

    /// Answers a protocol error with the OpenAI error JSON; the caller closes.
    private func refuse(_ error: HTTPProtocolError) -> Ending {
        let response = HTTPResponse.protocolError(error)
        var bytes = HTTPResponse.head(status: response.status, headers: response.headers,
                                      framing: [("content-length", String(response.body.count)), ("connection", "close")])
        bytes += response.body
        _ = socket.sendAll(bytes, deadline: monotonicMilliseconds() + limits.writeTimeout.milliseconds)
        return .afterError
    }

    private func serve() -> Ending {
        var first = true
        var served = 0
        while true {
            // Wait for the next request's first byte: the whole head timeout
            // from accept for the first request, the idle timeout after that.
            // A stopping server closes idle connections here.
            if buffer.isEmpty {
                let deadline = first ? acceptedAt + limits.headerTimeout.milliseconds
                                     : monotonicMilliseconds() + limits.keepAliveIdle.milliseconds
                switch readMore(deadline: deadline, maxBytes: Self.readChunk, stopFD: server.stopReadFD) {
                case .ok: break
                case .timedOut: return first ? refuse(.timeout) : .quiet
                case .endOfStream, .failed: return .quiet
                }
            }
            let headDeadline = first ? acceptedAt + limits.headerTimeout.milliseconds
                                     : monotonicMilliseconds() + limits.headerTimeout.milliseconds
            var scanner = HTTPHeadScanner(limits: limits)
            var headEnd = 0
            while true {
                do {
                    if let end = try scanner.scan(buffer) { headEnd = end; break }
                } catch {
                    return refuse(error)
                }
                switch readMore(deadline: headDeadline, maxBytes: Self.readChunk) {
                case .ok: continue
                case .timedOut: return refuse(.timeout)
                case .endOfStream: return refuse(.truncated)
                case .failed: return .quiet
                }
            }
            let head: HTTPRequestHead
            do {
                head = try HTTPRequestParser.parseHead(buffer, requestLineStart: scanner.requestLineStart,
                                                       end: headEnd, limits: limits)
            } catch {
                return refuse(error)
            }

            let needed = headEnd + head.contentLength
            if head.expectsContinue && buffer.count < needed {
                guard socket.sendAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8),
                                     deadline: monotonicMilliseconds() + limits.writeTimeout.milliseconds) else { return .quiet }
            }
            let bodyDeadline = monotonicMilliseconds() + limits.bodyTimeout.milliseconds
            while buffer.count < needed {
                // Read no further than this body: what follows is the next
                // request's, and reading it now would only grow the buffer.
                switch readMore(deadline: bodyDeadline, maxBytes: min(needed - buffer.count, 64 * 1024)) {
                case .ok: continue
                case .timedOut: return refuse(.timeout)
                case .endOfStream: return refuse(.truncated)
                case .failed: return .quiet
                }
            }
            let request = HTTPRequest(
                method: String(decoding: head.method, as: UTF8.self),
                path: String(decoding: head.path, as: UTF8.self),
                query: head.query.map { String(decoding: $0, as: UTF8.self) },
                headers: head.headers,
                body: Array(buffer[headEnd ..< needed]),
                minorVersion: head.minorVersion)
            buffer.removeFirst(needed)
            served += 1
            first = false

            let server = self.server
            let exchange = HTTPExchange(socket: socket, remoteAddress: remoteAddress, limits: limits,
                                        minorVersion: head.minorVersion,
                                        isHead: head.method == Array("HEAD".utf8),
                                        keepAliveWanted: head.keepAlive && served < limits.maxRequestsPerConnection,
                                        isStopping: { server.isStopping })
            server.handler(request, exchange)
            if exchange.finish() { return .quiet }
        }
    }
}
