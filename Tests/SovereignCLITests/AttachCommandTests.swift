import Foundation
import Testing
import SovereignTestSupport

/// `sovereign attach`: statements made after the build become OCI
/// referrers of the image without changing a byte of it, and nothing that
/// is not a signed statement about this very image gets in.
@Suite struct AttachCommandTests {
    /// A built image, the digest of its manifest, and an envelope signed by
    /// `certifier` whose statement is about `subject` (default: the image).
    static func fixture() throws -> (ImageFixture, manifest: String) {
        let fixture = try ImageFixture()
        let built = try fixture.build("image")
        #expect(built.status == 0, "\(built.stderr)")
        try fixture.workspace.generateKey("certifier")
        let inspected = try jsonObject(try fixture.workspace.run(["inspect", "image", "--json"]).stdout)
        let manifest = try #require((inspected["manifest"] as? [String: Any])?["digest"] as? String)
        return (fixture, manifest)
    }

    static func envelope(_ fixture: ImageFixture, about digest: String, out: String) throws {
        fixture.workspace.write(out + ".statement.json", """
            {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "test-appliance", "digest": {"sha256": "\(digest.dropFirst("sha256:".count))"}}],
             "predicateType": "https://sovereign.dev/test-attachment/v1", "predicate": {"note": "made after the build"}}
            """)
        let attested = try fixture.workspace.run(["attest", "--statement", out + ".statement.json", "--key", "certifier.key",
                                                  "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE", "--out", out])
        #expect(attested.status == 0, "\(attested.stderr)")
    }

    @Test func attachesAsAReferrerWithoutChangingTheImage() throws {
        let (fixture, manifest) = try Self.fixture()
        defer { fixture.remove() }
        let workspace = fixture.workspace
        try Self.envelope(fixture, about: manifest, out: "late.dsse.json")
        let attached = try workspace.run(["attach", "--image", "image", "late.dsse.json"])
        #expect(attached.status == 0 && attached.stdout.contains("attached https://sovereign.dev/test-attachment/v1 to \(manifest)"), "\(attached.stderr)")

        let inspected = try jsonObject(try workspace.run(["inspect", "image", "--json"]).stdout)
        #expect((inspected["manifest"] as? [String: Any])?["digest"] as? String == manifest)
        let referrers = try #require(inspected["referrers"] as? [[String: Any]])
        let late = try #require(referrers.first { $0["predicateType"] as? String == "https://sovereign.dev/test-attachment/v1" })
        let certifier = try jsonObject(try workspace.run(["key", "show", "certifier.pub", "--json"]).stdout)["keyid"] as? String
        #expect(late["keyids"] as? [String] == [certifier].compactMap { $0 })

        // Still a valid image for our verifier and for skopeo, same digest after a copy.
        let policy = try workspace.run(["policy", "init", "--release-key", "release.pub", "--threshold", "1", "--out", "policy.json"])
        #expect(policy.status == 0, "\(policy.stderr)")
        let verified = try workspace.run(["verify", "image", "--policy", "policy.json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let copy = try runProcess("/usr/bin/skopeo", ["copy", "--preserve-digests", "oci:image:1.2.3", "oci:copied:1.2.3"], directory: workspace.path)
        #expect(copy.status == 0, "\(copy.stderr)")
        let copied = try runProcess("/usr/bin/skopeo", ["inspect", "oci:copied:1.2.3"], directory: workspace.path)
        #expect(copied.stdout.contains(manifest), "\(copied.stdout)")

        // Co-signing signs the build's statements only, never the attached one.
        try workspace.generateKey("second")
        let cosigned = try workspace.run(["sign", "image", "--key", "second.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"])
        #expect(cosigned.status == 0, "\(cosigned.stderr)")
        let after = try #require(try jsonObject(try workspace.run(["inspect", "image", "--json"]).stdout)["referrers"] as? [[String: Any]])
        #expect(after.first { $0["predicateType"] as? String == "https://sovereign.dev/test-attachment/v1" }?["keyids"] as? [String] == [certifier].compactMap { $0 })
        #expect((after.first { $0["predicateType"] as? String == "https://slsa.dev/provenance/v1" }?["keyids"] as? [String])?.count == 2)
    }

    /// Each refusal names the file and the reason, and leaves index.json as it was.
    @Test func refusesWhatIsNotASignedStatementAboutThisImage() throws {
        let (fixture, manifest) = try Self.fixture()
        defer { fixture.remove() }
        let workspace = fixture.workspace
        let other = "sha256:" + String(repeating: "ab", count: 32)
        try Self.envelope(fixture, about: other, out: "other.dsse.json")
        try Self.envelope(fixture, about: manifest, out: "good.dsse.json")
        let good = try #require(try JSONSerialization.jsonObject(with: Data(workspace.read("good.dsse.json"))) as? [String: Any])
        var unsigned = good
        unsigned["signatures"] = [[String: Any]]()
        workspace.write("unsigned.dsse.json", bytes: Array(try JSONSerialization.data(withJSONObject: unsigned)))
        var wrongType = good
        wrongType["payloadType"] = "text/plain"
        workspace.write("wrong-type.dsse.json", bytes: Array(try JSONSerialization.data(withJSONObject: wrongType)))
        workspace.write("truncated.dsse.json", bytes: Array(workspace.read("good.dsse.json").prefix(40)))
        let index = workspace.read("image/index.json")

        for (file, reason) in [
            ("other.dsse.json", "other.dsse.json: is about \(other), not this image's manifest \(manifest)"),
            ("unsigned.dsse.json", "unsigned.dsse.json: is not signed"),
            ("wrong-type.dsse.json", "wrong-type.dsse.json: payloadType is 'text/plain'"),
            ("truncated.dsse.json", "truncated.dsse.json"),
            ("missing.dsse.json", "missing.dsse.json"),
        ] {
            // A good envelope first on the line: nothing is attached unless everything is.
            let result = try workspace.run(["attach", "--image", "image", "good.dsse.json", file])
            #expect(result.status == 1 && result.stderr.hasPrefix("sovereign: ") && result.stderr.contains(reason), "\(file): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(workspace.read("image/index.json") == index, "\(file) changed index.json")
        }
        let notAnImage = try workspace.run(["attach", "--image", "inputs", "good.dsse.json"])
        #expect(notAnImage.status == 1 && notAnImage.stderr.contains("inputs"), "\(notAnImage.stderr)")
    }
}
