import Glibc
import Testing
import SovereignFormats
@testable import SovereignHTTP

@Suite(.serialized) struct HTTPServerTests {
    @Test func keepAliveServesTwoRequestsOnOneConnection() throws {
        let server = try RunningServer()
        defer { server.stop() }
        let client = try server.client()
        client.send("POST /one?a=b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        let first = try #require(client.readResponse())
        #expect(first.status == 200 && first.text == "hello")
        #expect(first.header("x-path") == "/one" && first.header("x-query") == "a=b" && first.header("x-method") == "POST")
        #expect(first.header("content-length") == "5")
        #expect(first.header("connection") == nil)
        client.send("GET /two HTTP/1.1\r\nHost: t\r\n\r\n")
        let second = try #require(client.readResponse())
        #expect(second.status == 200 && second.header("x-path") == "/two" && second.body.isEmpty)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try RunningServer()
        defer { server.stop() }
        let client = try server.client()
        client.send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: t\r\n\r\n"
                  + "POST /c HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz")
        let a = try #require(client.readResponse())
        let b = try #require(client.readResponse())
        let c = try #require(client.readResponse())
        #expect(a.header("x-path") == "/a" && a.text == "abc")
        #expect(b.header("x-path") == "/b" && b.body.isEmpty)
        #expect(c.header("x-path") == "/c" && c.text == "z" && c.header("connection") == "close")
        #expect(client.isClosedByServer())
    }

