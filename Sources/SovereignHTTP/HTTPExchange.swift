internal import Synchronization

/// One request in flight, handed to the handler on its connection's thread.
/// The handler answers once: either `respond`, or `beginStream`, any number
/// of `send`s and `endStream`. Calls are serialised by a lock, so a
/// generation running on another thread may stream through it too.
public final class HTTPExchange: @unchecked Sendable {
    /// The client's address, `ip:port` or `[ipv6]:port`.
    public let remoteAddress: String

    enum Phase { case idle, streaming, done }

    struct State {
        var phase: Phase = .idle
        /// A write failed or timed out: the client is gone for us.
        var failed = false
        /// The response said `connection: close`.
        var closes = false
        var rawStream = false
        /// The handler has returned: the connection may have moved on to
        /// its next request or closed its descriptor, so this exchange must
        /// never touch the socket again.
        var finished = false
    }

    private let socket: Socket
    private let writeTimeout: Int64
    private let minorVersion: Int
    private let isHead: Bool
    private let keepAliveWanted: Bool
    private let isStopping: @Sendable () -> Bool
    private let state = Mutex(State())

    init(socket: Socket, remoteAddress: String, limits: HTTPLimits, minorVersion: Int, isHead: Bool,
         keepAliveWanted: Bool, isStopping: @escaping @Sendable () -> Bool) {
        self.socket = socket
        self.remoteAddress = remoteAddress
        self.writeTimeout = limits.writeTimeout.milliseconds
        self.minorVersion = minorVersion
        self.isHead = isHead
        self.keepAliveWanted = keepAliveWanted
        self.isStopping = isStopping
    }

    /// Decided when the response starts: a stopping server closes every
    /// connection after its current response.
    private func connectionHeaders(_ state: inout State) -> [(String, String)] {
        let keepAlive = keepAliveWanted && !isStopping()
        state.closes = !keepAlive
        if !keepAlive { return [("connection", "close")] }
        return minorVersion == 0 ? [("connection", "keep-alive")] : []
    }

    private func write(_ bytes: [UInt8], _ state: inout State) -> Bool {
        if state.failed { return false }
        if !socket.sendAll(bytes, deadline: monotonicMilliseconds() + writeTimeout) {
            state.failed = true
            return false
        }
        return true
    }

    /// Sends a complete response with `content-length`. Ignored after the
    /// exchange has already answered.
    public func respond(_ response: HTTPResponse) {
        state.withLock { state in respond(response, &state) }
    }

    private func respond(_ response: HTTPResponse, _ state: inout State) {
        guard state.phase == .idle else { return }
        state.phase = .done
        var framing = connectionHeaders(&state)
        let bodyless = response.status == 204 || response.status == 304
        if !bodyless { framing.insert(("content-length", String(response.body.count)), at: 0) }
        var bytes = HTTPResponse.head(status: response.status, headers: response.headers, framing: framing)
        if !bodyless && !isHead { bytes += response.body }
        _ = write(bytes, &state)
    }

    /// Starts a streamed response: chunked transfer-encoding for HTTP/1.1
    /// (so keep-alive survives), an unframed body ended by closing for
    /// HTTP/1.0. False if the client is already gone.
    public func beginStream(status: Int, headers: [(String, String)]) -> Bool {
        state.withLock { state in
            guard state.phase == .idle else { return false }
            state.phase = .streaming
            var framing = connectionHeaders(&state)
            if minorVersion == 0 {
                state.rawStream = true
                state.closes = true
                framing = [("connection", "close")]
            } else if !isHead {
                framing.insert(("transfer-encoding", "chunked"), at: 0)
            }
            return write(HTTPResponse.head(status: status, headers: headers, framing: framing), &state)
        }
    }

    /// Sends one chunk. False once the client is gone or a write timed out
    /// (the caller should then stop generating). An empty chunk is a no-op:
    /// on the wire it would end the stream.
    public func send(_ bytes: [UInt8]) -> Bool {
        state.withLock { state in
            guard state.phase == .streaming, !state.failed else { return false }
            if bytes.isEmpty || isHead { return true }
            if state.rawStream { return write(bytes, &state) }
            var chunk = Array(String(bytes.count, radix: 16).utf8)
            chunk.reserveCapacity(chunk.count + bytes.count + 4)
            chunk += [0x0D, 0x0A]; chunk += bytes; chunk += [0x0D, 0x0A]
            return write(chunk, &state)
        }
    }

    /// Ends a streamed response with the terminating zero-length chunk.
    public func endStream() {
        state.withLock { state in endStream(&state) }
    }

    private func endStream(_ state: inout State) {
        guard state.phase == .streaming else { return }
        state.phase = .done
        if !state.rawStream && !isHead { _ = write(Array("0\r\n\r\n".utf8), &state) }
    }

    /// Non-blocking: the client hung up (POLLRDHUP/POLLHUP/POLLERR) or a write
    /// to it failed. Poll this in long generations to stop work nobody waits
    /// for, streaming or not.
    public var clientHasGone: Bool {
        state.withLock { state in
            if state.failed || state.finished { return true }
            return socket.peerHasGone
        }
    }

    /// After the handler returns: answers 500 if it never responded, ends a
    /// stream it left open. Returns whether the connection must close.
    func finish() -> Bool {
        // One critical section: whoever kept the exchange sees it finished
        // as soon as the client can have read the last byte.
        state.withLock { state in
            switch state.phase {
            case .idle:
                respond(.error(500, message: "the handler returned without a response", type: "server_error", code: "internal_error"),
                        &state)
            case .streaming:
                endStream(&state)
            case .done:
                break
            }
            state.finished = true
            return state.closes || state.failed
        }
    }
}
