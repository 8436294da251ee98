import Foundation
import Testing
import SovereignTestSupport

@Suite struct VerifyCommandTests {
    /// --vsa-key writes a signed SLSA VSA v1 of the decision: securesystemslib
    /// verifies the envelope, in-toto-attestation parses the predicate, and
    /// its subject is the image manifest. A refusal writes a FAILED one.
    @Test func writesASignedVerificationSummary() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("image", sequence: 1)
        try appliance.workspace.generateKey("verifier")
        let verify = try appliance.workspace.run(["verify", "image", "--policy", "policy.json", "--vsa-key", "verifier.key",
                                                  "--vsa-out", "image.vsa.dsse.json", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"])
        #expect(verify.status == 0, "\(verify.stderr)")
        let checked = try runProcess(try CLI.python, [CLI.packageRoot + "/Tests/Interop/verify_dsse.py", "image.vsa.dsse.json", "1", "verifier.pub"],
                                     directory: appliance.path)
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
        let envelope = try jsonObject(String(decoding: appliance.workspace.read("image.vsa.dsse.json"), as: UTF8.self))
        let payload = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
        appliance.workspace.write("vsa.statement.json", bytes: [UInt8](payload))
        let shape = try runProcess(try CLI.python, [CLI.packageRoot + "/Tests/Interop/check_slsa_predicate.py", "vsa", "vsa.statement.json"],
                                   directory: appliance.path)
        #expect(shape.status == 0, "\(shape.stdout) \(shape.stderr)")
        let statement = try jsonObject(String(decoding: payload, as: UTF8.self))
        #expect(statement["predicateType"] as? String == "https://slsa.dev/verification_summary/v1")
        let subject = (statement["subject"] as? [[String: Any]])?.first?["digest"] as? [String: String]
        #expect(subject.map { "sha256:" + ($0["sha256"] ?? "") } == (try appliance.manifestDigest("image")))
        #expect((statement["predicate"] as? [String: Any])?["verificationResult"] as? String == "PASSED")

        // Under a policy that trusts another key: exit 1, and the VSA says FAILED.
        try appliance.workspace.generateKey("other")
        #expect(try appliance.workspace.run(["policy", "init", "--release-key", "other.pub", "--threshold", "1", "--out", "other.json"]).status == 0)
        let refused = try appliance.workspace.run(["verify", "image", "--policy", "other.json", "--vsa-key", "verifier.key",
                                                   "--vsa-out", "failed.vsa.dsse.json", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"])
        #expect(refused.status == 1)
        let failed = try jsonObject(String(decoding: appliance.workspace.read("failed.vsa.dsse.json"), as: UTF8.self))
        let failedPayload = try #require(Data(base64Encoded: failed["payload"] as? String ?? ""))
        #expect(((try jsonObject(String(decoding: failedPayload, as: UTF8.self)))["predicate"] as? [String: Any])?["verificationResult"] as? String == "FAILED")
    }

    /// An image whose layer bytes differ from its signed digest (swapped
    /// after signing): install refuses, naming the blob, and the root is
    /// left exactly as it was.
    @Test func installRefusesAnAlteredLayerAndLeavesTheRootAlone() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("good", sequence: 1)
        try appliance.build("bad", sequence: 2)
        #expect(try appliance.install("good").status == 0)
        let inspect = try jsonObject(try appliance.workspace.run(["inspect", "bad", "--json"]).stdout)
        let model = try #require((inspect["layers"] as? [[String: Any]])?.first?["digest"] as? String)
        let blob = appliance.workspace.directory.file("bad/blobs/sha256/" + model.dropFirst(7))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: blob)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: blob))
        let before = FileSystemPath.tree(appliance.root)
        let refused = try appliance.install("bad")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("blob \(model)"), "\(refused.stderr)")
        let after = FileSystemPath.tree(appliance.root)
        #expect(after.files == before.files)
        #expect(after.modes == before.modes)
    }

    /// Flip one byte at a time, at positions spread over every blob,
    /// index.json and every exported envelope of a signed image: verify
    /// fails on every one, naming the blob, index.json or the envelope.
    @Test func everyFlippedByteIsCaughtAndNamed() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("image", sequence: 1)
        let image = appliance.workspace.directory.file("image")
        #expect(try appliance.workspace.run(["verify", "image", "--policy", "policy.json"]).status == 0)

        var targets: [String] = ["index.json"]
        targets += try FileManager.default.contentsOfDirectory(atPath: image + "/blobs/sha256").sorted().map { "blobs/sha256/" + $0 }
        targets += try FileManager.default.contentsOfDirectory(atPath: image + "/attestations").sorted().map { "attestations/" + $0 }
        var checked = 0
        var generator = SeededBytes(seed: 300)
        for target in targets {
            let path = image + "/" + target
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            // index.json: every byte; small files: up to 40 spread positions; big: 40 random + both ends.
            var positions: [Int]
            if target == "index.json" {
                positions = Array(original.indices)
            } else if original.count <= 40 {
                positions = Array(original.indices)
            } else {
                positions = (0..<38).map { $0 * (original.count - 1) / 37 } + [Int(generator.next() % UInt64(original.count)), original.count - 1]
            }
            for position in Set(positions).sorted() {
                var flipped = original
                flipped[position] ^= 0x01 << (position % 8)
                try Data(flipped).write(to: URL(fileURLWithPath: path))
                let result = try appliance.workspace.run(["verify", "image", "--policy", "policy.json"])
                #expect(result.status == 1, "\(target) byte \(position) was not caught")
                let named = target == "index.json" ? "index.json" : target.hasPrefix("blobs/") ? "blob sha256:" + target.dropFirst("blobs/sha256/".count) : target
                // A flip in index.json may name the index or the blob its altered descriptor now names.
                #expect(result.stderr.contains(named) || (target == "index.json" && result.stderr.contains(": blob ")),
                        "\(target) byte \(position): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
                checked += 1
            }
            try Data(original).write(to: URL(fileURLWithPath: path))
        }
        #expect(checked >= 300, "only \(checked) positions")
        #expect(try appliance.workspace.run(["verify", "image", "--policy", "policy.json"]).status == 0)
    }
}
