/// The request head, parsed: what the connection needs to read the body
/// and decide about keep-alive, plus what becomes the `HTTPRequest`.
struct HTTPRequestHead: Sendable {
    var method: [UInt8]
    var path: [UInt8]
    var query: [UInt8]?
    var minorVersion: Int
    var headers: HTTPHeaders
    var contentLength: Int
    /// The client asked to keep the connection (HTTP/1.1 default, or 1.0
    /// with `Connection: keep-alive`) and did not say `close`.
    var keepAlive: Bool
    var expectsContinue: Bool
}

/// Finds the end of a request head as bytes arrive, rejecting early what can
/// never become valid: NUL, a bare CR or LF, a request line or header
/// section over its limit. Each byte is looked at once, so a client feeding
/// one byte at a time costs linear, not quadratic, work.
struct HTTPHeadScanner {
    let limits: HTTPLimits
    /// Bytes already examined.
    private(set) var scanned = 0
    /// Start of the current line.
    private var lineStart = 0
    /// Where the request line begins (empty lines before it are skipped,
    /// RFC 9112 §2.2) and the index of its LF once seen.
    private(set) var requestLineStart = 0
    private(set) var requestLineEnd: Int?
    private var headerLines = 0

    init(limits: HTTPLimits) {
        self.limits = limits
    }

    /// Returns the length of the head (through the empty line's LF) once it
    /// is complete, nil while more bytes are needed.
    mutating func scan(_ buffer: [UInt8]) throws(HTTPProtocolError) -> Int? {
        while scanned < buffer.count {
            let index = scanned
            let byte = buffer[index]
            let previous: UInt8 = index > 0 ? buffer[index - 1] : 0
            if byte == 0 { throw .badRequest("NUL byte in request head") }
            if index > 0 && previous == 0x0D && byte != 0x0A { throw .badRequest("bare CR in request head") }
            scanned = index + 1
            if byte == 0x0A {
                guard index > 0, previous == 0x0D else { throw .badRequest("bare LF in request head") }
                let contentLength = index - 1 - lineStart
                if let requestLineEnd {
                    if contentLength == 0 {
                        if index - requestLineEnd > limits.maxHeaderBytes { throw .headersTooLarge }
                        return index + 1
                    }
                    headerLines += 1
                    if headerLines > limits.maxHeaderCount { throw .tooManyHeaders }
                } else if contentLength == 0 {
                    // An empty line before the request line: skip it, but it
                    // counts towards the request line's limit.
                    requestLineStart = index + 1
                } else {
                    requestLineEnd = index
                }
                lineStart = index + 1
                continue
            }
            if let requestLineEnd {
                if index - requestLineEnd > limits.maxHeaderBytes { throw .headersTooLarge }
            } else if byte != 0x0D, index + 1 > limits.maxRequestLineBytes {
                throw .requestLineTooLong
            }
        }
        return nil
    }
}

/// Parses a complete request head (as delimited by `HTTPHeadScanner`)
/// strictly per RFC 9112, on bytes only.
enum HTTPRequestParser {
    static let sp: UInt8 = 0x20, htab: UInt8 = 0x09, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, colon: UInt8 = 0x3A

