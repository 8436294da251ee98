import Glibc
import Testing
import SovereignFormats
import SovereignTestSupport
@testable import SovereignHTTP

/// Short timeouts so hostile clients are dealt with in test time.
private let shortLimits = HTTPLimits(maxConnections: 8, headerTimeout: .milliseconds(1200), bodyTimeout: .milliseconds(1200),
                                     keepAliveIdle: .milliseconds(500), writeTimeout: .milliseconds(800),
                                     drainTimeout: .seconds(2))

private func errorCode(_ response: WireResponse) -> String? {
    (try? JSONParser.parse(response.body, source: "response"))?["error"]?["code"]?.stringValue
}

@Suite(.serialized) struct HTTPHostileTests {
    @Test func hugeBodyIs413WithoutReadingIt() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        let client = try server.client()
        // Only the head is sent: the answer must not wait for 100 MB.
        client.send("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n")
        client.send([UInt8](repeating: 0x61, count: 4096))
        let response = try #require(client.readResponse(timeout: 3))
        #expect(response.status == 413 && response.header("connection") == "close")
        #expect(errorCode(response) == "request_too_large")
        #expect(client.readToEnd(timeout: 3) != nil)
        #expect(server.isHealthy())
    }

    @Test func headerFloodIs431() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        let many = try server.client()
        many.send("GET / HTTP/1.1\r\nHost: t\r\n" + (0 ..< 500).map { "X-Flood-\($0): \($0)\r\n" }.joined() + "\r\n")
        let response = try #require(many.readResponse())
        #expect(response.status == 431 && errorCode(response) == "headers_too_large")
        let huge = try server.client()
        huge.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "b", count: 100_000))
        #expect(try #require(huge.readResponse()).status == 431)
        #expect(server.isHealthy())
    }

    @Test func longRequestLineIs414() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        let client = try server.client()
        client.send("GET /" + String(repeating: "a", count: 10_000) + " HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.status == 414 && errorCode(response) == "uri_too_long")
        #expect(server.isHealthy())
    }

    @Test func otherProtocolErrorsAreAnsweredAndClosed() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        for (request, status) in [("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
                                  ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
                                  ("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
                                  ("GET / HTTP/1.1\nHost: t\n\n", 400)] {
            let client = try server.client()
            client.send(request)
            let response = try #require(client.readResponse())
            #expect(response.status == status && response.header("connection") == "close")
            #expect(client.isClosedByServer())
        }
        #expect(server.isHealthy())
    }

    @Test func slowHeaderClientGets408() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        let client = try server.client()
        let start = monotonicMilliseconds()
        var response: WireResponse?
        // One byte every 200 ms: the server must give up at ~1.2 s on the
        // whole head, whatever the trickle.
        for byte in Array("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 100) {
            if !client.send([byte]) { break }
            var poller = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 200) > 0 { response = client.readResponse(timeout: 1); break }
        }
        let elapsed = monotonicMilliseconds() - start
        let answer = try #require(response)
        #expect(answer.status == 408 && errorCode(answer) == "request_timeout")
        #expect(elapsed >= 1_100 && elapsed < 3_000)

        // A connection that sends nothing at all is timed out the same way,
        // and one that stalls inside its body too.
        let silent = try server.client()
        #expect(try #require(silent.readResponse(timeout: 3)).status == 408)
        let stalled = try server.client()
        stalled.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        #expect(try #require(stalled.readResponse(timeout: 3)).status == 408)
        #expect(server.isHealthy())
    }

    @Test func randomBytesAreRefusedOrClosed() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        var random = SeededBytes(seed: 0x5EED_0001)
        for _ in 0 ..< 20 {
            let client = try server.client()
            client.send(random.bytes(Int(random.next() % 8192) + 1))
            client.shutdownWrite()
            let rest = try #require(client.readToEnd(timeout: 3), "the server neither answered nor closed")
            if !rest.isEmpty {
                #expect(String(decoding: rest.prefix(13), as: UTF8.self).hasPrefix("HTTP/1.1 4"))
            }
        }
        #expect(server.isHealthy())
    }

    @Test func halfClosedPartialRequestIsAnsweredAndClosed() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        let client = try server.client()
        client.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Le")
        client.shutdownWrite()
        let start = monotonicMilliseconds()
        let response = try #require(client.readResponse(timeout: 3))
        #expect(response.status == 400)
        #expect(client.isClosedByServer(timeout: 3))
        #expect(monotonicMilliseconds() - start < 1_000)

        // Half-closed inside the body: the same.
        let body = try server.client()
        body.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        body.shutdownWrite()
        #expect(try #require(body.readResponse(timeout: 3)).status == 400)
        // Half-closed after a complete request: it is still answered.
        let complete = try server.client()
        complete.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        complete.shutdownWrite()
        #expect(try #require(complete.readResponse(timeout: 3)).text == "hi")
        #expect(complete.isClosedByServer(timeout: 3))
        #expect(server.isHealthy())
    }

    @Test func clientClosingMidStreamIsNoticed() throws {
        struct Outcome: Sendable { var sendFailedAfter: Int64?; var goneSeen = false; var chunks = 0 }
        let outcome = Shared(Outcome())
        let server = try RunningServer(limits: shortLimits) { request, exchange in
            guard request.path == "/stream" else { return RunningServer.echo(request, exchange) }
            _ = exchange.beginStream(status: 200, headers: [])
            var closedAt: Int64?
            for _ in 0 ..< 500 {
                if exchange.clientHasGone, closedAt == nil {
                    closedAt = monotonicMilliseconds()
                    outcome.update { $0.goneSeen = true }
                }
                if !exchange.send(Array("data: token\n\n".utf8)) {
                    let failedAt = monotonicMilliseconds()
                    outcome.update { $0.sendFailedAfter = failedAt - (closedAt ?? failedAt) }
                    break
                }
                outcome.update { $0.chunks += 1 }
                usleep(10_000)
            }
            #expect(exchange.clientHasGone)
        }
        defer { server.stop() }
        let client = try server.client()
        client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        var poller = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&poller, 1, 3000) == 1)
        client.abort()
        #expect(waitUntil(timeout: 3) { outcome.value.sendFailedAfter != nil })
        let result = outcome.value
        #expect(result.goneSeen)
        #expect((result.sendFailedAfter ?? .max) < 500)
        #expect(result.chunks < 400)
        #expect(server.isHealthy())
    }

    @Test func clientThatStopsReadingTimesOutTheWrite() throws {
        let result = Shared<(failed: Bool, elapsed: Int64, bytes: Int)?>(nil)
        let server = try RunningServer(limits: shortLimits) { request, exchange in
            guard request.path == "/flood" else { return RunningServer.echo(request, exchange) }
            _ = exchange.beginStream(status: 200, headers: [])
            let chunk = [UInt8](repeating: 0x78, count: 64 * 1024)
            var sent = 0
            let start = monotonicMilliseconds()
            // Bounded: at most 1 GiB even if the write timeout never fired.
            while sent < 1 << 30 {
                guard exchange.send(chunk) else {
                    result.update { $0 = (true, monotonicMilliseconds() - start, sent) }
                    return
                }
                sent += chunk.count
            }
            result.update { $0 = (false, monotonicMilliseconds() - start, sent) }
        }
        defer { server.stop() }
        let client = try server.client(receiveBufferBytes: 4096)
        client.send("GET /flood HTTP/1.1\r\nHost: t\r\n\r\n")
        // Never read.
        #expect(waitUntil(timeout: 10) { result.value != nil })
        let outcome = try #require(result.value)
        #expect(outcome.failed)
        #expect(outcome.elapsed < 5_000)
        #expect(server.isHealthy())
    }

    @Test func connectionsOverTheLimitGet503() throws {
        var limits = shortLimits
        limits.maxConnections = 2
        limits.keepAliveIdle = .seconds(10)
        let server = try RunningServer(limits: limits)
        defer { server.stop() }
        var held: [TestClient] = []
        for _ in 0 ..< 2 {
            let client = try server.client()
            client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try #require(client.readResponse()).status == 200)
            held.append(client)
        }
        #expect(server.server.activeConnections == 2)
        for _ in 0 ..< 3 {
            let extra = try server.client()
            let response = try #require(extra.readResponse())
            #expect(response.status == 503 && response.header("retry-after") == "1")
            #expect(errorCode(response) == "server_busy")
            #expect(extra.isClosedByServer())
        }
        // The held connections still work, and freeing one admits a new one.
        held[0].send("GET /still HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(held[0].readResponse()).header("x-path") == "/still")
        held.removeLast()
        #expect(waitUntil(timeout: 3) { server.server.activeConnections == 1 })
        #expect(server.isHealthy())
    }

    @Test func thousandMutatedRequestsNeverHangOrCrash() throws {
        let server = try RunningServer(limits: shortLimits)
        defer { server.stop() }
        let templates = [
            "POST /v1/chat/completions?stream=true HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"model\":\"tiny\"}",
            "GET /v1/models HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        ].map { Array($0.utf8) }
        let interesting: [UInt8] = [0, 9, 10, 13, 32, 58, 0x7F, 0xFF, 0x30, 0x2C]
        var random = SeededBytes(seed: 0xC0FFEE)
        var answered = 0, closed = 0
        for iteration in 0 ..< 1000 {
            var bytes = templates[Int(random.next() % UInt64(templates.count))]
            for _ in 0 ..< Int(random.next() % 4) + 1 {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 6 {
                case 0: bytes[position] = interesting[Int(random.next() % UInt64(interesting.count))]
                case 1: bytes[position] = UInt8(truncatingIfNeeded: random.next())
                case 2: bytes.insert(interesting[Int(random.next() % UInt64(interesting.count))], at: position)
                case 3: bytes.removeSubrange(position...)
                case 4: bytes.insert(contentsOf: bytes[position...].prefix(40), at: position)
                default: bytes.remove(at: position)
                }
                if bytes.isEmpty { bytes = [0x47] }
            }
            let client = try server.client()
            client.send(bytes)
            client.shutdownWrite()
            let rest = try #require(client.readToEnd(timeout: 3), "iteration \(iteration): no answer and no close")
            if rest.isEmpty {
                closed += 1
            } else {
                let statusLine = String(decoding: rest.prefix(12), as: UTF8.self)
                #expect(statusLine.hasPrefix("HTTP/1.1 "), "iteration \(iteration)")
                answered += 1
            }
        }
        #expect(answered + closed == 1000)
        #expect(answered > 500)
        #expect(server.isHealthy())
        #expect(waitUntil(timeout: 3) { server.server.activeConnections == 0 })
    }
}
