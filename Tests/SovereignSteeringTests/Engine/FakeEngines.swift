import Glibc
import Synchronization
import SovereignSystem
import SovereignFormats
import SovereignHTTP
import SovereignTestSupport

/// An OpenAI-compatible engine the test scripts, on 127.0.0.1: `/v1/models`
/// lists one model, each chat completion is answered as `script` says for
/// that request's number. It records every request body and how far each
/// stream got before the client went away.
final class FakeEngine: Sendable {
    enum Step: Sendable {
        /// A content delta (one chunk).
        case piece(String)
        /// The closing chunk with this finish reason, then the usage chunk and [DONE].
        case finish(String)
        /// Bytes sent as they are (broken events, comments, error events).
        case raw(String)
        case pause(Double)
    }
    enum Reply: Sendable {
        case status(Int, String)
        case stream([Step])
    }

    /// What the engine saw, shared with its handler thread.
    private final class Record: Sendable {
        let requests = Mutex<[JSONValue]>([])
        /// Per streamed request, by number: pieces sent before the client was gone (nil: all of them).
        let cutAt = Mutex<[Int: Int?]>([:])
        let done = Mutex(false)
    }

    let server: HTTPServer
    let url: String
    private let record = Record()

    init(model: String = "fake-model", ownedBy: String = "llamacpp",
         script: @escaping @Sendable (Int, JSONValue) -> Reply) throws {
        let record = self.record
        server = try HTTPServer(address: HTTPAddress.parse("127.0.0.1:0")) { request, exchange in
            if request.path == "/v1/models" {
                return exchange.respond(.json(200, .object(["object": .string("list"), "data": .array([
                    .object(["id": .string(model), "object": .string("model"), "owned_by": .string(ownedBy)]),
                ])])))
            }
            guard request.path == "/v1/chat/completions", let body = try? JSONParser.parse(request.body, source: "body") else {
                return exchange.respond(.json(404, .object(["error": .object(["message": .string("no such route")])])))
            }
            let number = record.requests.withLock { $0.append(body); return $0.count - 1 }
            switch script(number, body) {
            case .status(let status, let message):
                exchange.respond(.json(status, .object(["error": .object(["message": .string(message), "type": .string("server_error")])])))
            case .stream(let steps):
                guard exchange.beginStream(status: 200, headers: [("content-type", "text/event-stream")]) else { return }
                var pieces = 0
                for step in steps {
                    var bytes: [UInt8] = []
                    switch step {
                    case .piece(let text):
                        bytes = FakeEngine.event(["content": .string(text)], finish: nil, model: model)
                        pieces += 1
                    case .finish(let reason):
                        bytes = FakeEngine.event([:], finish: reason, model: model)
                            + Array(#"data: {"choices":[],"usage":{"prompt_tokens":17,"completion_tokens":\#(pieces)}}"#.utf8) + [10, 10]
                            + Array("data: [DONE]\n\n".utf8)
                    case .raw(let text): bytes = Array(text.utf8)
                    case .pause(let seconds): usleep(UInt32(seconds * 1_000_000))
                    }
                    if exchange.clientHasGone || !exchange.send(bytes) {
                        record.cutAt.withLock { $0[number] = .some(pieces) }
                        return
                    }
                }
                record.cutAt.withLock { $0[number] = .some(nil) }
                exchange.endStream()
            }
        }
        url = "http://\(server.boundAddress)/v1"
        let server = self.server
        guard spawnDetachedThread({ server.run(); record.done.withLock { $0 = true } }) else {
            throw TestSetupError(description: "cannot start the fake engine")
        }
    }

    static func event(_ delta: [String: JSONValue], finish: String?, model: String) -> [UInt8] {
        let chunk: JSONValue = .object([
            "id": .string("chatcmpl-fake"), "object": .string("chat.completion.chunk"), "created": .integer(0),
            "model": .string(model), "system_fingerprint": .string("fake-1"),
            "choices": .array([.object(["index": .integer(0), "delta": .object(delta),
                                        "finish_reason": finish.map(JSONValue.string) ?? .null])]),
        ])
        return Array("data: ".utf8) + CanonicalJSON.serialize(chunk) + [10, 10]
    }

    var bodies: [JSONValue] { record.requests.withLock { $0 } }
    /// How far request `number`'s stream got: nil while it runs, .some(nil) when it was sent whole.
    func cut(_ number: Int, waiting seconds: Double = 5) -> Int?? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let cut = record.cutAt.withLock({ $0[number] }) { return cut }
            usleep(10_000)
        }
        return nil
    }

    func stop() {
        server.requestStop()
        let deadline = ContinuousClock.now + .seconds(10)
        while !record.done.withLock({ $0 }), ContinuousClock.now < deadline { usleep(10_000) }
    }
}

/// A server on 127.0.0.1 that answers every connection with the same raw
/// bytes (after reading the request), then closes: for responses no
/// well-behaved HTTP server would send.
final class RawEngine: Sendable {
    let url: String
    private let fd: Int32
    /// Set when the accept loop has ended: only then may the descriptor be
    /// closed (a reused number would hand another test's connections to it).
    private final class Flag: Sendable { let value = Mutex(false) }
    private let exited = Flag()

    init(response: String, holdOpen: Double = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw TestSetupError(description: "cannot listen: errno \(errno)") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        url = "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/v1"
        let listener = fd
        let exited = self.exited
        let bytes = Array(response.utf8)
        let models = #"{"object":"list","data":[{"id":"raw-model","object":"model","owned_by":"llamacpp"}]}"#
        let listing = Array("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(models.utf8.count)\r\n\r\n\(models)".utf8)
        guard spawnDetachedThread({
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return exited.value.withLock { $0 = true } }
                var buffer = [UInt8](repeating: 0, count: 65536)
                let count = recv(client, &buffer, buffer.count, 0)
                let reply = count >= 4 && buffer[0 ..< 4].elementsEqual("GET ".utf8) ? listing : bytes
                _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if holdOpen > 0 { usleep(UInt32(holdOpen * 1_000_000)) }
                close(client)
            }
        }) else { throw TestSetupError(description: "cannot start the raw engine") }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        let deadline = ContinuousClock.now + .seconds(5)
        while !exited.value.withLock({ $0 }), ContinuousClock.now < deadline { usleep(5_000) }
        close(fd)
    }
}
