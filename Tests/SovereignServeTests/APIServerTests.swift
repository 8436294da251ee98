import Foundation
import Testing
import SovereignTestSupport
import SovereignSystem
import SovereignLog
import SovereignHTTP
import SovereignPolicy
import SovereignInference
import SovereignSteering
@testable import SovereignServe

/// The API's routes before a model is loaded (the model tests live with
/// `sovereign serve` in SovereignCLITests): health says 503 until then,
/// the bearer token guards everything else, unknown routes and methods
/// get OpenAI-shaped errors.
@Suite struct APIServerTests {
    static let identity = ExchangeRecord.Identity(name: "test-image", manifestDigest: "sha256:" + String(repeating: "a", count: 64),
                                                  modelDigest: "sha256:" + String(repeating: "b", count: 64),
                                                  constraintLayerDigest: "sha256:" + String(repeating: "c", count: 64))
    static let token = "0123456789abcdef-token"

    /// An API server on 127.0.0.1 for `body`, with a model under `layer`
    /// (one slot) or none.
    static func withServer(layer: ConstraintLayer? = nil, _ body: (String) throws -> Void) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let log = try AuditLog.open(directory: scratch.file("log"))
        let api = APIServer(identity: identity, log: log, configuration: .init(token: Array(token.utf8)))
        if let layer {
            let session = try InferenceSession(contentsOf: try ReferenceModel.path.get(),
                                               configuration: .init(contextLength: 2048, threadCount: 2))
            api.load(runtimes: [try SteeringRuntime(session: session, layer: layer)])
        }
        let server = try HTTPServer(address: try HTTPAddress.parse("127.0.0.1:0")) { request, exchange in api.handle(request, exchange) }
        let stopped = DispatchSemaphore(value: 0)
        #expect(spawnDetachedThread {
            server.run()
            stopped.signal()
        })
        defer {
            server.requestStop()
            stopped.wait()
        }
        try body("http://\(server.boundAddress)")
    }

    static func client(_ arguments: [String]) throws -> String {
        let python = RepositoryRoot.path(".venv/bin/python")
        let result = try runProcess(python, [RepositoryRoot.path("Tests/Interop/serve_client.py")] + arguments, timeout: 60)
        guard result.status == 0 else { throw TestSetupError(description: "serve_client.py: \(result.stderr)") }
        return result.stdout
    }

    @Test func healthIs503UntilTheModelIsLoadedAndTheTokenGuardsTheRest() throws {
        try Self.withServer { base in
            #expect(try Self.client(["get", base, "/health"]) == #"HTTP 503 {"error":{"code":"loading","message":"Loading model","param":null,"type":"unavailable_error"}}"#)
            #expect(try Self.client(["get", base, "/v1/models"]).hasPrefix("HTTP 401"))
            let models = try Self.client(["get", base, "/v1/models", Self.token])
            #expect(models.contains(#""id":"test-image""#) && models.contains(Self.identity.manifestDigest))
            #expect(try Self.client(["get", base, "/v1/nothing", Self.token]).hasPrefix("HTTP 404"))
            #expect(try Self.client(["get", base, "/v1/chat/completions", Self.token]).hasPrefix("HTTP 405"))
            // Without the token a completion is refused before its body is read.
            let unauthorised = try Self.client(["post", base, "/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}]}"#])
            #expect(unauthorised.contains(#""status": 401"#), "\(unauthorised)")
        }
    }

    /// The reference layer with one more rule and `maxAttempts`.
    static func referenceLayer(adding rule: Rule? = nil, maxAttempts: Int) throws -> ConstraintLayer {
        let reference = try ConstraintLayer(directory: RepositoryRoot.path("Policies/reference"))
        let settings = reference.runtime
        let runtime = try RuntimeSettings(json: Array("""
            {"schema": "sovereign.runtime/v1", "decoding": {"temperature": 0, "seed": 0, "maxTokens": \(settings.decoding.maxTokens)},
             "maxAttempts": \(maxAttempts), "correction": "resume", "refusal": "Refused.", "persona": "\(settings.persona)",
             "retrieval": {"k": \(settings.retrieval.k), "k1": 1.5, "b": 0.75}}
            """.utf8), source: "runtime.json")
        return try ConstraintLayer(name: "test", documents: reference.documents,
                                   rules: RuleSet(rules: reference.rules.rules + (rule.map { [$0] } ?? [])), runtime: runtime)
    }

    /// When the last attempt breaks a rule after some of the answer was
    /// streamed, the stream ends with OpenAI's in-stream error object (the
    /// official client raises it), and what was sent was compliant text.
    @Test func aRefusalAfterTextWasStreamedEndsTheStreamWithAnError() throws {
        let question = "What can you help me with?"
        // The answer as it streams under the plain layer: its second sentence holds the word to forbid.
        var firstPieces: [String] = []
        try Self.withServer(layer: try Self.referenceLayer(maxAttempts: 1)) { base in
            firstPieces = try Self.jsonObject(try Self.client(["stream", base, question, Self.token]))["pieces"] as? [String] ?? []
        }
        #expect(firstPieces.count >= 2, "the answer did not stream in several sentences: \(firstPieces)")
        guard firstPieces.count >= 2 else { return }
        let words: [String] = firstPieces[1].lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)
        let word = try #require(words.first { $0.count >= 5 }, "no long word in \(firstPieces[1])")
        let forbid = Rule(id: "no-word", derivedFrom: "scope", blip: "Do not say that.", severity: .error,
                          parameters: .forbid(TextMatchers(phrases: [word], patterns: [])))

        try Self.withServer(layer: try Self.referenceLayer(adding: forbid, maxAttempts: 1)) { base in
            let out = try Self.jsonObject(try Self.client(["stream", base, question, Self.token]))
            let pieces = out["pieces"] as? [String] ?? []
            #expect(pieces == [firstPieces[0]], "sent \(pieces)")
            let raised = try #require(out["raised"] as? [String: Any], "no error was raised: \(out)")
            #expect(raised["type"] as? String == "APIError")
            #expect((raised["message"] as? String)?.contains("rule no-word") == true, "\(raised)")
            #expect((raised["body"] as? [String: Any])?["code"] as? String == "content_filter")
        }
    }

    static func jsonObject(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }
}
