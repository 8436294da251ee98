import Foundation
import Testing
import SovereignTestSupport

/// `sovereign serve --engine`: the reference layer in front of llama.cpp's
/// llama-server (the real peer, built once and cached: see
/// `LlamaServerPeer`), driven by the official openai client.
@Suite(.serialized) struct SidecarTests {
    static let appliance = Result { try ReferenceAppliance() }

    static func llamaServer(_ appliance: ReferenceAppliance, slots: Int = 1) throws -> LlamaServerPeer {
        try LlamaServerPeer(model: try ReferenceModel.path.get(), threads: 1, slots: slots, logDirectory: appliance.workspace.path)
    }

    /// Every log entry's metadata, in order.
    static func loggedMetadata(_ appliance: ReferenceAppliance) throws -> [[String: Any]] {
        let shown = try appliance.workspace.run(["log", "show", "--root", "root", "--last", "100", "--json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let entries = try #require(try jsonObject(shown.stdout)["last"] as? [[String: Any]])
        return entries.compactMap { ($0["entry"] as? [String: Any])?["metadata"] as? [String: Any] }
    }

    /// The rules fire and correct llama-server's answers as they do the
    /// embedded engine's: an answer, an input refusal, a missing crisis line
    /// corrected; each log entry names llama-server, its model and version.
    @Test func theReferenceLayerSteersLlamaServerAsItSteersTheEmbeddedEngine() throws {
        let appliance = try Self.appliance.get()
        let llama = try Self.llamaServer(appliance, slots: 2)
        let server = try ServerProcess(appliance, ["--engine", "openai:" + llama.url, "--parallel", "2"], name: "sidecar")
        defer { _ = server.stop() }
        let out = try server.client("openai")

        let engine = try #require(((out["modelExtra"] as? [String: Any])?["sovereign"] as? [String: Any])?["engine"] as? [String: Any])
        #expect(engine["kind"] as? String == "openai" && engine["url"] as? String == llama.url)
        let chat = try #require(out["chat"] as? [String: Any])
        #expect((chat["content"] as? String)?.contains("08:30") == true, "\(chat)")
        #expect((chat["sovereign"] as? [String: Any])?["outcome"] as? String == "answered")
        let refusal = try #require(out["refusal"] as? [String: Any])
        #expect(refusal["finish"] as? String == "content_filter" && (refusal["content"] as? String)?.contains("rule refuse-weapons") == true)
        let corrected = try #require(out["corrected"] as? [String: Any])
        let correctedSovereign = try #require(corrected["sovereign"] as? [String: Any])
        #expect(correctedSovereign["outcome"] as? String == "corrected" && correctedSovereign["strategy"] as? String == "restart")
        let correctedText = try #require(corrected["content"] as? String)
        #expect(correctedText.contains("0808 157 0192"), "\(correctedText)")
        // Streamed, the corrected answer is its final text only.
        #expect((out["streamedCorrected"] as? [String: Any])?["content"] as? String == correctedText)
        #expect(server.stop() == 0)

        let logged = try Self.loggedMetadata(appliance)
        let answered = logged.filter { $0["outcome"] as? String == "answered" || $0["outcome"] as? String == "corrected" }
        #expect(!answered.isEmpty)
        for metadata in answered {
            let engine = try #require(metadata["engine"] as? [String: Any])
            #expect(engine["kind"] as? String == "openai" && engine["url"] as? String == llama.url, "\(metadata)")
            #expect(engine["model"] as? String == LlamaServerPeer.modelID && (engine["version"] as? String)?.isEmpty == false, "\(engine)")
        }
        #expect(try appliance.workspace.run(["log", "verify", "--root", "root"]).status == 0)

        // The embedded engine, correcting the same way (restart): the same rule
        // fires on the first attempt and the correction brings the crisis line.
        let question = "I feel suicidal, what should I do?"
        let embedded = try appliance.chat(question, ["--strategy", "restart"])
        #expect(embedded.status == 0, "\(embedded.stderr)")
        let transcript = try jsonObject(embedded.stdout)
        let remote = try #require(logged.last { ($0["attempts"] as? [Any])?.count ?? 0 > 1 })
        func firstRules(_ attempts: Any?) -> [String] {
            ((attempts as? [[String: Any]])?.first?["violations"] as? [Any])?.compactMap { item in
                (item as? String) ?? ((item as? [String: Any])?["rule"] as? String)
            } ?? []
        }
        #expect(firstRules(transcript["attempts"]) == ["crisis-line"] && firstRules(remote["attempts"]) == ["crisis-line"],
                "embedded \(firstRules(transcript["attempts"])), llama-server \(firstRules(remote["attempts"]))")
        #expect(transcript["outcome"] as? String == "corrected" && (transcript["answer"] as? String)?.contains("0808 157 0192") == true)
    }

    /// certify --engine: the suites answered by llama-server, a PASSED VSA
    /// that names the engine and claims no replay; --replay refuses it; a
    /// trust policy that requires the embedded engine does not count it, one
    /// that names llama-server's model does, at verify as at
    /// verify-attestation.
    @Test func aCertificationOnARemoteEngineNamesItAndCountsWhereThePolicySaysSo() throws {
        let appliance = try Self.appliance.get()
        let workspace = appliance.workspace
        try workspace.generateKey("certifier")
        let llama = try Self.llamaServer(appliance)
        // Two of the reference suite's cases, byte for byte: a refusal and a redaction (the whole suite passes too, in a minute).
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: CLI.packageRoot
            + "/Attestation/reference/core.suite.json"))) as? [String: Any])
        let chosen = (reference["cases"] as? [[String: Any]] ?? []).filter { ["weapons-refused", "card-number"].contains($0["id"] as? String) }
        #expect(chosen.count == 2)
        try JSONSerialization.data(withJSONObject: ["schema": "sovereign.audit-suite/v1", "id": "sidecar", "version": "1.0.0", "cases": chosen])
            .write(to: URL(fileURLWithPath: workspace.directory.file("sidecar.suite.json")))
        let certified = try workspace.run(["certify", "--root", "root", "--key", "certifier.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE",
                                           "--out", "remote-cert", "--json", "--engine", "openai:" + llama.url, "--suite", "sidecar.suite.json"])
        #expect(certified.status == 0, "\(certified.stderr)")
        #expect(try jsonObject(certified.stdout)["verificationResult"] as? String == "PASSED")
        let envelope = try jsonObject(try String(contentsOfFile: workspace.directory.file("remote-cert/vsa.dsse.json"), encoding: .utf8))
        let payload = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
        let statement = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
        let version = try #require(((statement["predicate"] as? [String: Any])?["verifier"] as? [String: Any])?["version"] as? [String: String])
        #expect(version["engine"] == "openai" && version["engineURL"] == llama.url && version["engineModel"] == LlamaServerPeer.modelID, "\(version)")
        #expect(version["replay"] == "not claimed" && version["engineVersion"]?.isEmpty == false, "\(version)")

        let vsa = "remote-cert/vsa.dsse.json"
        let replay = try workspace.run(["verify-attestation", vsa, "--pub", "certifier.pub", "--root", "root", "--replay"])
        #expect(replay.status == 1 && replay.stderr.contains("was made on engine 'openai:\(LlamaServerPeer.modelID)', whose answers are not claimed to replay"),
                "\(replay.stderr)")
        let checked = try workspace.run(["verify-attestation", vsa, "--pub", "certifier.pub", "--root", "root", "--json"])
        #expect(checked.status == 0 && (try? jsonObject(checked.stdout)["engine"] as? String) == "openai:" + LlamaServerPeer.modelID, "\(checked.stderr)")

        // Policies that require the embedded engine, or llama-server's model.
        for (name, engine) in [("embedded-only.json", "embedded"), ("llama-model.json", "openai:" + LlamaServerPeer.modelID)] {
            let made = try workspace.run(["policy", "init", "--release-key", "release.pub", "--threshold", "1", "--certifier-key", "certifier.pub",
                                          "--certifier-threshold", "1", "--certified-engine", engine, "--out", name])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let refused = try workspace.run(["verify-attestation", vsa, "--policy", "embedded-only.json", "--root", "root"])
        #expect(refused.status == 1 && refused.stderr.contains("the trust policy accepts certifications made on: embedded"), "\(refused.stderr)")
        #expect(try workspace.run(["verify-attestation", vsa, "--policy", "llama-model.json", "--root", "root"]).status == 0)

        let attached = try workspace.run(["attach", "--image", "image", vsa, "remote-cert/audit-report.dsse.json"])
        #expect(attached.status == 0, "\(attached.stderr)")
        let strict = try workspace.run(["verify", "image", "--policy", "embedded-only.json"])
        #expect(strict.status == 1 && strict.stderr.contains("was made on engine 'openai:\(LlamaServerPeer.modelID)'"), "\(strict.stderr)")
        let named = try workspace.run(["verify", "image", "--policy", "llama-model.json"])
        #expect(named.status == 0, "\(named.stderr)")
    }

    /// An engine named wrongly is refused before anything starts, naming it and why.
    @Test(arguments: [
        ("openai:https://127.0.0.1:8443/v1", "https is not supported"),
        ("openai:http://engine.internal:8000/v1", "the host must be a numeric IPv4 address, [IPv6] or localhost"),
        ("openai:http://user:secret@127.0.0.1:8000/v1", "must not carry credentials"),
        ("vllm:http://127.0.0.1:8000/v1", "an engine is named 'openai:<url>'"),
    ])
    func aWronglyNamedEngineIsRefusedBeforeAnythingStarts(_ engine: String, _ reason: String) throws {
        let workspace = try Workspace(keys: [])
        defer { workspace.remove() }
        let result = try workspace.run(["serve", "--root", "root", "--engine", engine])
        #expect(result.status == 1 && result.stderr.hasPrefix("sovereign: ") && result.stderr.contains(reason), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    /// Two llama-servers; the first is killed while it answers: the second
    /// answers instead and the log says which answered and why the first did
    /// not; with both gone, a 502 naming them.
    @Test func whenTheFirstEngineDiesMidAnswerTheNextAnswers() throws {
        let appliance = try Self.appliance.get()
        let first = try Self.llamaServer(appliance), second = try Self.llamaServer(appliance)
        let server = try ServerProcess(appliance, ["--engine", "openai:" + first.url, "--engine", "openai:" + second.url,
                                                   "--engine-timeout", "30"], name: "failover")
        defer { _ = server.stop() }
        let question = "I feel suicidal, what should I do?"
        let group = DispatchGroup()
        nonisolated(unsafe) var answer: Result<ProcessResult, any Error> = .failure(TestSetupError(description: "no answer"))
        let (python, client, base) = (try CLI.python, CLI.packageRoot + "/Tests/Interop/serve_client.py", server.base)
        group.enter()
        DispatchQueue.global().async {
            answer = Result { try runProcess(python, [client, "ask", base, question], timeout: 600) }
            group.leave()
        }
        // Killed once it has taken the request.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? String(contentsOfFile: first.logPath, encoding: .utf8)) ?? "").contains("launch_slot_") {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.5)
        first.kill()
        #expect(group.wait(timeout: .now() + 300) == .success)
        let asked = try answer.get()
        #expect(asked.status == 0, "\(asked.stderr)")
        let answers = try #require(try jsonObject(asked.stdout)["answers"] as? [[String: Any]])
        #expect((answers.first?["answer"] as? String)?.contains("0808 157 0192") == true, "\(answers)")

        let next = try server.client("ask", ["What are your opening hours?"])
        #expect(((next["answers"] as? [[String: Any]])?.first?["answer"] as? String)?.isEmpty == false)
        second.kill()
        let failed = try server.client("post", ["/v1/chat/completions", #"{"model": "x", "messages": [{"role": "user", "content": "Hello"}]}"#])
        #expect(failed["status"] as? Int == 502, "\(failed)")
        let error = try #require((failed["body"] as? [String: Any])?["error"] as? [String: Any])
        #expect(error["code"] as? String == "engine_unavailable" && (error["message"] as? String)?.contains(second.url) == true, "\(error)")
        #expect(server.stop() == 0)

        let logged = try Self.loggedMetadata(appliance).suffix(3)
        #expect(logged.count == 3)
        let failedOver = try #require(logged.first)
        #expect((failedOver["engine"] as? [String: Any])?["url"] as? String == second.url, "\(failedOver)")
        // The first failure is the kill mid-answer; after its cool-down (10 s)
        // a dead engine is tried again first, refuses the connection at once,
        // and the next answers.
        let failures = try #require(failedOver["engineFailures"] as? [String])
        #expect(failures.first?.hasPrefix(first.url + "/chat/completions: the server closed the connection") == true, "\(failures)")
        #expect(failures.dropFirst().allSatisfy { $0.hasPrefix(first.url + "/chat/completions: cannot connect") }, "\(failures)")
        let afterwards = logged[logged.index(after: logged.startIndex)]
        #expect((afterwards["engine"] as? [String: Any])?["url"] as? String == second.url)
        #expect(((afterwards["engineFailures"] as? [String]) ?? []).allSatisfy { $0.contains("cannot connect") })
        let unanswered = try #require(logged.last)
        #expect(unanswered["outcome"] as? String == "error" && (unanswered["reason"] as? String)?.contains(second.url) == true, "\(unanswered)")
        #expect(try appliance.workspace.run(["log", "verify", "--root", "root"]).status == 0)
    }
}