    @Test func connectionCloseAndHTTP10AreHonoured() throws {
        let server = try RunningServer()
        defer { server.stop() }
        let closing = try server.client()
        closing.send("GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let response = try #require(closing.readResponse())
        #expect(response.status == 200 && response.header("connection") == "close")
        #expect(closing.isClosedByServer())

        let old = try server.client()
        old.send("GET /old HTTP/1.0\r\n\r\n")
        let oldResponse = try #require(old.readResponse())
        #expect(oldResponse.status == 200 && oldResponse.header("connection") == "close")
        #expect(old.isClosedByServer())

        let oldKeep = try server.client()
        oldKeep.send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try #require(oldKeep.readResponse()).header("connection") == "keep-alive")
        oldKeep.send("GET /k2 HTTP/1.0\r\n\r\n")
        #expect(try #require(oldKeep.readResponse()).header("x-path") == "/k2")
        #expect(oldKeep.isClosedByServer())
    }

    @Test func expectContinueGetsInterimResponseBeforeTheBody() throws {
        let server = try RunningServer()
        defer { server.stop() }
        let client = try server.client()
        client.send("POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let interim = try #require(client.readResponse())
        #expect(interim.status == 100)
        client.send("data")
        let final = try #require(client.readResponse())
        #expect(final.status == 200 && final.text == "data")
    }

    @Test func streamsChunkedAndKeepsTheConnection() throws {
        let server = try RunningServer { request, exchange in
            guard request.path == "/stream" else { return RunningServer.echo(request, exchange) }
            guard exchange.beginStream(status: 200, headers: [("content-type", "text/event-stream")]) else { return }
            for index in 0 ..< 3 {
                _ = exchange.send(Array("data: \(index)\n\n".utf8))
                _ = exchange.send([])  // must not end the stream
            }
            exchange.endStream()
        }
        defer { server.stop() }
        let client = try server.client()
        client.send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        let streamed = try #require(client.readResponse())
        #expect(streamed.status == 200 && streamed.wasChunked)
        #expect(streamed.header("content-type") == "text/event-stream")
        #expect(streamed.header("content-length") == nil)
        #expect(streamed.chunkSizes == [9, 9, 9])
        #expect(streamed.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n")
        client.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(client.readResponse()).header("x-path") == "/after")

        // HTTP/1.0 cannot take chunks: the stream runs to the close.
        let old = try server.client()
        old.send("GET /stream HTTP/1.0\r\n\r\n")
        let raw = try #require(old.readResponse())
        #expect(!raw.wasChunked && raw.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n")
    }

    @Test func handlerThatNeverRespondsGets500AndAStreamLeftOpenIsEnded() throws {
        let server = try RunningServer { request, exchange in
            if request.path == "/open-stream" {
                _ = exchange.beginStream(status: 200, headers: [])
                _ = exchange.send(Array("partial".utf8))
            }
        }
        defer { server.stop() }
        let client = try server.client()
        client.send("GET /silent HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.status == 500)
        let json = try JSONParser.parse(response.body, source: "response")
        #expect(json["error"]?["code"] == .string("internal_error"))
        #expect(json["error"]?["type"] == .string("server_error"))
        client.send("GET /open-stream HTTP/1.1\r\nHost: t\r\n\r\n")
        let stream = try #require(client.readResponse())
        #expect(stream.status == 200 && stream.text == "partial")
        client.send("GET /silent HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(client.readResponse()).status == 500)
    }

    @Test func respondTwiceSendsOnlyTheFirstAndHeadHasNoBody() throws {
        let server = try RunningServer { request, exchange in
            exchange.respond(HTTPResponse(status: 201, headers: [("x-first", "1")], body: Array("first".utf8)))
            exchange.respond(HTTPResponse(status: 202, body: Array("second".utf8)))
            #expect(!exchange.beginStream(status: 200, headers: []))
        }
        defer { server.stop() }
        let client = try server.client()
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\nHEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let first = try #require(client.readResponse())
        #expect(first.status == 201 && first.text == "first" && first.header("x-first") == "1")
        // HEAD: the length is announced, no body follows, then the close.
        let rest = String(decoding: try #require(client.readToEnd()), as: UTF8.self)
        #expect(rest == "HTTP/1.1 201 Created\r\nx-first: 1\r\ncontent-length: 5\r\nconnection: close\r\n\r\n")
    }

    @Test func anExchangeKeptPastItsHandlerNeverTouchesTheSocket() throws {
        let kept = Shared<HTTPExchange?>(nil)
        let server = try RunningServer { request, exchange in
            if request.path == "/keep" { kept.update { $0 = exchange }; return }
            RunningServer.echo(request, exchange)
        }
        defer { server.stop() }
        let client = try server.client()
        client.send("GET /keep HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(client.readResponse()).status == 500)
        let exchange = try #require(kept.value)
        #expect(!exchange.beginStream(status: 200, headers: []))
        #expect(!exchange.send(Array("late".utf8)))
        exchange.respond(HTTPResponse(status: 200, body: Array("late".utf8)))
        #expect(exchange.clientHasGone)
        client.send("GET /next HTTP/1.1\r\nHost: t\r\n\r\n")
        let next = try #require(client.readResponse())
        #expect(next.header("x-path") == "/next" && next.body.isEmpty)
    }

    @Test func idleKeepAliveConnectionIsClosedAfterTheIdleTimeout() throws {
        let server = try RunningServer(limits: HTTPLimits(keepAliveIdle: .milliseconds(300)))
        defer { server.stop() }
        let client = try server.client()
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(client.readResponse()).status == 200)
        let start = monotonicMilliseconds()
        #expect(client.isClosedByServer(timeout: 3))
        #expect(monotonicMilliseconds() - start < 2_000)
    }

    @Test func maxRequestsPerConnectionClosesTheConnection() throws {
        let server = try RunningServer(limits: HTTPLimits(maxRequestsPerConnection: 2))
        defer { server.stop() }
        let client = try server.client()
        client.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(client.readResponse()).header("connection") == nil)
        client.send("GET /2 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(client.readResponse()).header("connection") == "close")
        #expect(client.isClosedByServer())
    }

    @Test func requestStopLetsTheInFlightRequestFinish() throws {
        let inHandler = Shared(false)
        let server = try RunningServer { request, exchange in
            inHandler.update { $0 = true }
            usleep(500_000)
            exchange.respond(HTTPResponse(status: 200, body: Array("done".utf8)))
        }
        let idle = try server.client()
        idle.send("GET /idle HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try #require(idle.readResponse()).text == "done")
        inHandler.update { $0 = false }

        let busy = try server.client()
        busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(waitUntil(timeout: 5) { inHandler.value })
        server.server.requestStop()
        // The idle keep-alive connection is closed at once.
        #expect(idle.isClosedByServer(timeout: 2))
        let response = try #require(busy.readResponse())
        #expect(response.status == 200 && response.text == "done" && response.header("connection") == "close")
        #expect(busy.isClosedByServer())
        #expect(waitUntil(timeout: 5) { server.hasFinished })
        // No longer accepting.
        #expect(throws: TestClientError.self) { try server.client() }
    }

    @Test func drainTimeoutCutsAHandlerThatNeverFinishes() throws {
        let release = Shared(false)
        let server = try RunningServer(limits: HTTPLimits(drainTimeout: .milliseconds(300))) { _, exchange in
            _ = exchange.beginStream(status: 200, headers: [])
            while !release.value && exchange.send(Array("tick".utf8)) { usleep(20_000) }
        }
        let client = try server.client()
        client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(100_000)
        let start = monotonicMilliseconds()
        #expect(server.stop(timeout: 5))
        #expect(monotonicMilliseconds() - start < 3_000)
        release.update { $0 = true }
    }
}
