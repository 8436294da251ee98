import Foundation
import Testing
import SovereignTestSupport

@Suite struct BuildCommandTests {
    /// Two builds of the same spec from different copies of the inputs,
    /// under different working directories, TMPDIR, umask, TZ, LC_ALL, input
    /// mtimes and directory creation orders, give byte-identical outputs:
    /// layout directory (modes included), archive and signed envelopes.
    @Test func buildsAreBitForBitReproducible() throws {
        let first = try ImageFixture()
        let second = try ImageFixture(reverseOrder: true)
        defer { first.remove(); second.remove() }
        // The same keys in both, so the (deterministic) signatures agree too.
        try first.makeP256Key()
        for name in ["release.key", "release.pub", "p256.pem"] {
            try? FileManager.default.removeItem(atPath: second.workspace.directory.file(name))
            try FileManager.default.copyItem(atPath: first.workspace.directory.file(name), toPath: second.workspace.directory.file(name))
        }
        let tmpA = first.workspace.directory.file("tmp-a"), tmpB = second.workspace.directory.file("tmp-b")
        try FileManager.default.createDirectory(atPath: tmpA, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tmpB, withIntermediateDirectories: true)
        let a = try first.build("image", archive: "image.tar", modelSigningKey: "p256.pem", environment: ["TMPDIR": tmpA, "TZ": "Asia/Tokyo", "LC_ALL": "C"],
                                shellPrefix: "umask 077")
        let b = try second.build("image", archive: "image.tar", modelSigningKey: "p256.pem", environment: ["TMPDIR": tmpB, "TZ": "America/Los_Angeles", "LC_ALL": "C.UTF-8"],
                                 shellPrefix: "umask 022")
        #expect(a.status == 0, "\(a.stderr)")
        #expect(b.status == 0, "\(b.stderr)")
        let treeA = FileSystemPath.tree(first.workspace.directory.file("image"))
        let treeB = FileSystemPath.tree(second.workspace.directory.file("image"))
        #expect(treeA.files.count >= 12)
        #expect(treeA.files == treeB.files)
        #expect(treeA.modes == treeB.modes)
        #expect(first.workspace.read("image.tar") == second.workspace.read("image.tar"))
        for export in ["provenance.dsse.json", "sbom.cdx.dsse.json", "model.sig"] {
            #expect(treeA.files.keys.contains("attestations/" + export), "\(export)")
        }

        // One changed byte of policy changes the image.
        let rules = second.workspace.directory.file("inputs/Policies/reference/rules.json")
        let rulesText = try String(contentsOfFile: rules, encoding: .utf8)
        #expect(rulesText.contains("1200"))
        try rulesText.replacingOccurrences(of: "1200", with: "1300").write(toFile: rules, atomically: true, encoding: .utf8)
        #expect(try second.build("changed").status == 0)
        let manifestA = try jsonObject(try first.workspace.run(["inspect", "image", "--json"]).stdout)["manifest"] as? [String: Any]
        let manifestC = try jsonObject(try second.workspace.run(["inspect", "changed", "--json"]).stdout)["manifest"] as? [String: Any]
        #expect(manifestA?["digest"] as? String != nil)
        #expect(manifestA?["digest"] as? String != manifestC?["digest"] as? String)
    }

