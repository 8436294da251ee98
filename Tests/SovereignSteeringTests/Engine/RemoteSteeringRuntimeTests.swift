import Testing
import SovereignTestSupport
import SovereignFormats
import SovereignHTTP
import SovereignPolicy
@testable import SovereignSteering

/// The control loop in front of remote OpenAI-compatible engines, against
/// engines the test controls: answers streamed and judged piece by piece,
/// a violation closing the stream at once and restarting with the blip and
/// a logit bias, failover, and every way an engine can misbehave ending in
/// one clear error, in bounded time.
@Suite struct RemoteSteeringRuntimeTests {
    static let zebra = #"{"id": "no-zebra", "kind": "forbid", "derivedFrom": "geo", "severity": "error", "blip": "No zebras.", "phrases": ["zebra"]}"#

    static func runtime(_ urls: [String], rules: String = zebra, timeout: Duration = .seconds(5),
                        maxAttempts: Int = 3) throws -> RemoteSteeringRuntime {
        let engines = try urls.map { url in
            OpenAIEngine(.init(endpoint: try HTTPEndpoint.parse(url),
                               limits: .init(headTimeout: timeout, idleTimeout: timeout, responseTimeout: timeout * 2)))
        }
        return try RemoteSteeringRuntime(layer: try SteeringRuntimeTests.layer(rules: rules, maxAttempts: maxAttempts),
                                         engines: EngineFailover(engines))
    }

    static func ask(_ runtime: RemoteSteeringRuntime, _ prompt: String = "What is the capital of France?", steering: Bool = true,
                    shouldStop: () -> Bool = { false }) throws(SteeringError) -> (SteeringTranscript, [String]) {
        var released: [String] = []
        let transcript = try runtime.respond(to: SteeringRequest(prompt: prompt, steering: steering), release: { piece in
            if !piece.isEmpty { released.append(piece) }
            return true
        }, shouldStop: shouldStop)
        return (transcript, released)
    }

    static func stream(_ pieces: [String], finish: String = "stop") -> FakeEngine.Reply {
        .stream(pieces.map(FakeEngine.Step.piece) + [.finish(finish)])
    }

    @Test func anAnswerIsStreamedFromTheEngineUnderTheLayerAndNamesIt() throws {
        let engine = try FakeEngine { _, _ in Self.stream(["The capital", " of France", " is Paris."]) }
        defer { engine.stop() }
        let (transcript, released) = try Self.ask(try Self.runtime([engine.url]))
        #expect(transcript.outcome == .answered && transcript.answer == "The capital of France is Paris.")
        #expect(transcript.engine == EngineIdentity(kind: .openai, url: engine.url, model: "fake-model", version: "fake-1"))
        #expect(transcript.strategy == "restart" && transcript.promptTokens == 17 && transcript.attempts[0].tokens == 3)
        // Steered answers are released whole, once no rule can take them back.
        #expect(released == ["The capital of France is Paris."])
        let body = try #require(engine.bodies.first)
        #expect(body["model"] == .string("fake-model") && body["stream"] == .bool(true) && body["max_tokens"] == .integer(48))
        #expect(body["seed"] == .integer(0) && body["logit_bias"] == nil)
        let messages = try #require(body["messages"]?.arrayValue)
        #expect(messages.count == 2 && messages[0]["role"] == .string("system") && messages[1]["content"] == .string("What is the capital of France?"))
        // The layer's system prompt: persona, then the retrieved passage with its id.
        let system = try #require(messages[0]["content"]?.stringValue)
        #expect(system.hasPrefix("You are a helpful assistant.") && system.contains("[geo] Geography: The capital of France is a city on the Seine."))
        #expect(transcript.json["engine"]?["url"] == .string(engine.url))
    }

