import Foundation
import Testing
import SovereignTestSupport
import SovereignSystem
import SovereignLog
import SovereignHTTP
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

    /// An API server (no model) on 127.0.0.1, for `body`.
    static func withServer(_ body: (String) throws -> Void) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let log = try AuditLog.open(directory: scratch.file("log"))
        let api = APIServer(identity: identity, log: log, configuration: .init(token: Array(token.utf8)))
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
}