    /// The committed reference spec builds with the real model (fetched and
    /// pinned by scripts/fetch-model); on a terminal the weights show progress,
    /// with --json nothing but the result.
    @Test func referenceImageBuildsFromTheRealModel() throws {
        let fetch = try runProcess(CLI.packageRoot + "/scripts/fetch-model", [])
        #expect(fetch.status == 0, "scripts/fetch-model failed: \(fetch.stderr)")
        let w = try Workspace()
        defer { w.remove() }
        let spec = CLI.packageRoot + "/Image/reference.image.json"
        let command = "SOVEREIGN_TEST_PASSPHRASE='test passphrase' \(CLI.binary) build \(spec) --key release.key --passphrase-env SOVEREIGN_TEST_PASSPHRASE --out image"
        let onTerminal = try runProcess("/bin/sh", ["-c", "script -qec \"\(command)\" /dev/null"], directory: w.path)
        #expect(onTerminal.status == 0, "\(onTerminal.stdout)")
        #expect(onTerminal.stdout.contains("SmolLM2-135M-Instruct.Q4_1.gguf: "), "no progress line: \(onTerminal.stdout)")
        #expect(onTerminal.stdout.contains("MB/s"))

        let quiet = try w.run(["build", spec, "--key", "release.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE", "--out", "again", "--json"])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stderr.isEmpty)
        let result = try jsonObject(quiet.stdout)
        let pinned = try jsonObject(String(decoding: try Data(contentsOf: URL(fileURLWithPath: spec)), as: UTF8.self))["model"] as? [String: Any]
        let inspect = try jsonObject(try w.run(["inspect", "image", "--json"]).stdout)
        #expect((inspect["model"] as? [String: Any])?["sha256"] as? String == pinned?["sha256"] as? String)
        #expect((inspect["manifest"] as? [String: Any])?["digest"] as? String == result["manifest"] as? String)
        #expect((inspect["layers"] as? [Any])?.count == 5)
        #expect(referrersSigned(inspect) == 2)
        #expect(FileSystemPath.tree(w.directory.file("image")).files == FileSystemPath.tree(w.directory.file("again")).files)
    }

    /// skopeo and umoci, written by others, read the layout; a copy keeps the digest.
    @Test func skopeoAndUmociReadTheImage() throws {
        let fixture = try ImageFixture()
        defer { fixture.remove() }
        #expect(try fixture.build("image").status == 0)
        let digest = try #require((try jsonObject(try fixture.workspace.run(["inspect", "image", "--json"]).stdout)["manifest"] as? [String: Any])?["digest"] as? String)

        let inspect = try runProcess("/usr/bin/skopeo", ["inspect", "oci:image:1.2.3"], directory: fixture.path)
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let info = try jsonObject(inspect.stdout)
        #expect(info["Digest"] as? String == digest)
        #expect((info["Labels"] as? [String: String])?["dev.sovereign.sequence"] == "7")

        let copy = try runProcess("/usr/bin/skopeo", ["copy", "--preserve-digests", "oci:image:1.2.3", "oci:copied:1.2.3"], directory: fixture.path)
        #expect(copy.status == 0, "\(copy.stderr)")
        let copied = try runProcess("/usr/bin/skopeo", ["inspect", "oci:copied:1.2.3"], directory: fixture.path)
        #expect(try jsonObject(copied.stdout)["Digest"] as? String == digest)

        let unpack = try runProcess("/usr/bin/umoci", ["unpack", "--image", "image:1.2.3", "bundle"], directory: fixture.path)
        #expect(unpack.status == 0, "\(unpack.stderr)")
        let tree = FileSystemPath.tree(fixture.workspace.directory.file("bundle/rootfs"))
        #expect(Set(tree.files.keys) == [
            "sovereign/image.json",
            "sovereign/model/test-model.gguf",
            "sovereign/runtime/runtime.json",
            "sovereign/policies/reference/reference/conduct.md",
            "sovereign/policies/reference/reference/service.md",
            "sovereign/policies/reference/rules.json",
            "sovereign/attestation/reference/core.suite.json",
        ])
        #expect(tree.files["sovereign/model/test-model.gguf"] == fixture.modelBytes)
        let rulesSource = [UInt8](try Data(contentsOf: URL(fileURLWithPath: CLI.packageRoot + "/Policies/reference/rules.json")))
        #expect(tree.files["sovereign/policies/reference/rules.json"] == rulesSource)
        // image.json lists every other file with its size and digest.
        let listing = try #require(tree.files["sovereign/image.json"])
        let listed = try #require((try JSONSerialization.jsonObject(with: Data(listing)) as? [String: Any])?["files"] as? [[String: Any]])
        #expect(Set(listed.compactMap { $0["path"] as? String }) == Set(tree.files.keys).subtracting(["sovereign/image.json"]))
        for entry in listed {
            let path = try #require(entry["path"] as? String)
            #expect(entry["size"] as? Int == tree.files[path]?.count)
            #expect(entry["sha256"] as? String == ImageFixture.sha256(tree.files[path] ?? []))
        }
    }

    /// A real registry (Debian's docker-registry on 127.0.0.1) takes the
    /// image through skopeo and gives it back with the same digest.
    @Test func roundTripsThroughARealRegistry() throws {
        let fixture = try ImageFixture()
        defer { fixture.remove() }
        #expect(try fixture.build("image").status == 0)
        let registry = try LocalRegistry(storage: fixture.workspace.directory.file("registry"))
        defer { registry.stop() }
        let remote = "docker://127.0.0.1:\(registry.port)/sovereign/test-appliance:1.2.3"
        let push = try runProcess("/usr/bin/skopeo", ["copy", "--dest-tls-verify=false", "--preserve-digests", "oci:image:1.2.3", remote], directory: fixture.path)
        #expect(push.status == 0, "\(push.stderr)")
        let pull = try runProcess("/usr/bin/skopeo", ["copy", "--src-tls-verify=false", "--preserve-digests", remote, "oci:pulled:1.2.3"], directory: fixture.path)
        #expect(pull.status == 0, "\(pull.stderr)")
        let original = try runProcess("/usr/bin/skopeo", ["inspect", "--raw", "oci:image:1.2.3"], directory: fixture.path).stdout
        let remoteRaw = try runProcess("/usr/bin/skopeo", ["inspect", "--raw", "--tls-verify=false", remote], directory: fixture.path).stdout
        let pulled = try runProcess("/usr/bin/skopeo", ["inspect", "--raw", "oci:pulled:1.2.3"], directory: fixture.path).stdout
        #expect(!original.isEmpty)
        #expect(remoteRaw == original)
        #expect(pulled == original)
        // Layers came back byte for byte (uncompressed, same digests).
        let pulledManifest = try jsonObject(pulled)
        for layer in pulledManifest["layers"] as? [[String: Any]] ?? [] {
            let digest = (layer["digest"] as? String ?? "").replacingOccurrences(of: "sha256:", with: "")
            #expect(fixture.workspace.read("pulled/blobs/sha256/" + digest) == fixture.workspace.read("image/blobs/sha256/" + digest))
        }
    }

    /// securesystemslib verifies the provenance envelope the build exported.
    @Test func securesystemslibVerifiesTheBuildAttestations() throws {
        let fixture = try ImageFixture()
        defer { fixture.remove() }
        #expect(try fixture.build("image").status == 0)
        let script = CLI.packageRoot + "/Tests/Interop/verify_dsse.py"
        for export in ["image/attestations/provenance.dsse.json", "image/attestations/sbom.cdx.dsse.json"] {
            let result = try runProcess(try CLI.python, [script, export, "1", "release.pub"], directory: fixture.path)
            #expect(result.status == 0, "\(export): \(result.stdout) \(result.stderr)")
        }
        let verified = try fixture.workspace.run(["verify-envelope", "image/attestations/provenance.dsse.json", "--pub", "release.pub", "--json"])
        let fields = try jsonObject(verified.stdout)
        let subjects = try #require(fields["subjects"] as? [[String: Any]])
        let manifest = try jsonObject(try fixture.workspace.run(["inspect", "image", "--json"]).stdout)["manifest"] as? [String: Any]
        #expect((subjects.first?["digest"] as? [String: String])?["sha256"].map { "sha256:" + $0 } == manifest?["digest"] as? String)
    }

    @Test func coSigningChangesNoImageByte() throws {
        let fixture = try ImageFixture()
        defer { fixture.remove() }
        try fixture.workspace.generateKey("second")
        #expect(try fixture.build("image").status == 0)
        let before = FileSystemPath.tree(fixture.workspace.directory.file("image")).files
        let signed = try fixture.workspace.run(["sign", "image", "--key", "second.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"])
        #expect(signed.status == 0, "\(signed.stderr)")
        let after = FileSystemPath.tree(fixture.workspace.directory.file("image")).files
        let inspect = try jsonObject(try fixture.workspace.run(["inspect", "image", "--json"]).stdout)
        var imageBlobs: Set<String> = []
        if let manifest = inspect["manifest"] as? [String: Any], let digest = manifest["digest"] as? String { imageBlobs.insert(digest) }
        if let config = inspect["config"] as? [String: Any], let digest = config["digest"] as? String { imageBlobs.insert(digest) }
        for layer in inspect["layers"] as? [[String: Any]] ?? [] { if let digest = layer["digest"] as? String { imageBlobs.insert(digest) } }
        #expect(imageBlobs.count == 7)
        #expect(referrersSigned(inspect) == 2)
        for digest in imageBlobs {
            let name = "blobs/sha256/" + digest.dropFirst(7)
            #expect(after[name] != nil && after[name] == before[name], "\(name) changed")
        }
        let verified = try fixture.workspace.run(["verify-envelope", "image/attestations/provenance.dsse.json",
                                                  "--pub", "release.pub", "--pub", "second.pub", "--threshold", "2"])
        #expect(verified.status == 0, "\(verified.stderr)")
        // The referrer inside the layout carries both signatures too.
        let referrers = try #require(inspect["referrers"] as? [[String: Any]])
        #expect(referrers.allSatisfy { ($0["keyids"] as? [String])?.count == 2 })
        // Again: nothing to do, nothing changes.
        let again = try fixture.workspace.run(["sign", "image", "--key", "second.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"])
        #expect(again.status == 0)
        #expect(FileSystemPath.tree(fixture.workspace.directory.file("image")).files == after)
    }

    /// OpenSSF model_signing, written by others, verifies the unpacked
    /// `sovereign/` tree against the exported bundle, offline, and rejects
    /// it once one byte of a policy file changes.
    @Test func modelSigningVerifiesTheUnpackedTree() throws {
        let fixture = try ImageFixture()
        defer { fixture.remove() }
        try fixture.makeP256Key()
        let built = try fixture.build("image", modelSigningKey: "p256.pem")
        #expect(built.status == 0, "\(built.stderr)")
        let inspect = try jsonObject(try fixture.workspace.run(["inspect", "image", "--json"]).stdout)
        let types = (inspect["referrers"] as? [[String: Any]] ?? []).compactMap { $0["predicateType"] as? String }
        #expect(types.contains("https://model_signing/signature/v1.0"))
        #expect(try runProcess("/usr/bin/umoci", ["unpack", "--image", "image:1.2.3", "bundle"], directory: fixture.path).status == 0)
        let tool = CLI.packageRoot + "/.venv/bin/model_signing"
        _ = try CLI.python  // fails clearly if the venv is missing
        let verify = ["verify", "key", "bundle/rootfs/sovereign", "--signature", "image/attestations/model.sig", "--public_key", "p256.pub.pem"]
        let accepted = try runProcess(tool, verify, directory: fixture.path)
        #expect(accepted.status == 0, "model_signing rejected the tree: \(accepted.stdout) \(accepted.stderr)")
        let rules = fixture.workspace.directory.file("bundle/rootfs/sovereign/policies/reference/rules.json")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: rules)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: rules))
        let rejected = try runProcess(tool, verify, directory: fixture.path)
        #expect(rejected.status != 0)
        #expect((rejected.stdout + rejected.stderr).contains("rules.json"))
    }

    /// The BOM inside the signed envelope is valid CycloneDX 1.6
    /// (cyclonedx-python-lib's strict schema validator) and the provenance
    /// parses as SLSA v1 (in-toto-attestation's protobuf types).
    @Test func attestationsValidateWithIndependentTools() throws {
        let fixture = try ImageFixture()
        defer { fixture.remove() }
        #expect(try fixture.build("image").status == 0)
        for (export, check) in [("sbom.cdx.dsse.json", ["validate_cyclonedx.py"]), ("provenance.dsse.json", ["check_slsa_predicate.py", "provenance"])] {
            let envelope = try jsonObject(String(decoding: fixture.workspace.read("image/attestations/" + export), as: UTF8.self))
            let payload = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
            let statement = try jsonObject(String(decoding: payload, as: UTF8.self))
            let document = check[0] == "validate_cyclonedx.py" ? try JSONSerialization.data(withJSONObject: statement["predicate"] as Any) : payload
            fixture.workspace.write(export + ".check.json", bytes: [UInt8](document))
            let script = CLI.packageRoot + "/Tests/Interop/" + check[0]
            let result = try runProcess(try CLI.python, [script] + check.dropFirst() + [export + ".check.json"], directory: fixture.path)
            #expect(result.status == 0, "\(export): \(result.stdout) \(result.stderr)")
            #expect(result.stdout.contains("valid"))
        }
        // The model is a machine-learning-model component with its hash, licence and card.
        let envelope = try jsonObject(String(decoding: fixture.workspace.read("image/attestations/sbom.cdx.dsse.json"), as: UTF8.self))
        let payload = try #require(Data(base64Encoded: envelope["payload"] as? String ?? ""))
        let bom = try #require(try jsonObject(String(decoding: payload, as: UTF8.self))["predicate"] as? [String: Any])
        let model = try #require((bom["components"] as? [[String: Any]])?.first { $0["type"] as? String == "machine-learning-model" })
        #expect((model["hashes"] as? [[String: String]])?.first?["content"] == ImageFixture.sha256(fixture.modelBytes))
        #expect(((model["modelCard"] as? [String: Any])?["modelParameters"] as? [String: Any])?["architectureFamily"] as? String == "llama")
    }

    /// Bad input: one line naming the thing and the reason, non-zero exit,
    /// and nothing at the output path (nor any temporary left beside it).
    @Test func badInputsLeaveNothingBehind() throws {
        let fixture = try ImageFixture()
        defer { fixture.remove() }
        let inputs = fixture.workspace.directory.file("inputs")
        let spec = fixture.specPath
        let original = try String(contentsOfFile: spec, encoding: .utf8)
        func withSpec(_ text: String, _ body: () throws -> Void) throws {
            try text.write(toFile: spec, atomically: true, encoding: .utf8)
            defer { try? original.write(toFile: spec, atomically: true, encoding: .utf8) }
            try body()
        }
        func expectRefused(_ line: String, key: String = "release.key", environment: [String: String] = [:],
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
            let before = Set(try FileManager.default.contentsOfDirectory(atPath: fixture.path))
            let result = try fixture.build("out", archive: "out.tar", key: key, environment: environment)
            expectFailure(result, line, sourceLocation: sourceLocation)
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: fixture.path)) == before, sourceLocation: sourceLocation)
        }
        let modelPath = inputs + "/models/test-model.gguf"
        let pin = ImageFixture.sha256(fixture.modelBytes)

        fixture.workspace.write("not-a-model.gguf", "plain text")
        try withSpec(original.replacingOccurrences(of: "../models/test-model.gguf", with: "../../not-a-model.gguf")) {
            try expectRefused("sovereign: \(fixture.path)/not-a-model.gguf: not a usable GGUF model: not a GGUF file (magic is 0x706c6169, expected \"GGUF\")")
        }
        try withSpec(original.replacingOccurrences(of: "test-model.gguf", with: "absent.gguf")) {
            try expectRefused("sovereign: \(inputs)/models/absent.gguf: model file not found (run scripts/fetch-model?)")
        }
        try withSpec(original.replacingOccurrences(of: pin, with: String(repeating: "0", count: 64))) {
            try expectRefused("sovereign: \(modelPath): sha256 is \(pin), the spec pins \(String(repeating: "0", count: 64))")
        }
        try withSpec(original.replacingOccurrences(of: "\"sequence\": 7,", with: "\"sequence\": 7, \"sequnce\": 8,")) {
            try expectRefused("sovereign: \(spec): unknown field 'sequnce'")
        }
        try withSpec(original.replacingOccurrences(of: "\"license\": \"Apache-2.0\", ", with: "")) {
            try expectRefused("sovereign: \(spec): missing field 'model.license'")
        }
        let lines = original.split(separator: "\n")
        try withSpec(String(original.dropLast())) {
            try expectRefused("sovereign: \(spec): invalid JSON at line \(lines.count), column \(lines.last?.count ?? 0): expected ',' or '}' in object")
        }
        try withSpec(original.replacingOccurrences(of: "2026-01-02T03:04:05Z", with: "yesterday")) {
            try expectRefused("sovereign: \(spec): created: 'yesterday' is not an RFC 3339 UTC time like 2026-01-01T00:00:00Z")
        }
        let rules = inputs + "/Policies/reference/rules.json"
        let rulesText = try String(contentsOfFile: rules, encoding: .utf8)
        try rulesText.replacingOccurrences(of: "\"derivedFrom\": \"brevity\"", with: "\"derivedFrom\": \"gone\"").write(toFile: rules, atomically: true, encoding: .utf8)
        try expectRefused("sovereign: \(rules): rule 'brief' derives from passage 'gone', which no reference document defines")
        try rulesText.write(toFile: rules, atomically: true, encoding: .utf8)

        try expectRefused("sovereign: release.key: wrong passphrase (or the key file was altered)", environment: ["SOVEREIGN_TEST_PASSPHRASE": "no"])
        try expectRefused("sovereign: release.pub: not a Sovereign private key file (not valid JSON)", key: "release.pub")
        let ed25519 = try runProcess("/usr/bin/openssl", ["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"], directory: fixture.path)
        #expect(ed25519.status == 0)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: fixture.path))
        expectFailure(try fixture.build("out", modelSigningKey: "ed.pem"),
                      "sovereign: ed.pem: key type is ED25519; only ECDSA P-256 (prime256v1) keys are accepted")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: fixture.path)) == before)

        fixture.workspace.write("out", "I was here first")
        let existing = try fixture.build("out")
        expectFailure(existing, "sovereign: out: already exists; refusing to overwrite")
        #expect(String(decoding: fixture.workspace.read("out"), as: UTF8.self) == "I was here first")
    }
}

