import Foundation
import Testing
import SovereignTestSupport
import SovereignSystem
import SovereignCrypto
@testable import SovereignImage

/// Policy authors approve the constraint layer apart from the release
/// engineer: the build carries their signed approvals, `inspect` shows who
/// approved what, and a trust policy with a policy-author threshold
/// refuses, at verify and install, an image whose layer lacks them, each
/// time with its own reason.
@Suite struct LayerApprovalImageTests {
    /// The fixture with two policy authors' keys and the layer they approve.
    struct Authors {
        let appliance: ApplianceFixture
        var workspace: Workspace { appliance.workspace }
        let layer: String

        init() throws {
            appliance = try ApplianceFixture()
            layer = appliance.workspace.directory.file("inputs/Policies/reference")
            try appliance.workspace.generateKey("board")
            try appliance.workspace.generateKey("pharmacist")
        }

        /// `layer sign` by `key` into `out`.
        func approve(_ out: String, key: String = "board", role: String = "Clinical governance board") throws {
            let signed = try workspace.run(["layer", "sign", layer, "--key", key + ".key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE",
                                            "--out", out, "--role", role, "--layer-version", "1.0.0", "--approved-on", "2026-11-30T09:00:00Z"])
            #expect(signed.status == 0, "\(signed.stderr)")
        }

        func build(_ out: String, approvals: [String]) throws -> ProcessResult {
            try workspace.run(["build", appliance.fixture.specPath, "--key", "release.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE",
                               "--out", out] + approvals.flatMap { ["--layer-approval", $0] })
        }

