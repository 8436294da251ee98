public import SovereignSystem

/// Where a remote engine listens: `http://HOST:PORT[/PATH]`, read bytewise.
/// The host is numeric or `localhost`, as for `HTTPAddress`: resolving a
/// name would make which machine answers depend on DNS. `https` is refused
/// with a reason (no TLS library is linked; put the engine on the
/// appliance's own network or behind a local TLS terminator).
public struct HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let address: HTTPAddress
    /// The path prefix the API lives under, without a trailing slash ("" or "/v1").
    public let basePath: String
    /// As given, for logs and errors (never holds credentials: userinfo is refused).
    public let url: String

    public static func parse(_ text: String) throws(HTTPEndpointError) -> HTTPEndpoint {
        let bytes = Array(text.utf8)
        func fail(_ reason: String) -> HTTPEndpointError { HTTPEndpointError(text: text, reason: reason) }
        guard bytes.count <= 2048 else { throw fail("is longer than 2048 bytes") }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw fail("holds spaces, control or non-ASCII bytes") }
        let http = Array("http://".utf8)
        if bytes.starts(with: Array("https://".utf8)) {
            throw fail("https is not supported (no TLS library is linked); use http:// on the appliance's own network or a local TLS terminator")
        }
        guard bytes.starts(with: http) else { throw fail("must start with http://") }
        let rest = bytes.dropFirst(http.count)
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        let authority = Array(rest[..<slash])
        guard !authority.contains(UInt8(ascii: "@")) else { throw fail("must not carry credentials (use --engine-token-file)") }
        var path = Array(rest[slash...])
        guard !path.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: "%") }) else {
            throw fail("the path must not hold a query, a fragment or escapes")
        }
        while path.last == UInt8(ascii: "/") { path.removeLast() }
        guard !path.split(separator: UInt8(ascii: "/")).contains(where: { $0.elementsEqual("..".utf8) || $0.elementsEqual(".".utf8) }) else {
            throw fail("the path must not hold '.' or '..' segments")
        }
        let address: HTTPAddress
        do { address = try HTTPAddress.parse(String(decoding: authority, as: UTF8.self)) } catch {
            throw fail("host:port: \(error.reason)")
        }
        guard address.port != 0 else { throw fail("the port must not be 0") }
        return HTTPEndpoint(address: address, basePath: String(decoding: path, as: UTF8.self), url: text)
    }

    public var description: String { url }
}

public struct HTTPEndpointError: Error, Sendable, Equatable, SovereignError {
    public let text: String
    public let reason: String
    public var thing: String { text }
}