/// How many referrers carry signatures, from `inspect --json`.
func referrersSigned(_ inspect: [String: Any]) -> Int {
    (inspect["referrers"] as? [[String: Any]] ?? []).filter { !(($0["keyids"] as? [String]) ?? []).isEmpty }.count
}

/// Debian's docker-registry (distribution 2.8) on a loopback port, for
/// the duration of one test.
final class LocalRegistry {
    let port: Int
    private let process: Process

    init(storage: String) throws {
        let binary = "/usr/bin/docker-registry"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("\(binary) is missing: run scripts/setup")
            throw POSIXError(.ENOENT)
        }
        try FileManager.default.createDirectory(atPath: storage, withIntermediateDirectories: true)
        var lastError = ""
        for attempt in 0..<5 {
            let port = 20_000 + Int(UInt32.random(in: 0..<20_000))
            let config = storage + "/config-\(attempt).yml"
            let yaml = """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(storage)/data
            http:
              addr: 127.0.0.1:\(port)
            """
            try yaml.write(toFile: config, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["serve", config]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Wait (bounded) until it answers the registry API.
            for _ in 0..<50 {
                usleep(100_000)
                if !process.isRunning { break }
                let probe = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/v2/"])
                if probe.stdout == "200" {
                    self.port = port
                    self.process = process
                    return
                }
            }
            lastError = "registry on port \(port) did not come up"
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        Issue.record(Comment(rawValue: lastError))
        throw POSIXError(.ETIMEDOUT)
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
