#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignInference
import SovereignSteering
import SovereignLog
import SovereignHTTP

/// The OpenAI-compatible API over the steering runtime: routes, the bearer
/// token, requests to slots, answers (whole or streamed under the rules),
/// the log, the metrics. Every completion goes through the constraint
/// layer and into the log before its last byte is sent.
public final class APIServer: Sendable {
    public struct Configuration: Sendable {
        /// Required as `Authorization: Bearer <token>` on every route but `/health`.
        public var token: [UInt8]?
        public var maxQueue: Int
        /// The longest a request waits for a slot before a 503.
        public var queueTimeout: Duration
        /// The longest one answer may take; then it is cancelled.
        public var requestTimeout: Duration
        /// False: the bare model answers (no persona, passages or rules),
        /// for benchmarks and ablation; every exchange is still logged, as such.
        public var steering = true

        public init(token: [UInt8]? = nil, maxQueue: Int = 64, queueTimeout: Duration = .seconds(60),
                    requestTimeout: Duration = .seconds(600)) {
            self.token = token
            self.maxQueue = maxQueue
            self.queueTimeout = queueTimeout
            self.requestTimeout = requestTimeout
        }
    }

    /// The loaded model: slots over one embedded engine, or in front of remote ones.
    private struct Loaded: @unchecked Sendable {
        let pool: SlotPool
        let engine: LlamaEngine?
        let slots: Int
        /// What generates the answers, for `/v1/models`.
        let identity: EngineIdentity
    }

    public let identity: ExchangeRecord.Identity
    public let configuration: Configuration
    private let log: AuditLog
    private let metrics = ServeMetrics()
    private let loaded = Mutex<Loaded?>(nil)
    private let clock = ContinuousClock()

    public init(identity: ExchangeRecord.Identity, log: AuditLog, configuration: Configuration) {
        self.identity = identity
        self.log = log
        self.configuration = configuration
    }

    /// Makes the API ready: one runtime per slot, all on one engine.
    /// Until then `/health` and the completion routes answer 503.
    public func load(runtimes: [SteeringRuntime]) {
        guard let first = runtimes.first else { return }
        load(responders: runtimes, engine: first.session.context.engine)
    }

    /// Makes the API ready with `responders` (one per slot); `engine` is
    /// the embedded engine they share, if any, for the metrics.
    public func load(responders: [any SteeringResponder], engine: LlamaEngine? = nil) {
        guard !responders.isEmpty else { return }
        let pool = SlotPool(runtimes: responders, maxQueue: configuration.maxQueue)
        let identity = responders[0].engineIdentity
        loaded.withLock { $0 = Loaded(pool: pool, engine: engine, slots: responders.count, identity: identity) }
    }

    public var isReady: Bool { loaded.withLock { $0 != nil } }

    // MARK: Routing

