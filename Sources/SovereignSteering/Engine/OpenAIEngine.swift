import Synchronization
import SovereignSystem
import SovereignFormats
import SovereignHTTP
import SovereignInference

/// One remote engine that speaks the OpenAI API (llama-server, vLLM,
/// Ollama, …): what model it serves, and chat completions streamed back
/// piece by piece so the rules judge the text as it arrives. The caller
/// closes the stream the moment a rule is broken; the engine sees the
/// connection go and stops generating.
public final class OpenAIEngine: Sendable {
    public struct Configuration: Sendable {
        /// The API's base URL, as OpenAI clients take it (`http://host:port/v1`).
        public var endpoint: HTTPEndpoint
        /// The model to ask for; nil: the first the engine lists.
        public var model: String?
        /// Sent as `Authorization: Bearer <token>`.
        public var token: [UInt8]?
        public var limits: HTTPClientLimits

        public init(endpoint: HTTPEndpoint, model: String? = nil, token: [UInt8]? = nil, limits: HTTPClientLimits = .init()) {
            self.endpoint = endpoint
            self.model = model
            self.token = token
            self.limits = limits
        }
    }

    /// What the engine said about itself.
    public struct Discovery: Sendable, Equatable {
        public let model: String
        /// llama.cpp's server (`owned_by: llamacpp`): it takes `top_k` and
        /// text keys in `logit_bias` (tokenised on its side).
        public let isLlamaCpp: Bool
    }

    /// A chat completion to stream.
    struct ChatRequest {
        var messages: [ChatMessage]
        var decoding: EffectiveDecoding
        var seed: Int64
        /// Text → logit bias; sent only to engines that tokenise text keys.
        var textBias: [String: Int] = [:]
    }

    struct ChatResult {
        var text = ""
        /// The content of each chunk, in order (one token each on llama-server).
        var pieces: [String] = []
        var finish = "stop"
        var promptTokens: Int?
        var completionTokens: Int?
        var model: String?
        var fingerprint: String?
        /// The caller closed the stream before the engine finished.
        var closedEarly = false
        /// Whether `textBias` was sent as `logit_bias`.
        var biased = false
    }

    public let configuration: Configuration
    private let discovered = Mutex<Discovery?>(nil)
    private static let maxModels = 1024

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    public var url: String { configuration.endpoint.url }

    /// What `probe` found, if it has succeeded.
    public var discovery: Discovery? { discovered.withLock { $0 } }

    private var headers: [(String, String)] {
        var headers = [("accept", "application/json"), ("content-type", "application/json")]
        if let token = configuration.token { headers.append(("authorization", "Bearer " + String(decoding: token, as: UTF8.self))) }
        return headers
    }

    private func failure(_ route: String, _ error: HTTPClientError) -> EngineError {
        switch error.kind {
        case .cancelled: return EngineError(error.thing, error.reason, kind: .cancelled)
        case .unreachable, .timedOut: return EngineError(error.thing, error.reason, kind: .unavailable)
        case .protocolViolation, .connectionLost: return EngineError(error.thing, error.reason, kind: .broken)
        }
    }

    /// An error status as an `EngineError`, with the engine's own message when it sent one.
    private func statusFailure(_ response: HTTPClientResponse) -> EngineError {
        let body = (try? response.readAll()) ?? []
        var message = ""
        if let value = try? JSONParser.parse(Array(body.prefix(64 * 1024)), source: response.route),
           let text = value["error"]?["message"]?.stringValue ?? value["error"]?.stringValue {
            message = ": " + Self.printable(Array(text.utf8), limit: 300)
        }
        let status = response.status
        let reason = "answered HTTP \(status)\(message)"
        if status == 408 || status == 429 || status >= 500 { return EngineError(response.route, reason, kind: .unavailable) }
        return EngineError(response.route, reason, kind: status >= 400 ? .rejected(status: status) : .broken)
    }

    /// Asks the engine which models it serves (`GET /models`) and settles
    /// the model to use: the configured one, which must be listed, or the first.
    @discardableResult
    public func probe(keepGoing: () -> Bool = { true }) throws(EngineError) -> Discovery {
        let route = url + "/models"
        let response: HTTPClientResponse
        do {
            response = try HTTPClient.send("GET", configuration.endpoint, path: "/models", headers: headers,
                                           limits: configuration.limits, keepGoing: keepGoing)
        } catch { throw failure(route, error) }
        defer { response.close() }
        guard response.status == 200 else { throw statusFailure(response) }
        let body: [UInt8]
        do { body = try response.readAll(keepGoing: keepGoing) } catch { throw failure(route, error) }
        guard let value = try? JSONParser.parse(body, source: route), let data = value["data"]?.arrayValue else {
            throw EngineError(route, "the model list is not JSON with a 'data' array", kind: .broken)
        }
        let listed = data.prefix(Self.maxModels).compactMap { model -> (id: String, owner: String?)? in
            // The id goes back to the engine and into the log: bounded, printable, no spaces.
            guard let id = model["id"]?.stringValue, !id.isEmpty, id.utf8.count <= 256,
                  id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
            return (id, model["owned_by"]?.stringValue)
        }
        let chosen: (id: String, owner: String?)
        if let wanted = configuration.model {
            guard let match = listed.first(where: { $0.id == wanted }) else {
                throw EngineError(route, "does not serve the model '\(wanted)'; it lists: "
                                  + (listed.isEmpty ? "none" : listed.map(\.id).prefix(8).joined(separator: ", ")), kind: .rejected(status: 404))
            }
            chosen = match
        } else {
            guard let first = listed.first else { throw EngineError(route, "lists no model", kind: .broken) }
            chosen = first
        }
        let discovery = Discovery(model: chosen.id, isLlamaCpp: chosen.owner == "llamacpp")
        discovered.withLock { $0 = discovery }
        return discovery
    }