        /// A policy: release.pub (1 of 1) and both authors, `threshold` of them.
        func policy(_ out: String, threshold: Int, edit: ((inout [String: Any]) -> Void)? = nil) throws {
            let made = try workspace.run(["policy", "init", "--release-key", "release.pub", "--threshold", "1",
                                          "--author-key", "board.pub", "--author-key", "pharmacist.pub",
                                          "--author-threshold", String(threshold), "--out", out])
            #expect(made.status == 0, "\(made.stderr)")
            guard let edit else { return }
            var object = try jsonObject(String(decoding: workspace.read(out), as: UTF8.self))
            edit(&object)
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: workspace.directory.file(out)))
        }

        func keyID(_ name: String) throws -> String {
            let shown = try workspace.run(["key", "show", name + ".pub", "--json"])
            return try #require(try jsonObject(shown.stdout)["keyid"] as? String)
        }

        /// Verify and install under `policy` both fail, naming `reason`; nothing is installed.
        func expectRefused(_ image: String, policy: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let verify = try workspace.run(["verify", image, "--policy", policy])
            #expect(verify.status == 1 && verify.stderr.contains(reason), "verify: \(verify.stderr)", sourceLocation: sourceLocation)
            let install = try workspace.run(["install", image, "--policy", policy, "--root", "root"])
            #expect(install.status == 1 && install.stderr.contains(reason), "install: \(install.stderr)", sourceLocation: sourceLocation)
            #expect(install.stderr.split(separator: "\n").count == 1, "one error line: \(install.stderr)", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: appliance.root), sourceLocation: sourceLocation)
        }

        /// An image built by the real builder with release.key, carrying
        /// `approvals` unchecked: a compromised release key or a builder bug.
        func forge(_ out: String, approvals: [String]) throws {
            let spec = try ImageSpec(path: appliance.fixture.specPath)
            let sealed = try EncryptedPrivateKey(json: try FileSystem.readFile(workspace.path + "/release.key"), source: "release.key")
            let key = try sealed.open(passphrase: Array("test passphrase".utf8), source: "release.key")
            var options = ImageBuilder.Options(signingKeys: [key], modelDescription: ModelDescription(architecture: "llama", parameters: [:]))
            options.layerApprovals = approvals.map { ($0, workspace.read($0)) }
            options.carriesUncheckedApprovals = true
            _ = try ImageBuilder(spec: spec, options: options).build(output: workspace.path + "/" + out)
        }

        /// `approval` with its signatures taken off, into `out`.
        func unsigned(_ approval: String, into out: String) throws {
            var envelope = try jsonObject(String(decoding: workspace.read(approval), as: UTF8.self))
            envelope["signatures"] = []
            try JSONSerialization.data(withJSONObject: envelope).write(to: URL(fileURLWithPath: workspace.directory.file(out)))
        }

        func remove() { appliance.remove() }
    }

    @Test func theBuildCarriesCoSignedApprovalsAndThePolicyCountsThem() throws {
        let authors = try Authors()
        defer { authors.remove() }
        let workspace = authors.workspace
        try authors.approve("approval.dsse.json")
        let cosigned = try workspace.run(["attest", "--envelope", "approval.dsse.json", "--key", "pharmacist.key",
                                          "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE", "--out", "approval-2.dsse.json"])
        #expect(cosigned.status == 0, "\(cosigned.stderr)")

        let built = try authors.build("approved", approvals: ["approval-2.dsse.json"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.contains("carries approval by Clinical governance board of reference 1.0.0"), "\(built.stdout)")
        // Carried as signed, exported for auditors, verified by securesystemslib with both authors' keys.
        let exported = workspace.directory.file("approved/attestations/layer-approval.1.dsse.json")
        #expect(workspace.read("approved/attestations/layer-approval.1.dsse.json") == workspace.read("approval-2.dsse.json"))
        let checked = try runProcess(try CLI.python, [CLI.packageRoot + "/Tests/Interop/verify_dsse.py", exported, "2",
                                                      workspace.directory.file("board.pub"), workspace.directory.file("pharmacist.pub")])
        #expect(checked.status == 0, "\(checked.stderr)")

        // inspect says who approved the layer it carries.
        let inspected = try jsonObject(try workspace.run(["inspect", "approved", "--json"]).stdout)
        let layer = try #require(inspected["constraintLayer"] as? [String: Any])
        let approvals = try #require(layer["approvals"] as? [[String: Any]])
        #expect(approvals.count == 1)
        #expect(approvals.first?["approver"] as? String == "Clinical governance board")
        #expect(approvals.first?["version"] as? String == "1.0.0" && approvals.first?["approvedOn"] as? String == "2026-11-30T09:00:00Z")
        #expect(approvals.first?["digest"] as? String == layer["digest"] as? String && approvals.first?["approvesThisLayer"] as? Bool == true)
        #expect(approvals.first?["keyids"] as? [String] == [try authors.keyID("board"), try authors.keyID("pharmacist")])
        let text = try workspace.run(["inspect", "approved"])
        #expect(text.stdout.contains("approval by Clinical governance board of reference 1.0.0 on 2026-11-30T09:00:00Z"), "\(text.stdout)")

        // Two of two authors: met. The same image without approvals: refused, named.
        try authors.policy("authors.json", threshold: 2)
        let verified = try workspace.run(["verify", "approved", "--policy", "authors.json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let board = try authors.keyID("board")
        #expect(verified.stdout.contains("ok    policyAuthor-threshold") && verified.stdout.contains("policy author key \(board)"), "\(verified.stdout)")
        #expect(try authors.build("unapproved", approvals: []).status == 0)
        try authors.expectRefused("unapproved", policy: "authors.json",
                                  "policy author signatures: no approval of the constraint layer this image carries (\(layer["digest"] as? String ?? "?"))")
        // A policy that asks for no approval installs the unapproved image, as before.
        let releaseOnly = try workspace.run(["verify", "unapproved", "--policy", "policy.json"])
        #expect(releaseOnly.status == 0, "\(releaseOnly.stderr)")

        // An approval given after the build is attached to it: the image's digest is unchanged, and now it meets the policy.
        let before = try authors.appliance.manifestDigest("unapproved")
        let attached = try workspace.run(["attach", "--image", "unapproved", "approval-2.dsse.json"])
        #expect(attached.status == 0, "\(attached.stderr)")
        #expect(try authors.appliance.manifestDigest("unapproved") == before)
        let installed = try workspace.run(["install", "unapproved", "--policy", "authors.json", "--root", "root", "--json"])
        #expect(installed.status == 0, "\(installed.stderr)")
    }

    @Test func eachMissingApprovalIsRefusedWithItsOwnReason() throws {
        let authors = try Authors()
        defer { authors.remove() }
        try authors.approve("approval.dsse.json")
        #expect(try authors.build("image", approvals: ["approval.dsse.json"]).status == 0)
        let board = try authors.keyID("board")

        try authors.policy("two.json", threshold: 2)
        try authors.expectRefused("image", policy: "two.json",
                                  "is signed by 1 of the required 2 distinct policy author keys (counted: \(board))")
        try authors.policy("revoked.json", threshold: 1) { policy in policy["revokedKeys"] = [board] }
        try authors.expectRefused("image", policy: "revoked.json", "not counted: \(board) is revoked")
        try authors.policy("expired.json", threshold: 1) { policy in
            var keys = policy["keys"] as? [[String: Any]] ?? []
            for i in keys.indices where keys[i]["keyid"] as? String == board { keys[i]["expires"] = "2026-01-01T00:00:00Z" }
            policy["keys"] = keys
        }
        try authors.expectRefused("image", policy: "expired.json", "not counted: \(board) expired at 2026-01-01T00:00:00Z")
        // The release engineer approving the layer is no policy author's approval.
        try authors.approve("self-approved.dsse.json", key: "release", role: "Release engineering")
        #expect(try authors.build("self-approved", approvals: ["self-approved.dsse.json"]).status == 0)
        try authors.policy("one.json", threshold: 1)
        try authors.expectRefused("self-approved", policy: "one.json", "does not have role 'policyAuthor'")
        let accepted = try authors.workspace.run(["verify", "image", "--policy", "one.json"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        // Nor can a policy make the release key a policy author too.
        let both = try authors.workspace.run(["policy", "init", "--release-key", "release.pub", "--threshold", "1",
                                              "--author-key", "release.pub", "--author-threshold", "1", "--out", "both.json"])
        expectFailure(both, "sovereign: both.json: keys[0].roles: a key cannot be both 'release' and 'policyAuthor' (the constraint layer is approved apart from whoever releases the image)")
        #expect(!FileManager.default.fileExists(atPath: authors.workspace.directory.file("both.json")))
    }

    /// One byte of a reference document changed after approval: the build
    /// refuses the old approval, naming the file; an image forged to carry
    /// it anyway (a compromised release key) is refused at verify and install.
    @Test func aLayerChangedByOneByteAfterApprovalIsRefusedAtBuildAndAtInstall() throws {
        let authors = try Authors()
        defer { authors.remove() }
        let workspace = authors.workspace
        try authors.approve("approval.dsse.json")
        let document = authors.layer + "/reference/service.md"
        var text = try Data(contentsOf: URL(fileURLWithPath: document))
        let index = try #require(text.indices.dropFirst(200).first { text[$0] == UInt8(ascii: "a") })
        text[index] = UInt8(ascii: "A")
        try text.write(to: URL(fileURLWithPath: document))

        let before = workspace.snapshot()
        let refused = try authors.build("changed", approvals: ["approval.dsse.json"])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("sovereign: approval.dsse.json: approves layer 'reference' version 1.0.0 (sha256:"), "\(refused.stderr)")
        #expect(refused.stderr.contains("not the layer packaged (sha256:") && refused.stderr.contains("reference/reference/service.md changed since"),
                "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        workspace.expectUnchanged(since: before)

        // Forged: validly release-signed, carrying the stale approval.
        try authors.forge("forged", approvals: ["approval.dsse.json"])
        let stale = "(an approval of another version of the layer)"
        try authors.policy("authors.json", threshold: 1)
        try authors.expectRefused("forged", policy: "authors.json", stale)
        try authors.expectRefused("forged", policy: "policy.json", stale)
        let inspected = try workspace.run(["inspect", "forged"])
        #expect(inspected.stdout.contains("NOT this layer"), "\(inspected.stdout)")
        // Nor can the stale approval be attached to an image of the changed layer.
        #expect(try authors.build("unapproved", approvals: []).status == 0)
        let attach = try workspace.run(["attach", "--image", "unapproved", "approval.dsse.json"])
        #expect(attach.status == 1 && attach.stderr.contains("reference/reference/service.md changed since"), "\(attach.stderr)")
    }

    /// The spec names approvals too (relative to itself); the image they
    /// make is as reproducible as any: the same inputs, the same bytes.
    @Test func theSpecNamesApprovalsAndTheImageIsReproducible() throws {
        let authors = try Authors()
        defer { authors.remove() }
        let workspace = authors.workspace
        try authors.approve("approval.dsse.json")
        let specPath = authors.appliance.fixture.specPath
        let spec = try String(contentsOfFile: specPath, encoding: .utf8)
        try spec.replacingOccurrences(of: #""constraintLayer":"#, with: #""layerApprovals": ["../../approval.dsse.json"], "constraintLayer":"#)
            .write(toFile: specPath, atomically: true, encoding: .utf8)
        for out in ["first", "second"] { #expect(try authors.build(out, approvals: []).status == 0) }
        #expect(FileSystemPath.tree(workspace.directory.file("first")).files == FileSystemPath.tree(workspace.directory.file("second")).files)
        #expect(workspace.read("first/attestations/layer-approval.1.dsse.json") == workspace.read("approval.dsse.json"))
        // Given again on the command line, the same approval is carried once.
        #expect(try authors.build("third", approvals: ["approval.dsse.json"]).status == 0)
        #expect(FileSystemPath.tree(workspace.directory.file("third")).files == FileSystemPath.tree(workspace.directory.file("first")).files)
        try authors.policy("authors.json", threshold: 1)
        let verified = try workspace.run(["verify", "first", "--policy", "authors.json"])
        #expect(verified.status == 0, "\(verified.stderr)")
    }

    /// What build and attach refuse to take in (an unsigned approval, more
    /// approvals than an image carries), an image that carries anyway is
    /// read alike by every command: counted for nothing, shown, installable
    /// where the policy asks for no approval.
    @Test func whatBuildAndAttachRefuseEveryCommandReadsAlike() throws {
        let authors = try Authors()
        defer { authors.remove() }
        let workspace = authors.workspace
        try authors.approve("approval.dsse.json")
        try authors.unsigned("approval.dsse.json", into: "unsigned.json")
        #expect(try authors.build("unapproved", approvals: []).status == 0)
        let before = FileSystemPath.tree(workspace.directory.file("unapproved")).files
        let attach = try workspace.run(["attach", "--image", "unapproved", "unsigned.json"])
        expectFailure(attach, "sovereign: unsigned.json: is not signed")

        try authors.forge("forged", approvals: ["unsigned.json"])
        let inspected = try workspace.run(["inspect", "forged"])
        #expect(inspected.status == 0 && inspected.stdout.contains("signed by nobody"), "\(inspected.stdout) \(inspected.stderr)")
        try authors.policy("authors.json", threshold: 1)
        try authors.expectRefused("forged", policy: "authors.json", "is signed by 0 of the required 1 distinct policy author keys (counted: none)")
        let installed = try workspace.run(["install", "forged", "--policy", "policy.json", "--root", "root"])
        #expect(installed.status == 0, "\(installed.stderr)")

        // Sixteen approvals at most, however they arrive; a refused attach changes nothing.
        for n in 1...17 {
            let signed = try workspace.run(["layer", "sign", authors.layer, "--key", "board.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE",
                                            "--out", "a\(n).json", "--role", "Board", "--layer-version", "1.0.\(n)"])
            #expect(signed.status == 0, "\(signed.stderr)")
        }
        let seventeen = (1...17).map { "a\($0).json" }
        let tooMany = try workspace.run(["attach", "--image", "unapproved"] + seventeen)
        expectFailure(tooMany, "sovereign: unapproved: would carry 17 layer approvals, more than 16")
        #expect(FileSystemPath.tree(workspace.directory.file("unapproved")).files == before)
        let built = try authors.build("seventeen", approvals: seventeen)
        #expect(built.status == 1 && built.stderr.contains("17 layer approvals given, more than the 16 an image carries"), "\(built.stderr)")
        let sixteen = try workspace.run(["attach", "--image", "unapproved"] + seventeen.dropLast())
        #expect(sixteen.status == 0, "\(sixteen.stderr)")
        let verified = try workspace.run(["verify", "unapproved", "--policy", "authors.json"])
        #expect(verified.status == 0, "\(verified.stderr)")
    }

    /// Bad approval input: one line naming the file and the reason, nothing built.
    @Test func badApprovalsAreRefusedByTheBuild() throws {
        let authors = try Authors()
        defer { authors.remove() }
        let workspace = authors.workspace
        try authors.approve("approval.dsse.json")
        try authors.unsigned("approval.dsse.json", into: "unsigned.json")
        workspace.write("truncated.json", bytes: Array(workspace.read("approval.dsse.json").prefix(100)))
        let cases: [(String, String)] = [
            ("missing.json", "sovereign: missing.json: "),
            ("unsigned.json", "sovereign: unsigned.json: is not signed"),
            ("truncated.json", "sovereign: truncated.json: "),
        ]
        for (file, message) in cases {
            let before = workspace.snapshot()
            let result = try authors.build("image", approvals: [file])
            #expect(result.status == 1 && result.stderr.hasPrefix(message), "\(file): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            workspace.expectUnchanged(since: before)
        }
        // A statement of another kind is not an approval.
        #expect(try authors.build("image", approvals: []).status == 0)
        let provenance = try authors.build("image2", approvals: ["image/attestations/provenance.dsse.json"])
        #expect(provenance.status == 1 && provenance.stderr.contains("predicateType is 'https://slsa.dev/provenance/v1', expected 'https://sovereign.dev/layer-approval/v1'"),
                "\(provenance.stderr)")
    }
}
