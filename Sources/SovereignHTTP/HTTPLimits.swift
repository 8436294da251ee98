/// Every bound the server enforces on a client. A connection can make the
/// server allocate, wait or hold a thread only within these, so a hostile or
/// broken client costs a known, small amount and never takes the server down.
public struct HTTPLimits: Sendable {
    /// Connections served at once (one thread each); one more gets a 503.
    public var maxConnections: Int
    /// Bytes of the request line, without its CRLF (longer: 414).
    public var maxRequestLineBytes: Int
    /// Bytes of the whole header section, CRLFs included (more: 431).
    public var maxHeaderBytes: Int
    /// Header fields in one request (more: 431).
    public var maxHeaderCount: Int
    /// Bytes of one request body (a larger Content-Length: 413, body unread).
    public var maxBodyBytes: Int
    /// Time for the whole request head, from its first byte (or from accept
    /// for a connection's first request): slow-loris clients get a 408.
    public var headerTimeout: Duration
    /// Time for the whole request body once its head is in.
    public var bodyTimeout: Duration
    /// How long an idle keep-alive connection is held between requests.
    public var keepAliveIdle: Duration
    /// How long one write may wait for a client that stopped reading.
    public var writeTimeout: Duration
    /// Requests served on one connection before it is closed, so no single
    /// client keeps a thread forever.
    public var maxRequestsPerConnection: Int
    /// How long `run()` waits for in-flight requests after a stop request
    /// before cutting their sockets.
    public var drainTimeout: Duration

    public init(maxConnections: Int = 64,
                maxRequestLineBytes: Int = 8 * 1024,
                maxHeaderBytes: Int = 16 * 1024,
                maxHeaderCount: Int = 64,
                maxBodyBytes: Int = 1024 * 1024,
                headerTimeout: Duration = .seconds(10),
                bodyTimeout: Duration = .seconds(30),
                keepAliveIdle: Duration = .seconds(5),
                writeTimeout: Duration = .seconds(30),
                maxRequestsPerConnection: Int = 1000,
                drainTimeout: Duration = .seconds(60)) {
        self.maxConnections = max(1, maxConnections)
        self.maxRequestLineBytes = max(16, maxRequestLineBytes)
        self.maxHeaderBytes = max(2, maxHeaderBytes)
        self.maxHeaderCount = max(0, maxHeaderCount)
        self.maxBodyBytes = max(0, maxBodyBytes)
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.keepAliveIdle = keepAliveIdle
        self.writeTimeout = writeTimeout
        self.maxRequestsPerConnection = max(1, maxRequestsPerConnection)
        self.drainTimeout = drainTimeout
    }
}

extension Duration {
    /// Whole milliseconds, never negative (poll(2) takes milliseconds).
    var milliseconds: Int64 {
        let parts = components
        let ms = parts.seconds &* 1000 &+ parts.attoseconds / 1_000_000_000_000_000
        return max(0, ms)
    }
}