    /// tchar of RFC 9110 §5.6.2.
    static let tokenTable: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for byte in UInt8(ascii: "0") ... UInt8(ascii: "9") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "a") ... UInt8(ascii: "z") { table[Int(byte)] = true }
        for byte in UInt8(ascii: "A") ... UInt8(ascii: "Z") { table[Int(byte)] = true }
        for byte in "!#$%&'*+-.^_`|~".utf8 { table[Int(byte)] = true }
        return table
    }()

    @inline(__always) static func isToken(_ byte: UInt8) -> Bool { tokenTable[Int(byte)] }

    /// field-vchar / SP / HTAB (obs-text allowed, as RFC 9110 §5.5 does).
    @inline(__always) static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == sp || byte == htab || (byte >= 0x21 && byte != 0x7F)
    }

    /// Parses a whole head; `buffer[..<end]` must be what the scanner found.
    /// Convenience for tests and for callers that have the bytes at once.
    static func parse(_ buffer: [UInt8], limits: HTTPLimits = HTTPLimits()) throws(HTTPProtocolError) -> (head: HTTPRequestHead, length: Int)? {
        var scanner = HTTPHeadScanner(limits: limits)
        guard let end = try scanner.scan(buffer) else { return nil }
        let head = try parseHead(buffer, requestLineStart: scanner.requestLineStart, end: end, limits: limits)
        return (head, end)
    }

    static func parseHead(_ buffer: [UInt8], requestLineStart: Int, end: Int, limits: HTTPLimits) throws(HTTPProtocolError) -> HTTPRequestHead {
        // Split into lines; the scanner guaranteed every LF follows a CR and
        // that there is no NUL or bare CR.
        var lines: [Range<Int>] = []
        var start = requestLineStart
        var index = requestLineStart
        while index < end {
            if buffer[index] == lf {
                lines.append(start ..< index - 1)
                start = index + 1
            }
            index += 1
        }
        guard let requestLine = lines.first else { throw .badRequest("missing request line") }
        var head = try parseRequestLine(buffer[requestLine])

        var fields: [(name: [UInt8], value: [UInt8])] = []
        for line in lines.dropFirst() where !line.isEmpty {
            fields.append(try parseField(buffer[line]))
        }
        head.headers = HTTPHeaders(raw: fields)
        try applySemantics(&head, fields: fields, limits: limits)
        return head
    }

    static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPProtocolError) -> HTTPRequestHead {
        guard let firstSpace = line.firstIndex(of: sp) else { throw .badRequest("malformed request line") }
        let method = line[line.startIndex ..< firstSpace]
        guard !method.isEmpty, method.allSatisfy(isToken) else { throw .badRequest("invalid method") }
        let rest = line[(firstSpace + 1)...]
        guard let secondSpace = rest.firstIndex(of: sp) else { throw .badRequest("malformed request line") }
        let target = rest[rest.startIndex ..< secondSpace]
        let version = rest[(secondSpace + 1)...]
        guard !target.isEmpty, target.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw .badRequest("invalid request target")
        }
        let minor = try parseVersion(version)
        guard target.first == UInt8(ascii: "/") else { throw .badRequest("request target must be in origin-form") }
        var path = target
        var query: ArraySlice<UInt8>?
        if let question = target.firstIndex(of: UInt8(ascii: "?")) {
            path = target[target.startIndex ..< question]
            query = target[(question + 1)...]
        }
        return HTTPRequestHead(method: Array(method), path: Array(path), query: query.map { Array($0) },
                               minorVersion: minor, headers: HTTPHeaders(raw: []), contentLength: 0,
                               keepAlive: false, expectsContinue: false)
    }

    /// `HTTP/1.0` or `HTTP/1.1`; any other well-formed `HTTP/d.d` is 505,
    /// anything else 400.
    static func parseVersion(_ version: ArraySlice<UInt8>) throws(HTTPProtocolError) -> Int {
        let bytes = Array(version)
        let isDigit = { (byte: UInt8) in byte >= 0x30 && byte <= 0x39 }
        guard bytes.count == 8, bytes[0 ..< 5].elementsEqual("HTTP/".utf8), isDigit(bytes[5]),
              bytes[6] == UInt8(ascii: "."), isDigit(bytes[7]) else {
            throw .badRequest("malformed HTTP version")
        }
        guard bytes[5] == UInt8(ascii: "1"), bytes[7] == UInt8(ascii: "0") || bytes[7] == UInt8(ascii: "1") else {
            throw .versionNotSupported
        }
        return Int(bytes[7] - 0x30)
    }

    static func parseField(_ line: ArraySlice<UInt8>) throws(HTTPProtocolError) -> (name: [UInt8], value: [UInt8]) {
        guard let first = line.first else { throw .badRequest("empty header line") }
        if first == sp || first == htab { throw .badRequest("obsolete line folding is not accepted") }
        guard let colonIndex = line.firstIndex(of: colon) else { throw .badRequest("header line without ':'") }
        let name = line[line.startIndex ..< colonIndex]
        guard !name.isEmpty, name.allSatisfy(isToken) else { throw .badRequest("invalid header field name") }
        var value = line[(colonIndex + 1)...]
        while let byte = value.first, byte == sp || byte == htab { value = value.dropFirst() }
        while let byte = value.last, byte == sp || byte == htab { value = value.dropLast() }
        guard value.allSatisfy(isFieldValueByte) else { throw .badRequest("invalid byte in header field value") }
        return (lowercasedASCII(Array(name)), Array(value))
    }

    static func equalsLowercased(_ bytes: [UInt8], _ literal: StaticString) -> Bool {
        let lowered = lowercasedASCII(bytes)
        return literal.withUTF8Buffer { lowered.elementsEqual($0) }
    }

    /// Comma-separated list elements, OWS trimmed, lowercased, empties dropped.
    static func listElements(_ value: [UInt8]) -> [[UInt8]] {
        value.split(separator: UInt8(ascii: ",")).compactMap { element -> [UInt8]? in
            var slice = element[...]
            while let byte = slice.first, byte == sp || byte == htab { slice = slice.dropFirst() }
            while let byte = slice.last, byte == sp || byte == htab { slice = slice.dropLast() }
            return slice.isEmpty ? nil : lowercasedASCII(Array(slice))
        }
    }

    /// Framing and connection semantics (RFC 9112 §6, §9; RFC 9110 §10.1.1).
    static func applySemantics(_ head: inout HTTPRequestHead, fields: [(name: [UInt8], value: [UInt8])],
                               limits: HTTPLimits) throws(HTTPProtocolError) {
        var contentLengths: [[UInt8]] = []
        var hasTransferEncoding = false
        var hostCount = 0
        var connectionTokens: [[UInt8]] = []
        var expectations: [[UInt8]] = []
        for field in fields {
            switch field.name {
            case Array("content-length".utf8): contentLengths.append(field.value)
            case Array("transfer-encoding".utf8): hasTransferEncoding = true
            case Array("host".utf8): hostCount += 1
            case Array("connection".utf8): connectionTokens += listElements(field.value)
            case Array("expect".utf8): expectations += listElements(field.value)
            default: break
            }
        }
        // Both framings at once is the classic request-smuggling vector.
        if hasTransferEncoding && !contentLengths.isEmpty {
            throw .badRequest("both Content-Length and Transfer-Encoding")
        }
        if hasTransferEncoding { throw .transferEncoding }
        if contentLengths.count > 1 { throw .badRequest("more than one Content-Length") }
        if let value = contentLengths.first {
            guard !value.isEmpty, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .badRequest("Content-Length must be digits only")
            }
            var length = 0
            for digit in value {
                length = length * 10 + Int(digit - 0x30)
                if length > limits.maxBodyBytes { throw .bodyTooLarge }
            }
            head.contentLength = length
        }
        if head.minorVersion == 1 && hostCount != 1 {
            throw .badRequest(hostCount == 0 ? "HTTP/1.1 request without Host" : "more than one Host")
        }
        if hostCount > 1 { throw .badRequest("more than one Host") }
        let close = connectionTokens.contains(Array("close".utf8))
        let keepAlive = connectionTokens.contains(Array("keep-alive".utf8))
        head.keepAlive = !close && (head.minorVersion == 1 || keepAlive)
        for expectation in expectations {
            guard expectation == Array("100-continue".utf8) else { throw .expectation }
            head.expectsContinue = head.minorVersion == 1
        }
    }
}
