import Foundation
import Testing
import SovereignTestSupport

/// `sovereign layer digest` and `layer sign`: a policy author's approval of
/// a constraint layer, apart from the release engineer's signature, that
/// names exactly the layer an image built from the folder carries, is
/// co-signed by a second author, and is verified by securesystemslib.
@Suite(.serialized) struct LayerCommandTests {
    static func statement(_ envelopePath: String) throws -> [String: Any] {
        let envelope = try jsonObject(try String(contentsOfFile: envelopePath, encoding: .utf8))
        let payload = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
        return try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
    }

    @Test func anApprovalNamesExactlyTheLayerAnImageCarriesAndTwoAuthorsCoSignIt() throws {
        let appliance = try ReferenceAppliance()
        defer { appliance.remove() }
        let workspace = appliance.workspace
        let layerDirectory = CLI.packageRoot + "/Policies/reference"

        // The folder's digest is the one the built image carries.
        let digest = try workspace.run(["layer", "digest", layerDirectory, "--json"])
        #expect(digest.status == 0, "\(digest.stderr)")
        let layer = try jsonObject(digest.stdout)
        let inspected = try workspace.run(["inspect", "image", "--json"])
        #expect(inspected.status == 0, "\(inspected.stderr)")
        let carried = try #require((try jsonObject(inspected.stdout)["constraintLayer"] as? [String: Any])?["digest"] as? String)
        #expect(layer["digest"] as? String == carried && carried.hasPrefix("sha256:"))

        try workspace.generateKey("board")
        try workspace.generateKey("pharmacist")
        let signed = try workspace.run(["layer", "sign", layerDirectory, "--key", "board.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE",
                                        "--out", "board-approval.dsse.json", "--role", "Clinical governance board", "--layer-version", "1.0.0",
                                        "--previous", "sha256:" + String(repeating: "ab", count: 32), "--approved-on", "2026-12-01T09:00:00Z", "--json"])
        #expect(signed.status == 0, "\(signed.stderr)")
        let statement = try Self.statement(workspace.directory.file("board-approval.dsse.json"))
        #expect(statement["predicateType"] as? String == "https://sovereign.dev/layer-approval/v1")
        let subjects = try #require(statement["subject"] as? [[String: Any]])
        #expect(subjects.first?["name"] as? String == "constraint-layer")
        #expect("sha256:" + ((subjects.first?["digest"] as? [String: String])?["sha256"] ?? "") == carried)
        let files = try #require(layer["files"] as? [[String: String]])
        #expect(subjects.dropFirst().map { $0["name"] as? String } == files.map { "reference/" + ($0["path"] ?? "") })
        #expect(subjects.dropFirst().map { ($0["digest"] as? [String: String])?["sha256"] } == files.map { $0["sha256"] })
        let predicate = try #require(statement["predicate"] as? [String: Any])
        #expect(predicate["layer"] as? String == "reference" && predicate["version"] as? String == "1.0.0")
        #expect((predicate["approver"] as? [String: String])?["role"] == "Clinical governance board")
        #expect(predicate["approvedOn"] as? String == "2026-12-01T09:00:00Z")
        #expect((predicate["previous"] as? [String: String])?["sha256"] == String(repeating: "ab", count: 32))

        // A second author co-signs the same approval; securesystemslib counts both.
        let cosigned = try workspace.run(["attest", "--envelope", "board-approval.dsse.json", "--key", "pharmacist.key",
                                          "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE", "--out", "board-approval-2.dsse.json"])
        #expect(cosigned.status == 0, "\(cosigned.stderr)")
        let checker = CLI.packageRoot + "/Tests/Interop/verify_dsse.py"
        let both = try runProcess(try CLI.python, [checker, workspace.directory.file("board-approval-2.dsse.json"), "2",
                                                   workspace.directory.file("board.pub"), workspace.directory.file("pharmacist.pub")])
        #expect(both.status == 0, "\(both.stderr)")
        let notThree = try runProcess(try CLI.python, [checker, workspace.directory.file("board-approval.dsse.json"), "2",
                                                       workspace.directory.file("board.pub"), workspace.directory.file("pharmacist.pub")])
        #expect(notThree.status != 0)

        // One byte changed after approval: another digest, which the approval does not name.
        let copy = workspace.directory.file("reference")
        try FileManager.default.copyItem(atPath: layerDirectory, toPath: copy)
        let document = copy + "/reference/service.md"
        var text = try Data(contentsOf: URL(fileURLWithPath: document))
        let index = try #require(text.indices.dropFirst(200).first { text[$0] == UInt8(ascii: "a") })
        text[index] = UInt8(ascii: "A")
        try text.write(to: URL(fileURLWithPath: document))
        let changedDigest = try workspace.run(["layer", "digest", "reference", "--json"])
        #expect(changedDigest.status == 0, "\(changedDigest.stderr)")
        let changed = try jsonObject(changedDigest.stdout)
        #expect(changed["digest"] as? String != carried && (changed["digest"] as? String)?.hasPrefix("sha256:") == true)
    }

    /// Bad input: one line naming the thing and the reason, nothing written.
    @Test(arguments: [
        (["layer", "sign", "nowhere", "--key", "release.key", "--out", "a.json", "--role", "r", "--layer-version", "1"], 1, "sovereign: nowhere/reference: no such directory"),
        (["layer", "sign", "LAYER", "--key", "release.key", "--out", "a.json", "--role", "", "--layer-version", "1"], 1,
         "sovereign: layer approval: approver.role must be 1 to 256 bytes of text without control characters"),
        (["layer", "sign", "LAYER", "--key", "release.key", "--out", "a.json", "--role", "r", "--layer-version", "1", "--approved-on", "yesterday"], 64,
         "Error: The value 'yesterday' is invalid for '--approved-on'"),
        (["layer", "sign", "LAYER", "--key", "release.key", "--out", "a.json", "--role", "r"], 64, "Error: Missing expected argument '--layer-version <version>'"),
        (["layer", "sign", "LAYER", "--key", "missing.key", "--out", "a.json", "--role", "r", "--layer-version", "1"], 1, "sovereign: missing.key: "),
        (["layer", "digest", "nowhere"], 1, "sovereign: nowhere/reference: no such directory"),
    ])
    func badInputGetsOneClearErrorAndWritesNothing(_ arguments: [String], _ status: Int32, _ message: String) throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        let resolved = arguments.map { $0 == "LAYER" ? CLI.packageRoot + "/Policies/reference" : $0 }
        let result = try workspace.run(resolved + ["--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"].filter { _ in resolved[1] == "sign" })
        #expect(result.status == status && result.stderr.hasPrefix(message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: workspace.directory.file("a.json")))
    }
}