    /// Streams one chat completion. `onPiece` sees each piece of text as it
    /// arrives and returns false to close the stream there (a rule was
    /// broken); `keepGoing` is asked at least every 100 ms while waiting.
    func streamChat(_ request: ChatRequest, onPiece: (String) -> Bool,
                    keepGoing: () -> Bool) throws(EngineError) -> ChatResult {
        let discovery: Discovery
        if let known = self.discovery { discovery = known } else { discovery = try probe(keepGoing: keepGoing) }
        let route = url + "/chat/completions"
        var result = ChatResult()
        let decoding = request.decoding
        var body: [String: JSONValue] = [
            "model": .string(discovery.model),
            "messages": .array(request.messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) }),
            "stream": .bool(true),
            "stream_options": .object(["include_usage": .bool(true)]),
            "max_tokens": .integer(Int64(decoding.maxTokens)),
            "temperature": .number(decoding.temperature),
            "seed": .integer(request.seed),
        ]
        if let topP = decoding.topP { body["top_p"] = .number(topP) }
        if !decoding.stop.isEmpty { body["stop"] = .array(decoding.stop.map(JSONValue.string)) }
        if discovery.isLlamaCpp {
            if let topK = decoding.topK { body["top_k"] = .integer(Int64(topK)) }
            if !request.textBias.isEmpty {
                // llama-server tokenises a text key and biases each of its tokens.
                body["logit_bias"] = .object(request.textBias.mapValues { JSONValue.integer(Int64($0)) })
                result.biased = true
            }
        }
        let response: HTTPClientResponse
        do {
            response = try HTTPClient.send("POST", configuration.endpoint, path: "/chat/completions", headers: headers,
                                           body: CanonicalJSON.serialize(.object(body)), limits: configuration.limits, keepGoing: keepGoing)
        } catch { throw failure(route, error) }
        defer { response.close() }
        guard response.status == 200 else { throw statusFailure(response) }
        var events = ServerSentEvents()
        var done = false
        var finished = false
        reading: while !done {
            let bytes: [UInt8]?
            do { bytes = try response.read(keepGoing: keepGoing) } catch { throw failure(route, error) }
            guard let bytes else { break }
            let parsed: [ServerSentEvents.Event]
            do { parsed = try events.feed(bytes) } catch {
                throw EngineError(route, error.reason, kind: .broken)
            }
            for event in parsed {
                let data: [UInt8]
                switch event {
                case .error(let payload):
                    throw EngineError(route, "sent an error mid-stream: " + Self.message(payload), kind: .broken)
                case .data(let payload): data = payload
                }
                if data.elementsEqual("[DONE]".utf8) { done = true; break }
                guard let chunk = try? JSONParser.parse(data, source: route), case .object = chunk else {
                    throw EngineError(route, "sent an event that is not a JSON object: " + Self.excerpt(data), kind: .broken)
                }
                if chunk["error"] != nil {
                    throw EngineError(route, "sent an error mid-stream: " + Self.message(data), kind: .broken)
                }
                // What the engine says about itself goes into every log entry: bounded, printable.
                if let model = chunk["model"]?.stringValue { result.model = Self.printable(Array(model.utf8), limit: 256) }
                if let fingerprint = chunk["system_fingerprint"]?.stringValue {
                    result.fingerprint = Self.printable(Array(fingerprint.utf8), limit: 256)
                }
                if let usage = chunk["usage"], case .object = usage {
                    result.promptTokens = usage["prompt_tokens"].flatMap(Self.integer)
                    result.completionTokens = usage["completion_tokens"].flatMap(Self.integer)
                }
                guard let choices = chunk["choices"]?.arrayValue else {
                    throw EngineError(route, "sent a chunk without 'choices': " + Self.excerpt(data), kind: .broken)
                }
                guard let choice = choices.first else { continue }   // the usage chunk
                if let reason = choice["finish_reason"]?.stringValue {
                    result.finish = reason
                    finished = true
                }
                guard let content = choice["delta"]?["content"] else { continue }
                if case .null = content { continue }
                guard let piece = content.stringValue else {
                    throw EngineError(route, "sent a delta whose content is not a string", kind: .broken)
                }
                guard !piece.isEmpty else { continue }
                result.pieces.append(piece)
                result.text += piece
                // An engine must not send more than it was asked for.
                guard result.pieces.count <= decoding.maxTokens else {
                    throw EngineError(route, "sent more than the \(decoding.maxTokens) tokens asked for (max_tokens)", kind: .broken)
                }
                if !onPiece(piece) {
                    result.closedEarly = true
                    break reading
                }
            }
        }
        guard result.closedEarly || finished || done else {
            throw EngineError(route, "the stream ended without a finish reason", kind: .broken)
        }
        return result
    }

    private static func integer(_ value: JSONValue) -> Int? {
        if case .integer(let n) = value, n >= 0, n < 1 << 31 { return Int(n) }
        return nil
    }

    /// At most `limit` bytes of an engine's text, printable ASCII only
    /// (anything else a '?'), so it stays one line wherever it is shown.
    static func printable(_ bytes: [UInt8], limit: Int) -> String {
        String(decoding: bytes.prefix(limit).map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            + (bytes.count > limit ? "…" : "")
    }

    private static func excerpt(_ bytes: [UInt8]) -> String { "'" + printable(bytes, limit: 120) + "'" }

    private static func message(_ payload: [UInt8]) -> String {
        if let value = try? JSONParser.parse(payload, source: "error"),
           let text = value["error"]?["message"]?.stringValue ?? value["message"]?.stringValue ?? value["error"]?.stringValue {
            return printable(Array(text.utf8), limit: 300)
        }
        return excerpt(payload)
    }
}
