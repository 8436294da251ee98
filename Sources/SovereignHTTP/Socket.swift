#if canImport(Glibc)
import Glibc
#endif

/// Milliseconds on the monotonic clock: deadlines must not move when the
/// wall clock is set.
func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// POLLRDHUP (Linux, needs _GNU_SOURCE, which Swift's Glibc module lacks):
/// the peer shut down its writing side or closed.
let pollReadHangUp: Int16 = 0x2000

/// One connected socket. Every wait is a poll(2) with a deadline and every
/// send is non-blocking with MSG_NOSIGNAL, so no call here can block a
/// thread forever or raise SIGPIPE.
struct Socket: Sendable {
    let fd: Int32

    enum WaitResult { case ready, timedOut, stopped, failed }

    /// Waits until the socket is readable (data, EOF or error), the deadline
    /// passes, or — when `stopFD` is given — the server is stopping.
    func waitReadable(deadline: Int64, stopFD: Int32? = nil) -> WaitResult {
        while true {
            let remaining = deadline - monotonicMilliseconds()
            if remaining <= 0 { return .timedOut }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            if let stopFD { fds.append(pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)) }
            let status = poll(&fds, nfds_t(fds.count), Int32(min(remaining, Int64(Int32.max))))
            if status < 0 {
                if errno == EINTR { continue }
                return .failed
            }
            if status == 0 { continue }  // re-check the deadline
            if fds[0].revents != 0 { return .ready }
            if fds.count > 1 && fds[1].revents != 0 { return .stopped }
        }
    }

    enum ReceiveResult { case bytes(Int), endOfStream, wouldBlock, failed }

    /// Appends at most `maxBytes` to `buffer` without blocking.
    func receive(into buffer: inout [UInt8], maxBytes: Int) -> ReceiveResult {
        guard maxBytes > 0 else { return .wouldBlock }
        return withUnsafeTemporaryAllocation(byteCount: maxBytes, alignment: 16) { scratch in
            while true {
                let count = recv(fd, scratch.baseAddress, maxBytes, Int32(MSG_DONTWAIT))
                if count > 0 {
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0 ..< count]))
                    return .bytes(count)
                }
                if count == 0 { return .endOfStream }
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
                return .failed
            }
        }
    }

    /// Writes all of `bytes`, waiting for a slow reader at most until
    /// `deadline`. False when the peer is gone or the deadline passed.
    func sendAll(_ bytes: [UInt8], deadline: Int64) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if sent > 0 { offset += sent; continue }
            let code = errno
            if sent < 0 && code == EINTR { continue }
            guard sent < 0, code == EAGAIN || code == EWOULDBLOCK else { return false }
            let remaining = deadline - monotonicMilliseconds()
            if remaining <= 0 { return false }
            var fds = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let status = poll(&fds, 1, Int32(min(remaining, Int64(Int32.max))))
            if status < 0 && errno != EINTR { return false }
            if status > 0 && fds.revents & Int16(POLLERR | POLLHUP) != 0 && fds.revents & Int16(POLLOUT) == 0 { return false }
        }
        return true
    }

    /// Best-effort write that never waits (for the 503 sent from the accept
    /// loop, which must not be held up by any one client).
    func sendNow(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { raw in
            send(fd, raw.baseAddress!, raw.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        }
    }

    /// Non-blocking check that the peer has hung up or the socket failed.
    var peerHasGone: Bool {
        var fds = pollfd(fd: fd, events: Int16(POLLIN) | pollReadHangUp, revents: 0)
        let status = poll(&fds, 1, 0)
        guard status > 0 else { return false }
        return fds.revents & (pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)) != 0
    }

    /// Closes after our last bytes are out. Closing with unread input makes
    /// the kernel send RST, which can destroy a response the client has not
    /// read yet (RFC 9112 §9.6); so when input is pending (or `linger` asks,
    /// after an error answer), shut down our side and discard input for a
    /// bounded time and amount first. `beforeClose` runs just before close(2).
    func closeGracefully(linger: Bool, beforeClose: () -> Void = {}) {
        var probe: [UInt8] = []
        var pending = false
        if case .bytes = receive(into: &probe, maxBytes: 1) { pending = true }
        if linger || pending {
            shutdown(fd, Int32(SHUT_WR))
            let deadline = monotonicMilliseconds() + 1000
            var discarded = 0
            var scratch: [UInt8] = []
            scratch.reserveCapacity(16384)
            drain: while discarded < 1 << 20 {
                guard case .ready = waitReadable(deadline: deadline) else { break }
                scratch.removeAll(keepingCapacity: true)
                switch receive(into: &scratch, maxBytes: 16384) {
                case .bytes(let count): discarded += count
                case .wouldBlock: continue
                case .endOfStream, .failed: break drain
                }
            }
        }
        beforeClose()
        close(fd)
    }

    /// Closes at once, without waiting for anything: shuts down our side,
    /// discards what input has already arrived (to avoid an RST that would
    /// eat our last bytes) and closes.
    func closeNow() {
        shutdown(fd, Int32(SHUT_WR))
        var scratch: [UInt8] = []
        for _ in 0 ..< 4 {
            scratch.removeAll(keepingCapacity: true)
            guard case .bytes = receive(into: &scratch, maxBytes: 16384) else { break }
        }
        close(fd)
    }

    /// The peer's address as text, for logs.
    var peerDescription: String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard status == 0, let address = HTTPAddress(storage: storage) else { return "unknown" }
        return address.description
    }
}
