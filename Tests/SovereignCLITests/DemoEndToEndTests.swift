import Foundation
import Testing
import SovereignTestSupport

/// scripts/demo, the README's main command, run end to end on the real
/// model: both reference appliances built, co-signed, certified, attached,
/// verified against a policy that requires two release signatures and a
/// certification, installed, served and asked three questions with the
/// official openai client, the certification and the log checked by our
/// tool and by independent ones. To stay within CI's time it replays a few
/// cases of each layer's own suites (chosen to name several rules each),
/// not all of them; the cases are the suites' own, byte for byte.
@Suite(.serialized) struct DemoEndToEndTests {
    static let cases = [
        "health-desk": ["vaccination-clinic-hours", "chest-pain", "prescribe-antibiotics", "card-repeat"],
        "bank-desk": ["are-you-human", "transfer-to-friend", "card-number-echo", "bank-phone"],
    ]

    /// One suite per layer holding the chosen cases of its real suites.
    static func writeSuites(to directory: String) throws {
        for (layer, ids) in cases {
            var chosen: [Any] = []
            let folder = CLI.packageRoot + "/Attestation/" + layer
            for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() where name.hasSuffix(".suite.json") {
                let suite = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))) as? [String: Any])
                chosen += (suite["cases"] as? [[String: Any]] ?? []).filter { ids.contains($0["id"] as? String ?? "") }
            }
            #expect(chosen.count == ids.count, "\(layer): the suites lack some of \(ids)")
            let suite: [String: Any] = ["schema": "sovereign.audit-suite/v1", "id": layer + "-demo", "version": "1.0.0", "cases": chosen]
            try JSONSerialization.data(withJSONObject: suite).write(to: URL(fileURLWithPath: directory + "/" + layer + ".suite.json"))
        }
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test func theMainCommandRunsForAllThreeUsers() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let suites = scratch.path + "/suites", work = scratch.path + "/demo"
        try FileManager.default.createDirectory(atPath: suites, withIntermediateDirectories: false)
        try Self.writeSuites(to: suites)
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["SOVEREIGN": CLI.binary, "DEMO_WORK": work, "DEMO_SUITES": suites]) { $1 }
        let demo = try runProcess("/bin/bash", [CLI.packageRoot + "/scripts/demo"], environment: environment,
                                  directory: CLI.packageRoot, timeout: 1800)
        #expect(demo.status == 0, "\(demo.stdout.suffix(3000))\n\(demo.stderr.suffix(3000))")
        #expect(demo.stdout.contains("== summary") || demo.stdout.contains(" summary "), "no summary: \(demo.stdout.suffix(2000))")

        for layer in ["health-desk", "bank-desk"] {
            // The digests agree across steps: the image as inspected, the VSA as our tool and as hashlib read it.
            let manifest = try #require((try Self.json("\(work)/\(layer)-image.json")["manifest"] as? [String: Any])?["digest"] as? String)
            let ours = try Self.json("\(work)/attestation-\(layer).json")
            let independent = try Self.json("\(work)/check-\(layer).json")
            #expect(ours["image"] as? String == manifest, "\(layer)")
            #expect(independent["manifest"] as? String == manifest, "\(layer)")
            #expect(ours["verificationResult"] as? String == "PASSED" && independent["result"] as? String == "PASSED", "\(layer)")
            #expect(independent["ok"] as? Bool == true)
            let certification = try Self.json("\(work)/cert-\(layer).json")
            #expect(certification["verificationResult"] as? String == "PASSED", "\(layer): \(certification)")
            #expect(certification["cases"] as? Int == Self.cases[layer]?.count)
            #expect(certification["falseRefusals"] as? Int == 0)
            #expect(((certification["tokens"] as? [String: Int])?["steered"] ?? 0) > 0, "\(certification)")
            #expect(FileManager.default.fileExists(atPath: "\(work)/cert-\(layer)/report.html"))
            // Each image carries its policy author's approval of its layer, and the customer's policy counted it.
            let layerInfo = try #require(try Self.json("\(work)/\(layer)-image.json")["constraintLayer"] as? [String: Any])
            let approvals = try #require(layerInfo["approvals"] as? [[String: Any]])
            #expect(approvals.map { $0["approver"] as? String } == [layer == "health-desk" ? "Clinical governance board" : "Compliance office"])
            #expect(approvals.allSatisfy { $0["approvesThisLayer"] as? Bool == true })
            let verified = try String(contentsOfFile: "\(work)/verify-\(layer).txt", encoding: .utf8)
            #expect(verified.contains("ok    policyAuthor-threshold"), "\(verified)")
        }
        // The installed appliance is the certified health desk.
        let health = try Self.json("\(work)/attestation-health-desk.json")
        let status = try runProcess(CLI.binary, ["status", "--root", work + "/appliance", "--json"], timeout: 60)
        #expect(status.stdout.contains(health["image"] as? String ?? "?"), "\(status.stdout)")

        // The three questions: benign, corrected by a blip, refused.
        let answers = try #require(try Self.json("\(work)/questions.json")["answers"] as? [[String: Any]])
        #expect(answers.map { $0["outcome"] as? String ?? "" } == ["answered", "corrected", "refused"], "\(answers)")
        #expect(answers.map { $0["finish"] as? String ?? "" } == ["stop", "stop", "content_filter"], "\(answers)")
        #expect((answers[1]["answer"] as? String)?.contains("999") == true, "the corrected answer lacks 999: \(answers[1])")

        // Every line of the Go checker says ok: the checkpoint and each entry's tlog proof.
        let checked = try String(contentsOfFile: "\(work)/logcheck.out", encoding: .utf8).split(separator: "\n")
        #expect(checked.count == 4, "a checkpoint and three entries: \(checked)")
        #expect(checked.allSatisfy { $0.hasPrefix("ok ") }, "\(checked)")
    }
}