    public func handle(_ request: HTTPRequest, _ exchange: HTTPExchange) {
        let route = (request.method, request.path)
        if route.1 == "/health" {
            guard request.method == "GET" || request.method == "HEAD" else { return exchange.respond(methodNotAllowed("GET")) }
            return exchange.respond(isReady ? .json(200, .object(["status": .string("ok")]))
                                             : APIError(status: 503, message: "Loading model", type: "unavailable_error",
                                                        code: "loading").response)
        }
        guard authorized(request) else { return exchange.respond(APIError.unauthorized.response) }
        switch route.1 {
        case "/v1/models", "/models":
            guard request.method == "GET" else { return exchange.respond(methodNotAllowed("GET")) }
            exchange.respond(.json(200, models()))
        case "/metrics":
            guard request.method == "GET" else { return exchange.respond(methodNotAllowed("GET")) }
            exchange.respond(HTTPResponse(status: 200, headers: [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                                          body: Array(renderMetrics().utf8)))
        case "/v1/chat/completions", "/chat/completions":
            guard request.method == "POST" else { return exchange.respond(methodNotAllowed("POST")) }
            complete(request, exchange, endpoint: .chat)
        case "/v1/completions", "/completions":
            guard request.method == "POST" else { return exchange.respond(methodNotAllowed("POST")) }
            complete(request, exchange, endpoint: .completions)
        default:
            exchange.respond(APIError.notFound(request.method, request.path).response)
        }
    }

    /// Compares the bearer token in constant time over bytes.
    private func authorized(_ request: HTTPRequest) -> Bool {
        guard let token = configuration.token else { return true }
        guard let header = request.headers.valueBytes("authorization") else { return false }
        let prefix = Array("Bearer ".utf8)
        guard header.count == prefix.count + token.count, header.starts(with: prefix) else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(header.dropFirst(prefix.count), token) { difference |= a ^ b }
        return difference == 0
    }

    private func methodNotAllowed(_ allowed: String) -> HTTPResponse {
        var response = APIError(status: 405, message: "method not allowed (use \(allowed))", type: "invalid_request_error",
                                code: "method_not_allowed").response
        response.headers.append(("allow", allowed))
        return response
    }

    private func models() -> JSONValue {
        let engine = loaded.withLock { $0?.identity }
        return .object(["object": .string("list"), "data": .array([.object([
            "id": .string(identity.name), "object": .string("model"), "created": .integer(0), "owned_by": .string("sovereign"),
            "sovereign": .object(identity.fields.merging([
                "steering": .bool(configuration.steering), "engine": engine?.json ?? .null,
            ]) { ours, _ in ours }),
        ])])])
    }

    private func renderMetrics() -> String {
        let current = loaded.withLock { $0 }
        let load = current?.pool.load ?? (queued: 0, busy: 0)
        let statistics = current?.engine?.statistics ?? (steps: 0, rows: 0)
        return metrics.render(queued: load.queued, busySlots: load.busy, slots: current?.slots ?? 0,
                              engineSteps: statistics.steps, engineRows: statistics.rows, ready: current != nil)
    }

    // MARK: Completions

    private func complete(_ request: HTTPRequest, _ exchange: HTTPExchange, endpoint: CompletionRequest.Endpoint) {
        let start = clock.now
        let name = endpoint == .chat ? "chat" : "completions"
        metrics.started()
        defer { metrics.ended() }
        func fail(_ error: APIError, outcome: String) {
            metrics.finished(endpoint: name, outcome: outcome, seconds: nil)
            exchange.respond(error.response)
        }
        let parsed: CompletionRequest
        do { parsed = try CompletionRequest.parse(request.body, endpoint: endpoint) } catch {
            return fail(error, outcome: "invalid")
        }
        guard let current = loaded.withLock({ $0 }) else {
            return fail(APIError(status: 503, message: "Loading model", type: "unavailable_error", code: "loading"), outcome: "busy")
        }
        let slot: SlotPool.Slot
        do { slot = try current.pool.acquire(timeout: configuration.queueTimeout) } catch {
            return fail(error, outcome: "busy")
        }

        let requestID = (endpoint == .chat ? "chatcmpl-" : "cmpl-") + Hex.encode(SecureRandom.bytes(12))
        let response = CompletionResponse(endpoint: endpoint, id: requestID, created: Int64(time(nil)), model: identity.name)
        var extra: [String: JSONValue] = ["endpoint": .string("/v1/" + (endpoint == .chat ? "chat/completions" : "completions"))]
        if !parsed.model.isEmpty { extra["requestedModel"] = .string(parsed.model) }
        if let retry = request.headers["x-stainless-retry-count"] { extra["clientRetry"] = .string(retry) }

        // Streams open at the first call (after the prompt is evaluated, so
        // a prompt that does not fit still gets a plain 400).
        var stream = StreamState()
        let deadline = start + configuration.requestTimeout
        var timedOut = false
        let result: Result<SteeringTranscript, SteeringError>
        do {
            var steeringRequest = parsed.steeringRequest
            steeringRequest.steering = configuration.steering
            let transcript = try slot.runtime.respond(to: steeringRequest, release: { piece in
                if exchange.clientHasGone { return false }
                if self.clock.now > deadline {
                    timedOut = true
                    return false
                }
                guard parsed.stream else { return true }
                if !stream.opened {
                    stream.opened = true
                    guard exchange.beginStream(status: 200, headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")]),
                          exchange.send(CompletionResponse.event(response.chunk(role: true, text: endpoint == .chat ? "" : nil,
                                                                                includeUsage: parsed.includeUsage)))
                    else { return false }
                }
                guard !piece.isEmpty else { return true }
                if stream.sentBytes == 0 { self.metrics.firstToken(after: self.seconds(since: start)) }
                stream.sentBytes += piece.utf8.count
                return exchange.send(CompletionResponse.event(response.chunk(text: piece, includeUsage: parsed.includeUsage)))
            }, shouldStop: {
                if exchange.clientHasGone { return true }
                if self.clock.now > deadline {
                    timedOut = true
                    return true
                }
                return false
            })
            result = .success(transcript)
        } catch {
            result = .failure(error)
        }
        current.pool.release(slot)

        switch result {
        case .failure(let error):
            let outcome = error.isCancellation ? (timedOut ? "timeout" : "cancelled") : "error"
            extra["engine"] = slot.runtime.engineIdentity.json
            let record = ExchangeRecord(unanswered: parsed.prompt, outcome: outcome, reason: "\(error.thing): \(error.reason)", type: name,
                                        requestID: requestID, identity: identity, extra: extra)
            _ = try? log.append(metadata: record.metadata, content: record.content)
            metrics.finished(endpoint: name, outcome: outcome, seconds: seconds(since: start))
            let apiError: APIError
            if timedOut {
                var timeout = APIError(status: 503, message: "the answer took longer than the server's request timeout",
                                       type: "server_error", code: "timeout")
                timeout.headers = [("x-should-retry", "false")]
                apiError = timeout
            } else if error.isEngineUnavailable {
                apiError = APIError(status: 502, message: "no engine answered: \(error.thing): \(error.reason)", type: "server_error",
                                    code: "engine_unavailable")
            } else if error.isInvalidRequest {
                apiError = .invalid("\(error.thing): \(error.reason)", param: "messages", code: "context_length_exceeded")
            } else {
                apiError = .internalFailure("\(error.thing): \(error.reason)")
            }
            guard !error.isCancellation || timedOut else { return }   // the client is gone: nobody to tell
            if stream.opened {
                _ = exchange.send(CompletionResponse.event(.object(["error": .object([
                    "message": .string(apiError.message), "type": .string(apiError.type), "code": apiError.code.map { .string($0) } ?? .null,
                ])])))
                exchange.endStream()
            } else {
                exchange.respond(apiError.response)
            }
        case .success(let transcript):
            let record = ExchangeRecord(transcript, type: name, requestID: requestID, identity: identity,
                                        engine: transcript.engine ?? slot.runtime.engineIdentity,
                                        threads: slot.runtime.threadCount, extra: extra)
            let logIndex: UInt64
            do { logIndex = try log.append(metadata: record.metadata, content: record.content) } catch {
                // An exchange that cannot be logged is not answered.
                metrics.finished(endpoint: name, outcome: "error", seconds: seconds(since: start))
                let failure = APIError.internalFailure("the appliance log refused the exchange: \(error.reason)")
                if stream.opened {
                    _ = exchange.send(CompletionResponse.event(.object(["error": .object([
                        "message": .string(failure.message), "type": .string(failure.type), "code": .string("log_failure"),
                    ])])))
                    exchange.endStream()
                } else {
                    exchange.respond(failure.response)
                }
                return
            }
            let completion = transcript.attempts.reduce(0) { $0 + $1.tokens }
            metrics.record(promptTokens: transcript.promptTokens, completionTokens: completion, attempts: transcript.attempts.count,
                           blips: transcript.attempts.filter { $0.blip != nil }.count, refused: transcript.outcome == .refused)
            metrics.finished(endpoint: name, outcome: transcript.outcome.rawValue, seconds: seconds(since: start))
            let sovereign = CompletionResponse.sovereign(transcript, logIndex: logIndex, layer: identity.constraintLayerDigest)
            guard parsed.stream else {
                metrics.firstToken(after: seconds(since: start))
                return exchange.respond(.json(200, response.complete(transcript, sovereign: sovereign)))
            }
            finishStream(exchange, response, parsed, transcript, sovereign: sovereign, stream: &stream, start: start)
        }
    }

    private struct StreamState {
        var opened = false
        var sentBytes = 0
    }

    /// Ends a stream: a refusal before any text is sent as the answer
    /// (`content_filter`); after text was sent, as OpenAI's in-stream error.
    private func finishStream(_ exchange: HTTPExchange, _ response: CompletionResponse, _ request: CompletionRequest,
                              _ transcript: SteeringTranscript, sovereign: JSONValue, stream: inout StreamState,
                              start: ContinuousClock.Instant) {
        if !stream.opened {
            // Refused before a token (input rules): nothing was streamed yet.
            guard exchange.beginStream(status: 200, headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")]),
                  exchange.send(CompletionResponse.event(response.chunk(role: true, text: request.endpoint == .chat ? "" : nil,
                                                                        includeUsage: request.includeUsage)))
            else { return }
            stream.opened = true
        }
        if transcript.outcome == .refused {
            if stream.sentBytes > 0 {
                _ = exchange.send(CompletionResponse.event(.object(["error": .object([
                    "message": .string(transcript.answer), "type": .string("content_filter"), "code": .string("content_filter"),
                    "param": .null,
                ]), "sovereign": sovereign])))
                exchange.endStream()
                return
            }
            metrics.firstToken(after: seconds(since: start))
            guard exchange.send(CompletionResponse.event(response.chunk(text: transcript.answer, includeUsage: request.includeUsage)))
            else { return }
        }
        var events = CompletionResponse.event(response.chunk(text: nil, finish: CompletionResponse.finishReason(transcript),
                                                             includeUsage: request.includeUsage, sovereign: sovereign))
        if request.includeUsage { events += CompletionResponse.event(response.usageChunk(transcript)) }
        events += CompletionResponse.done
        guard exchange.send(events) else { return }
        exchange.endStream()
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double { (clock.now - start).inSeconds }
}