    @Test func theBareModelGetsOnlyTheConversationAndStreamsAsItArrives() throws {
        let engine = try FakeEngine { _, _ in Self.stream(["A zebra", " is", " striped."]) }
        defer { engine.stop() }
        let (transcript, released) = try Self.ask(try Self.runtime([engine.url]), steering: false)
        #expect(transcript.outcome == .answered && transcript.answer == "A zebra is striped.")
        #expect(released == ["A zebra", " is", " striped."])
        #expect(engine.bodies.first?["messages"]?.arrayValue?.count == 1)
    }

    /// A rule broken in the first token: the stream is closed there (the
    /// engine stops sending long before its 60 pieces), and the answer is
    /// generated again with the blip after the question and the piece that
    /// began the violation discouraged.
    @Test func aViolationInTheFirstTokenClosesTheStreamAndRestartsWithTheBlip() throws {
        let engine = try FakeEngine { number, _ in
            number == 0 ? .stream([.piece("Zebra"), .piece(" herds")] + (0 ..< 60).flatMap { _ in [FakeEngine.Step.pause(0.02), .piece(" roam")] }
                                  + [.finish("stop")])
                        : Self.stream(["Horses", " graze."])
        }
        defer { engine.stop() }
        let (transcript, released) = try Self.ask(try Self.runtime([engine.url]))
        #expect(transcript.outcome == .corrected && transcript.answer == "Horses graze.")
        #expect(released == ["Horses graze."])
        let first = try #require(transcript.attempts.first)
        #expect(first.violations.map(\.ruleID) == ["no-zebra"] && first.violations[0].offset == 0 && first.blip == "No zebras.")
        #expect(first.text.hasPrefix("Zebra herds") && first.text.utf8.count < 40, "\(first.text)")
        let cut = try #require(engine.cut(0), "the first stream never ended")
        #expect(cut != nil && cut! < 20, "the engine sent \(cut.map(String.init) ?? "all") pieces: the client did not close at once")
        let retry = try #require(engine.bodies.dropFirst().first)
        let messages = try #require(retry["messages"]?.arrayValue)
        #expect(messages.last == .object(["role": .string("system"), "content": .string("No zebras.")]))
        #expect(retry["logit_bias"] == .object(["Zebra": .integer(-10)]))
        #expect(retry["seed"] == .integer(1))
    }

    @Test func anEngineWithoutTextBiasGetsNoLogitBias() throws {
        let engine = try FakeEngine(ownedBy: "vllm") { number, _ in
            number == 0 ? Self.stream(["Zebra", " herds."]) : Self.stream(["Horses."])
        }
        defer { engine.stop() }
        let (transcript, _) = try Self.ask(try Self.runtime([engine.url]))
        #expect(transcript.outcome == .corrected)
        #expect(engine.bodies.count == 2 && engine.bodies[1]["logit_bias"] == nil && engine.bodies[1]["top_k"] == nil)
    }

    @Test func aRuleBrokenOnEveryAttemptIsRefusedNamingIt() throws {
        let engine = try FakeEngine { _, _ in Self.stream(["Zebra", " again."]) }
        defer { engine.stop() }
        let (transcript, released) = try Self.ask(try Self.runtime([engine.url], maxAttempts: 2))
        #expect(transcript.outcome == .refused && transcript.finishReason == "content_filter")
        #expect(transcript.answer == "I can't help with that. (rule no-zebra, from passage geo)")
        #expect(released.isEmpty && engine.bodies.count == 2)
    }

    /// What an engine says about itself goes into every log entry: bounded
    /// and printable, whatever it sends.
    @Test func anEnginesSelfDescriptionIsBoundedAndPrintable() throws {
        let long = String(repeating: "v", count: 1000)
        let engine = try FakeEngine { _, _ in
            .stream([.raw("data: {\"model\": \"evil\\nmodel\\u0007\", \"system_fingerprint\": \"\(long)\", \"choices\": "
                          + "[{\"index\": 0, \"delta\": {\"content\": \"Paris.\"}}]}\n\n"),
                     .raw("data: {\"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"stop\"}]}\n\ndata: [DONE]\n\n")])
        }
        defer { engine.stop() }
        let (transcript, _) = try Self.ask(try Self.runtime([engine.url]))
        #expect(transcript.answer == "Paris.")
        let identity = try #require(transcript.engine)
        #expect(identity.model == "evil?model?" && identity.version == String(repeating: "v", count: 256) + "…", "\(identity)")
    }

