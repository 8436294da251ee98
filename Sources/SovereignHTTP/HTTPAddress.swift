#if canImport(Glibc)
import Glibc
#endif

/// A numeric IP address and port to listen on. Only numeric hosts (and the
/// name `localhost`) are accepted: resolving names would make the bound
/// interface depend on /etc/hosts and DNS at start-up.
public struct HTTPAddress: Sendable, Equatable, CustomStringConvertible {
    public enum Host: Sendable, Equatable {
        /// Four octets, most significant first.
        case ipv4(UInt8, UInt8, UInt8, UInt8)
        /// Sixteen octets in network order.
        case ipv6([UInt8])
    }

    public var host: Host
    public var port: UInt16

    public init(host: Host, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Reads `"127.0.0.1:8080"`, `"[::1]:8080"`, `"0.0.0.0:0"` or
    /// `"localhost:8080"` (which means 127.0.0.1).
    public static func parse(_ text: String) throws(HTTPAddressError) -> HTTPAddress {
        let bytes = Array(text.utf8)
        func fail(_ reason: String) -> HTTPAddressError { HTTPAddressError(text: text, reason: reason) }
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")) else {
            throw fail("expected host:port")
        }
        let portBytes = bytes[(colon + 1)...]
        guard !portBytes.isEmpty, portBytes.count <= 5,
              portBytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw fail("the port must be a decimal number")
        }
        let portValue = portBytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard portValue <= 65535 else { throw fail("the port must be at most 65535") }
        var hostBytes = Array(bytes[..<colon])
        if hostBytes.first == UInt8(ascii: "[") {
            guard hostBytes.count >= 2, hostBytes.last == UInt8(ascii: "]") else { throw fail("unclosed '['") }
            hostBytes = Array(hostBytes[1 ..< hostBytes.count - 1])
            guard let octets = parseIPv6(hostBytes) else { throw fail("not an IPv6 address") }
            return HTTPAddress(host: .ipv6(octets), port: UInt16(portValue))
        }
        if hostBytes.elementsEqual("localhost".utf8) {
            return HTTPAddress(host: .ipv4(127, 0, 0, 1), port: UInt16(portValue))
        }
        guard let o = parseIPv4(hostBytes) else {
            throw fail("the host must be a numeric IPv4 address, [IPv6] or localhost")
        }
        return HTTPAddress(host: .ipv4(o[0], o[1], o[2], o[3]), port: UInt16(portValue))
    }

    /// Strict dotted quad: four decimal octets, no leading zeros (which some
    /// parsers read as octal), nothing else.
    static func parseIPv4(_ bytes: [UInt8]) -> [UInt8]? {
        var octets: [UInt8] = []
        for part in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3,
                  part.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  part.count == 1 || part.first != UInt8(ascii: "0") else { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard value <= 255 else { return nil }
            octets.append(UInt8(value))
        }
        return octets.count == 4 ? octets : nil
    }

    static func parseIPv6(_ bytes: [UInt8]) -> [UInt8]? {
        guard !bytes.isEmpty, bytes.count <= 45,
              bytes.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else { return nil }
        var address = in6_addr()
        let status = (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { inet_pton(AF_INET6, $0.baseAddress, &address) }
        }
        guard status == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    /// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8: addresses only
    /// this machine can reach.
    public var isLoopback: Bool {
        switch host {
        case .ipv4(let a, _, _, _): return a == 127
        case .ipv6(let o):
            if o == [UInt8](repeating: 0, count: 15) + [1] { return true }
            return o.count == 16 && o[0 ..< 10].allSatisfy { $0 == 0 } && o[10] == 0xFF && o[11] == 0xFF && o[12] == 127
        }
    }

    /// `127.0.0.1:8080` or `[::1]:8080`, as `parse` reads it.
    public var description: String {
        switch host {
        case .ipv4(let a, let b, let c, let d): return "\(a).\(b).\(c).\(d):\(port)"
        case .ipv6(let octets): return "[\(Self.formatIPv6(octets))]:\(port)"
        }
    }

    static func formatIPv6(_ octets: [UInt8]) -> String {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { raw in
            for (index, byte) in octets.prefix(16).enumerated() { raw[index] = byte }
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return "::" }
        let length = text.firstIndex(of: 0) ?? text.count
        return String(decoding: text[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Builds the sockaddr for bind(2) and hands it to `body`.
    func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch host {
        case .ipv4(let a, let b, let c, let d):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { raw in
                raw[0] = a; raw[1] = b; raw[2] = c; raw[3] = d
            }
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6(let octets):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { raw in
                for (index, byte) in octets.prefix(16).enumerated() { raw[index] = byte }
            }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }

    /// Reads a sockaddr filled in by accept(2) or getsockname(2).
    init?(storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            let raw = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
            self.init(host: .ipv4(raw[0], raw[1], raw[2], raw[3]), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            self.init(host: .ipv6(withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }), port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }
}

@inline(__always)
func isHexDigit(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
}
