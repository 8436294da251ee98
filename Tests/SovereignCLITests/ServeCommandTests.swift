import Foundation
import Testing
import SovereignTestSupport

/// A `sovereign serve` process on 127.0.0.1 (port 0: a free one), its
/// stderr kept in a file of the workspace; stopped with SIGTERM.
final class ServerProcess {
    let process = Process()
    let stderrPath: String
    private(set) var base = ""

    init(_ appliance: ReferenceAppliance, _ extra: [String] = [], name: String = "serve") throws {
        stderrPath = appliance.workspace.directory.file(name + ".stderr")
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--root", "root", "--listen", "127.0.0.1:0", "--threads", "2"] + extra
        process.currentDirectoryURL = URL(fileURLWithPath: appliance.workspace.path)
        process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
        // Ready: the bound address printed, then the model loaded.
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline {
            let text = stderr
            if base.isEmpty, let line = text.split(separator: "\n").first(where: { $0.contains("listening on ") }),
               let address = line.split(separator: " ").first(where: { $0.hasPrefix("127.0.0.1:") }) {
                base = "http://" + address
            }
            if !base.isEmpty, text.contains("ready") { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw TestSetupError(description: "sovereign serve did not become ready: \(stderr)")
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then the exit status (nil if it did not exit within a minute).
    func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.interrupt()
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    /// Runs Tests/Interop/serve_client.py MODE BASE ARGS… and parses its JSON.
    func client(_ mode: String, _ arguments: [String] = [], timeout: Double = 600) throws -> [String: Any] {
        let result = try runProcess(try CLI.python, [CLI.packageRoot + "/Tests/Interop/serve_client.py", mode, base] + arguments,
                                    timeout: timeout)
        guard result.status == 0 else { throw TestSetupError(description: "serve_client.py \(mode) failed: \(result.stderr)") }
        return try jsonObject(result.stdout)
    }

    /// GET `path` (the body, or "HTTP <code> <body>" for an error status).
    func get(_ path: String, token: String? = nil) throws -> String {
        let result = try runProcess(try CLI.python, [CLI.packageRoot + "/Tests/Interop/serve_client.py", "get", base, path]
                                    + (token.map { [$0] } ?? []), timeout: 120)
        return result.stdout
    }

    /// A value of `/metrics` (the first sample whose line starts with `prefix`).
    func metric(_ prefix: String) throws -> Double? {
        try get("/metrics").split(separator: "\n").first { $0.hasPrefix(prefix + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }
}

/// `sovereign serve` on the real model under the reference layer, driven by
/// the official `openai` client, promtool, a hostile-request suite and
/// sixteen concurrent clients.
@Suite(.serialized) struct ServeCommandTests {
    static let appliance = Result { try ReferenceAppliance() }

    @Test func theOfficialClientGetsAnswersRefusalsAndCorrections() throws {
        let appliance = try Self.appliance.get()
        let server = try ServerProcess(appliance)
        defer { _ = server.stop() }
        let out = try server.client("openai")

        #expect(out["models"] as? [String] == ["sovereign-reference"])
        let digests = try #require((out["modelExtra"] as? [String: Any])?["sovereign"] as? [String: Any])
        #expect((digests["image"] as? String)?.hasPrefix("sha256:") == true)

        let chat = try #require(out["chat"] as? [String: Any])
        let answer = try #require(chat["content"] as? String)
        #expect(answer.contains("08:30"), "\(answer)")
        #expect(chat["finish"] as? String == "stop" && chat["object"] as? String == "chat.completion")
        let sovereign = try #require(chat["sovereign"] as? [String: Any])
        #expect(sovereign["outcome"] as? String == "answered")
        #expect(sovereign["logIndex"] is Int)

        let stream = try #require(out["stream"] as? [String: Any])
        #expect(stream["roles"] as? [String] == ["assistant"] && stream["ids"] as? Int == 1 && stream["finish"] as? String == "stop")
        #expect(((stream["pieces"] as? [String]) ?? []).count >= 2, "the stream came in one piece: \(stream)")
        let usage = try #require(stream["usage"] as? [String: Any])
        #expect((usage["completion_tokens"] as? Int ?? 0) > 0 && (usage["prompt_tokens"] as? Int ?? 0) > 0)

        let completion = try #require(out["completion"] as? [String: Any])
        #expect(completion["object"] as? String == "text_completion" && completion["finish"] as? String == "length")
        #expect((completion["usage"] as? [String: Any])?["completion_tokens"] as? Int == 8)

        for name in ["nTwo", "wrongType"] {
            let error = try #require(out[name] as? [String: Any])
            #expect(error["raised"] as? String == "BadRequestError" && error["status"] as? Int == 400, "\(name): \(error)")
        }
        #expect((out["nTwo"] as? [String: Any]).flatMap { $0["body"] as? [String: Any] }?["param"] as? String == "n")

        let refusal = try #require(out["refusal"] as? [String: Any])
        #expect(refusal["finish"] as? String == "content_filter")
        #expect((refusal["content"] as? String)?.contains("rule refuse-weapons") == true)
        #expect(refusal["refusal"] as? String == refusal["content"] as? String)
        let streamedRefusal = try #require(out["streamedRefusal"] as? [String: Any])
        #expect(streamedRefusal["finish"] as? String == "content_filter" && streamedRefusal["content"] as? String == refusal["content"] as? String)

        let corrected = try #require(out["corrected"] as? [String: Any])
        #expect((corrected["sovereign"] as? [String: Any])?["outcome"] as? String == "corrected")
        let correctedText = try #require(corrected["content"] as? String)
        #expect(correctedText.contains("0808 157 0192"))
        // Streamed, a corrected answer is only its final text.
        #expect((out["streamedCorrected"] as? [String: Any])?["content"] as? String == correctedText)

        #expect(server.stop() == 0)
        #expect(server.stderr.contains("log checkpoint"), "\(server.stderr)")
        let verify = try appliance.workspace.run(["log", "verify", "--root", "root"])
        #expect(verify.status == 0, "\(verify.stderr)")
        // The same question through `sovereign chat` (alone, another process; the
        // server held the log until it stopped): the same answer.
        // The log names the endpoint, the model the client asked for, and its retry count.
        let logIndex = try #require(sovereign["logIndex"] as? Int)
        let entry = try jsonObject(try appliance.workspace.run(["log", "show", String(logIndex), "--root", "root", "--json"]).stdout)
        let metadata = try #require((entry["entry"] as? [String: Any])?["metadata"] as? [String: Any])
        #expect(metadata["endpoint"] as? String == "/v1/chat/completions" && metadata["requestedModel"] as? String == "any")
        #expect(metadata["clientRetry"] as? String == "0", "\(metadata)")
        #expect(metadata["outcome"] as? String == "answered")
        let alone = try appliance.chat("When is the service desk open?")
        #expect(try jsonObject(alone.stdout)["answer"] as? String == answer, "\(alone.stderr)")
    }

    @Test func metricsPassPromtool() throws {
        let server = try ServerProcess(try Self.appliance.get())
        defer { _ = server.stop() }
        _ = try server.client("hostile", ["3", "20"])
        let metrics = try server.get("/metrics")
        #expect(metrics.contains("sovereign_requests_total{endpoint=\"chat\",outcome=\"invalid\"}"))
        let check = try runProcess("/usr/bin/promtool", ["check", "metrics"], input: Array(metrics.utf8), timeout: 60)
        #expect(check.status == 0, "promtool: \(check.stdout) \(check.stderr)")
    }

    /// Malformed, oversized, slow, random and mutated requests: each answered
    /// with an OpenAI-shaped 4xx or closed, and a valid request still works.
    @Test func hostileRequestsNeverTakeTheServerDown() throws {
        let server = try ServerProcess(try Self.appliance.get())
        defer { _ = server.stop() }
        let out = try server.client("hostile", ["1", "1000"])
        let cases = try #require(out["cases"] as? [String: [String: Any]])
        let expected = ["badJSON": 400, "wrongTypes": 400, "missingMessages": 400, "emptyMessages": 400, "lastNotUser": 400,
                        "unknownField": 400, "tools": 400, "imagePart": 400, "temperatureOutOfRange": 400, "duplicateKey": 400,
                        "deepNesting": 400, "invalidUTF8": 400, "promptTooLong": 400, "contextOverflow": 400, "hugeBody": 413, "headerFlood": 431, "randomBytes": 400,
                        "notFound": 404, "wrongMethod": 405, "halfClosed": 400]
        for (name, status) in expected {
            let result = try #require(cases[name], "\(name) missing")
            #expect(result["status"] as? Int == status, "\(name): \(result)")
            #expect((result["error"] as? [String: Any])?["message"] is String, "\(name): no OpenAI error object: \(result)")
            #expect(result["validAfter"] as? Bool == true, "\(name): a valid request failed afterwards")
        }
        #expect(out["servesWhileSlowClient"] as? Bool == true)
        let mutations = try #require(out["mutations"] as? [String: Int])
        #expect(mutations.values.reduce(0, +) == 1000)
        #expect(mutations.keys.allSatisfy { $0 != "None" && (Int($0) ?? 0) < 500 }, "\(mutations)")
        #expect(out["validAtEnd"] as? Bool == true)
    }

    /// Sixteen clients at once for a bounded time: every request answered,
    /// none interleaved, each question's answer the same in every round and
    /// the same as asked alone (batch invariance), the log intact.
    @Test func sixteenConcurrentClientsGetTheirSoloAnswers() throws {
        let appliance = try Self.appliance.get()
        // A slow or busy machine answers more slowly, not wrongly: let requests wait for a slot.
        let server = try ServerProcess(appliance, ["--parallel", "8", "--queue-timeout", "600"])
        defer { _ = server.stop() }
        let out = try server.client("concurrent", ["16", "12"])
        #expect((out["errors"] as? [String]) == [], "\(out["errors"] ?? "")")
        let results = try #require(out["results"] as? [[String: Any]])
        #expect(results.count >= 16)
        var answers: [String: Set<String>] = [:]
        for result in results {
            #expect(result["ids"] as? Int == 1, "a stream mixed chunks of several completions: \(result)")
            answers[result["question"] as? String ?? "", default: []].insert(result["answer"] as? String ?? "")
        }
        #expect(answers.count == 16)
        #expect(try (server.metric("sovereign_engine_rows_total") ?? 0) > 2 * (server.metric("sovereign_engine_steps_total") ?? 0),
                "requests were not decoded together")

        let solo = try server.client("concurrent", ["1", "0"])   // one client, one question: nothing else in the batch
        let alone = try #require((solo["results"] as? [[String: Any]])?.first)
        let question = try #require(alone["question"] as? String)
        #expect(answers[question] == [alone["answer"] as? String ?? ""], "batched \(answers[question] ?? []) vs alone \(alone)")
        for (question, set) in answers { #expect(set.count == 1, "\(question): \(set)") }

        #expect(server.stop() == 0)
        let verify = try appliance.workspace.run(["log", "verify", "--root", "root"])
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    /// A client that hangs up mid-stream cancels its generation: the slot
    /// is free again at once and the log records the request as cancelled.
    @Test func aDisconnectCancelsTheGeneration() throws {
        let appliance = try Self.appliance.get()
        let server = try ServerProcess(appliance, ["--parallel", "1"])
        defer { _ = server.stop() }
        #expect(try server.client("cancel")["gotEvent"] as? Bool == true)
        let deadline = Date().addingTimeInterval(30)
        while try server.metric("sovereign_requests_total{endpoint=\"chat\",outcome=\"cancelled\"}") == nil, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(try server.metric("sovereign_requests_total{endpoint=\"chat\",outcome=\"cancelled\"}") == 1)
        #expect(try server.metric("sovereign_slots_busy") == 0)
        // The lone slot serves the next request.
        #expect(try server.client("concurrent", ["1", "0"])["errors"] as? [String] == [])
        #expect(server.stop() == 0)
        let shown = try appliance.workspace.run(["log", "show", "--root", "root", "--json"])
        #expect(shown.stdout.contains("\"cancelled\""), "\(shown.stdout.suffix(2000))")
    }

    @Test func offLoopbackNeedsATokenAndEveryRouteButHealthChecksIt() throws {
        let appliance = try Self.appliance.get()
        let refused = try appliance.workspace.run(["serve", "--root", "root", "--listen", "0.0.0.0:0"])
        #expect(refused.status == 1 && refused.stderr.contains("needs --token-file"), "\(refused.stderr)")
        appliance.workspace.write("short.token", "abc\n")
        let short = try appliance.workspace.run(["serve", "--root", "root", "--token-file", "short.token"])
        #expect(short.status == 1 && short.stderr.contains("at least 16"), "\(short.stderr)")

        let token = "s3cret-token-0123456789"
        appliance.workspace.write("api.token", token + "\n")
        let server = try ServerProcess(appliance, ["--token-file", "api.token"], name: "token")
        defer { _ = server.stop() }
        #expect(try server.get("/health") == #"{"status":"ok"}"#)
        #expect(try server.get("/v1/models").hasPrefix("HTTP 401"))
        #expect(try server.get("/v1/models", token: token + "x").hasPrefix("HTTP 401"))
        #expect(try server.get("/metrics").hasPrefix("HTTP 401"))
        #expect(try server.get("/v1/models", token: token).contains("sovereign-reference"))
    }
}