    @Test func slowStreamsAreWaitedFor() throws {
        let engine = try FakeEngine { _, _ in
            .stream([.pause(0.4), .piece("Slow"), .pause(0.4), .raw(": ping\n\n"), .pause(0.4), .piece(" answer."), .finish("stop")])
        }
        defer { engine.stop() }
        let (transcript, _) = try Self.ask(try Self.runtime([engine.url], timeout: .seconds(2)))
        #expect(transcript.answer == "Slow answer.")
    }

    /// Each way an engine can fail, as the one engine: a clear error naming
    /// the engine and the reason, within the timeout; nothing hangs.
    @Test(arguments: [
        ("brokenJSON", "not a JSON object"),
        ("errorMidStream", "sent an error mid-stream: out of memory"),
        ("errorEvent", "sent an error mid-stream: slot crashed"),
        ("status500", "answered HTTP 500: engine exploded"),
        ("noFinish", "the stream ended without a finish reason"),
        ("silent", "no bytes for"),
        ("tooManyTokens", "sent more than the 48 tokens asked for"),
        ("notAString", "content is not a string"),
        ("trickle", "the response took longer than 2.0 seconds"),
    ])
    func aMisbehavingEngineEndsInOneClearError(_ kind: String, _ expected: String) throws {
        let engine = try FakeEngine { _, _ in
            switch kind {
            case "brokenJSON": return .stream([.piece("Fine"), .raw("data: {\"choices\": [\n\n")])
            case "errorMidStream": return .stream([.piece("Fine"), .raw(#"data: {"error": {"message": "out of memory", "code": 500}}"# + "\n\n")])
            case "errorEvent": return .stream([.piece("Fine"), .raw("event: error\ndata: {\"message\": \"slot crashed\"}\n\n")])
            case "status500": return .status(500, "engine exploded")
            case "noFinish": return .stream([.piece("Fine")])
            case "silent": return .stream([.piece("Fine"), .pause(3)])
            case "tooManyTokens": return .stream((0 ..< 60).map { _ in .piece(" more") })
            case "trickle": return .stream((0 ..< 40).flatMap { _ in [FakeEngine.Step.piece(" slow"), .pause(0.1)] })
            default: return .stream([.raw(#"data: {"choices": [{"index": 0, "delta": {"content": 7}}]}"# + "\n\n")])
            }
        }
        defer { engine.stop() }
        let clock = ContinuousClock()
        let start = clock.now
        let error = #expect(throws: SteeringError.self) { try Self.ask(try Self.runtime([engine.url], timeout: .seconds(1))) }
        #expect(error?.isEngineUnavailable == true && error?.reason.contains(expected) == true && error?.description.contains(engine.url) == true,
                "\(String(describing: error))")
        #expect(clock.now - start < .seconds(3))
    }

    /// Responses no HTTP server should send are refused by the client, by
    /// their framing, before any text reaches the rules.
    @Test(arguments: [
        ("SMTP 220 hello\r\n\r\n", "does not start with an HTTP/1.x status line"),
        ("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", "Transfer-Encoding gzip is not supported"),
        ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "a chunk size is malformed"),
        ("HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n", "is larger than"),
        ("HTTP/1.1 200 OK\r\n" + String(repeating: "x-filler: 0123456789abcdef\r\n", count: 1000), "head is larger than"),
        ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1a\r\ndata: {\"choices\": []}\n\n\r\n", "closed the connection before the end"),
        ("", "closed the connection without answering"),
    ])
    func hostileResponsesAreRefusedByTheirFraming(_ response: String, _ expected: String) throws {
        let engine = try RawEngine(response: response)
        defer { engine.stop() }
        let error = #expect(throws: SteeringError.self) { try Self.ask(try Self.runtime([engine.url], timeout: .seconds(1))) }
        #expect(error?.reason.contains(expected) == true, "\(String(describing: error))")
    }

    /// An engine that fails is set aside: the next answers, the transcript
    /// keeps why the first failed, and the next request does not try it again.
    @Test func aFailingEngineFailsOverToTheNextAndIsSetAside() throws {
        let broken = try FakeEngine { _, _ in .stream([.piece("Half"), .raw("data: {oops\n\n")]) }
        let good = try FakeEngine(model: "second-model") { _, _ in Self.stream(["Paris."]) }
        let down = try RawEngine(response: "")
        defer { broken.stop(); good.stop(); down.stop() }
        let runtime = try Self.runtime([down.url, broken.url, good.url])
        let (transcript, released) = try Self.ask(runtime)
        #expect(transcript.answer == "Paris." && released == ["Paris."])
        #expect(transcript.engine?.url == good.url && transcript.engine?.model == "second-model")
        #expect(transcript.engineFailures.count == 2, "\(transcript.engineFailures)")
        #expect(transcript.engineFailures[0].hasPrefix(down.url) && transcript.engineFailures[1].hasPrefix(broken.url))
        #expect(transcript.json["engineFailures"]?.arrayValue?.count == 2)
        let (again, _) = try Self.ask(runtime)
        #expect(again.engineFailures.isEmpty && again.engine?.url == good.url && broken.bodies.count == 1)
    }

    @Test func noEngineUpIsAnEngineErrorNamingEach() throws {
        let a = try RawEngine(response: ""), b = try RawEngine(response: "")
        defer { a.stop(); b.stop() }
        let error = #expect(throws: SteeringError.self) { try Self.ask(try Self.runtime([a.url, b.url])) }
        #expect(error?.isEngineUnavailable == true && error?.reason.contains(a.url) == true && error?.reason.contains(b.url) == true,
                "\(String(describing: error))")
    }

    @Test func aRequestTheEngineRejectsIsTheClientsErrorAndNotFailedOver() throws {
        let rejecting = try FakeEngine { _, _ in .status(400, "the prompt does not fit in the context") }
        let good = try FakeEngine { _, _ in Self.stream(["Paris."]) }
        defer { rejecting.stop(); good.stop() }
        let error = #expect(throws: SteeringError.self) { try Self.ask(try Self.runtime([rejecting.url, good.url])) }
        #expect(error?.isInvalidRequest == true && error?.reason.contains("does not fit") == true)
        #expect(good.bodies.isEmpty)
    }

    /// A caller that stops waiting (its client gone, its deadline passed)
    /// ends the request even while the engine sends nothing but pings.
    @Test func aCallerThatStopsWaitingCancelsAnEndlessStream() throws {
        let engine = try FakeEngine { _, _ in .stream((0 ..< 200).flatMap { _ in [FakeEngine.Step.raw(": ping\n\n"), .pause(0.05)] }) }
        defer { engine.stop() }
        let clock = ContinuousClock()
        let stopAt = clock.now + .milliseconds(500)
        let error = #expect(throws: SteeringError.self) {
            try Self.ask(try Self.runtime([engine.url], timeout: .seconds(60)), shouldStop: { clock.now > stopAt })
        }
        #expect(error == .cancelled)
        #expect(clock.now - stopAt < .seconds(2))
    }

    @Test func engineURLsAreReadStrictly() throws {
        for bad in ["https://127.0.0.1:8080/v1", "ftp://x", "http://user:pw@127.0.0.1:1/v1", "http://example.com:80/v1",
                    "http://127.0.0.1:8080/v1/../admin", "http://127.0.0.1:8080/v1?x=1", "http://127.0.0.1:0/v1", "http://127.0.0.1/v1"] {
            #expect(throws: HTTPEndpointError.self, "\(bad)") { try HTTPEndpoint.parse(bad) }
        }
        let parsed = try HTTPEndpoint.parse("http://[::1]:8081/v1/")
        #expect(parsed.basePath == "/v1" && parsed.address.port == 8081)
    }
}
