#if canImport(Glibc)
import Glibc
#endif
public import SovereignSystem
internal import Synchronization

/// An HTTP/1.1 server on plain POSIX sockets: one thread per connection, at
/// most `limits.maxConnections` of them, every read and write bounded in
/// size and time by `HTTPLimits`.
///
/// Stopping: `requestStop()` (from any thread, e.g. the signal thread of
/// `blockSignalsAndStop`) stops accepting and wakes every connection waiting
/// for its next request, through a pipe whose read end, once written, stays
/// readable for all of them. In-flight requests finish and get their
/// response with `connection: close`; `run()` returns once they have, or
/// after `limits.drainTimeout` with their sockets shut down.
public final class HTTPServer: @unchecked Sendable {
    public let limits: HTTPLimits
    let handler: @Sendable (HTTPRequest, HTTPExchange) -> Void
    /// The address actually bound (the kernel's port when port 0 was asked).
    public let boundAddress: HTTPAddress
    private let listenFD: Int32
    let stopReadFD: Int32
    private let stopWriteFD: Int32

    private struct State {
        var running = false
        var stopping = false
        var listenerClosed = false
        var nextID = 0
        /// Live connections' descriptors, so a drain that times out can
        /// shut them down. A connection unregisters before closing its
        /// descriptor, so the server never touches a reused number.
        var connections: [Int: Int32] = [:]
    }
    private let state = Mutex(State())

    public init(address: HTTPAddress, limits: HTTPLimits = .init(),
                handler: @escaping @Sendable (HTTPRequest, HTTPExchange) -> Void) throws(SystemError) {
        self.limits = limits
        self.handler = handler
        // Writes use MSG_NOSIGNAL; ignoring SIGPIPE also covers any other
        // descriptor a handler writes to.
        signal(SIGPIPE, SIG_IGN)
        let where_ = address.description
        let family: Int32
        switch address.host {
        case .ipv4: family = AF_INET
        case .ipv6: family = AF_INET6
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError(path: where_, operation: "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSocketAddress { bind(fd, $0, $1) }
        if bound != 0 {
            let code = errno
            close(fd)
            throw SystemError(path: where_, operation: "bind", errno: code)
        }
        if listen(fd, 128) != 0 {
            let code = errno
            close(fd)
            throw SystemError(path: where_, operation: "listen", errno: code)
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        boundAddress = named == 0 ? (HTTPAddress(storage: storage) ?? address) : address
        var pipeFDs: [Int32] = [0, 0]
        // pipe2 and accept4 are hidden from Swift's Glibc module (GNU
        // extensions): set close-on-exec right after instead.
        if pipe(&pipeFDs) != 0 {
            let code = errno
            close(fd)
            throw SystemError(path: where_, operation: "pipe", errno: code)
        }
        _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        listenFD = fd
        stopReadFD = pipeFDs[0]
        stopWriteFD = pipeFDs[1]
    }

    deinit {
        let listenerOpen = state.withLock { !$0.listenerClosed }
        if listenerOpen { close(listenFD) }
        close(stopReadFD)
        close(stopWriteFD)
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Connections being served right now.
    public var activeConnections: Int { state.withLock { $0.connections.count } }

    /// Stops accepting, closes idle connections, lets in-flight requests
    /// finish; `run()` then returns. Safe from any thread, idempotent.
    public func requestStop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        if first {
            var byte: UInt8 = 1
            _ = write(stopWriteFD, &byte, 1)
        }
    }

    func unregister(_ id: Int) {
        _ = state.withLock { $0.connections.removeValue(forKey: id) }
    }

    /// Blocks: accepts connections until a stop is requested, then drains.
    /// Returns at once if the server is already running or has run.
    public func run() {
        let start = state.withLock { state -> Bool in
            if state.running || state.listenerClosed { return false }
            state.running = true
            return true
        }
        guard start else { return }
        acceptLoop()
        state.withLock { state in
            state.listenerClosed = true
            close(listenFD)
        }
        drain()
        state.withLock { $0.running = false }
    }

    private func acceptLoop() {
        while true {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stopReadFD, events: Int16(POLLIN), revents: 0)]
            let status = poll(&fds, 2, -1)
            if status < 0 {
                if errno == EINTR { continue }
                usleep(10_000)
                continue
            }
            if fds[1].revents != 0 || isStopping { return }
            if fds[0].revents == 0 { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listenFD, $0, &length)
                }
            }
            if fd < 0 {
                switch errno {
                case EINTR, EAGAIN, EWOULDBLOCK, ECONNABORTED, EPROTO: continue
                default:
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: out of resources;
                    // back off instead of spinning on a readable listener.
                    usleep(10_000)
                    continue
                }
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            // Streamed tokens are small writes: without TCP_NODELAY, Nagle's
            // algorithm holds each one until the previous is acknowledged,
            // which with delayed ACKs adds up to 40 ms per chunk.
            var noDelay: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            let now = monotonicMilliseconds()
            let remote = HTTPAddress(storage: storage)?.description ?? "unknown"
            let id = state.withLock { state -> Int? in
                guard state.connections.count < limits.maxConnections else { return nil }
                state.nextID += 1
                state.connections[state.nextID] = fd
                return state.nextID
            }
            guard let id else {
                rejectBusy(fd)
                continue
            }
            let connection = HTTPConnection(server: self, fd: fd, id: id, remoteAddress: remote, acceptedAt: now)
            let box = UncheckedBox(connection)
            if !spawnDetachedThread({ box.value.run() }) {
                unregister(id)
                rejectBusy(fd)
            }
        }
    }

    /// Answers 503 without a thread and without waiting on the client, so
    /// a flood of connections cannot hold up the accept loop.
    private func rejectBusy(_ fd: Int32) {
        var response = HTTPResponse.error(503, message: "the server is at its connection limit; retry shortly",
                                          type: "server_error", code: "server_busy")
        response.headers.append(("retry-after", "1"))
        var bytes = HTTPResponse.head(status: 503, headers: response.headers,
                                      framing: [("content-length", String(response.body.count)), ("connection", "close")])
        bytes += response.body
        let socket = Socket(fd: fd)
        socket.sendNow(bytes)
        socket.closeNow()
    }

    /// Waits for in-flight connections; past the drain timeout, shuts their
    /// sockets down so blocked reads and writes fail and the threads unwind.
    private func drain() {
        let deadline = monotonicMilliseconds() + limits.drainTimeout.milliseconds
        while activeConnections > 0 && monotonicMilliseconds() < deadline {
            usleep(5_000)
        }
        if activeConnections == 0 { return }
        state.withLock { state in
            for fd in state.connections.values { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        let grace = monotonicMilliseconds() + 2_000
        while activeConnections > 0 && monotonicMilliseconds() < grace {
            usleep(5_000)
        }
    }

    /// Blocks `signals` (e.g. SIGINT, SIGTERM) in the calling thread — call
    /// it before any thread is created, so every thread inherits the mask —
    /// and starts one thread that sigwait()s for them. The first signal
    /// requests a graceful stop; a second one exits at once with 128+signal,
    /// for an operator who will not wait out the drain.
    public static func blockSignalsAndStop(_ server: HTTPServer, on signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let box = UncheckedBox(set)
        _ = spawnDetachedThread {
            var set = box.value
            var stopped = false
            while true {
                var received: Int32 = 0
                guard sigwait(&set, &received) == 0 else { continue }
                if stopped { _exit(128 + received) }
                stopped = true
                server.requestStop()
            }
        }
    }
}

/// Carries a non-Sendable value to the one thread that will own it.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
