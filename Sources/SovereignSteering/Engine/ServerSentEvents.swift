/// Reads a `text/event-stream` body as it arrives: `data:` lines gathered
/// into events, comments (`:` keep-alive pings) skipped, every line and
/// event bounded so an engine cannot make us hold an endless line.
struct ServerSentEvents {
    enum Event: Equatable {
        /// The event's data lines joined with "\n".
        case data([UInt8])
        /// An `event: error` event, or a bare `error:` line (llama-server's form).
        case error([UInt8])
    }

    struct Malformed: Error { let reason: String }

    static let maxLineBytes = 256 * 1024

    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var isError = false

    /// The events completed by `bytes`, in order.
    mutating func feed(_ bytes: [UInt8]) throws(Malformed) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            guard byte == 10 else {
                line.append(byte)
                guard line.count <= Self.maxLineBytes else { throw Malformed(reason: "an event line is longer than \(Self.maxLineBytes) bytes") }
                continue
            }
            if line.last == 13 { line.removeLast() }
            defer { line.removeAll(keepingCapacity: true) }
            if line.isEmpty {
                if hasData { events.append(isError ? .error(data) : .data(data)) }
                (data, hasData, isError) = ([], false, false)
                continue
            }
            if line.first == UInt8(ascii: ":") { continue }
            let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
            let field = line[..<colon]
            var value = colon < line.endIndex ? line[(colon + 1)...] : []
            if value.first == 32 { value = value.dropFirst() }
            if field.elementsEqual("data".utf8) || field.elementsEqual("error".utf8) {
                if hasData { data.append(10) }
                data += value
                hasData = true
                guard data.count <= Self.maxLineBytes else { throw Malformed(reason: "an event is larger than \(Self.maxLineBytes) bytes") }
                if field.elementsEqual("error".utf8) { isError = true }
            } else if field.elementsEqual("event".utf8), value.elementsEqual("error".utf8) {
                isError = true
            }
        }
        return events
    }

    /// Whether the body ended inside an unfinished line or event.
    var hasPartialEvent: Bool { !line.isEmpty || hasData }
}
