import Foundation
import Testing
import SovereignTestSupport

/// An appliance: images built from the fixture with increasing sequences,
/// a trust policy over the release key, and a root to install into.
struct ApplianceFixture {
    let fixture: ImageFixture
    var path: String { fixture.path }
    var workspace: Workspace { fixture.workspace }
    var root: String { fixture.workspace.directory.file("root") }

    init() throws {
        fixture = try ImageFixture()
        let policy = try workspace.run(["policy", "init", "--release-key", "release.pub", "--threshold", "1", "--out", "policy.json"])
        #expect(policy.status == 0, "policy init failed: \(policy.stderr)")
    }

    /// Builds `name` with the given sequence (and a policy byte changed so
    /// each sequence is a different image).
    func build(_ name: String, sequence: Int) throws {
        let spec = fixture.specPath
        let text = try String(contentsOfFile: spec, encoding: .utf8)
        let updated = text.replacingOccurrences(of: #""sequence": \d+"#, with: "\"sequence\": \(sequence)", options: .regularExpression)
            .replacingOccurrences(of: #""version": "[^"]+""#, with: "\"version\": \"1.0.\(sequence)\"", options: .regularExpression)
        try updated.write(toFile: spec, atomically: true, encoding: .utf8)
        let result = try fixture.build(name)
        #expect(result.status == 0, "build \(name) failed: \(result.stderr)")
    }

    func install(_ image: String, environment: [String: String] = [:], extra: [String] = []) throws -> ProcessResult {
        try workspace.run(["install", image, "--policy", "policy.json", "--root", "root"] + extra, environment: environment)
    }

    func status() throws -> [String: Any] {
        let result = try workspace.run(["status", "--root", "root", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        return try jsonObject(result.stdout)
    }

    func manifestDigest(_ image: String) throws -> String {
        let inspect = try jsonObject(try workspace.run(["inspect", image, "--json"]).stdout)
        return try #require((inspect["manifest"] as? [String: Any])?["digest"] as? String)
    }

    /// Where `link` (current/previous) points, as a digest.
    func link(_ link: String) -> String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + link)).map { "sha256:" + $0.dropFirst("store/".count) }
    }

    /// Every file of the tree `link` points to matches the image's signed list.
    func expectCompleteTree(_ link: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let tree = root + "/" + link
        let listing = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tree + "/sovereign/image.json"))) as? [String: Any],
                                   sourceLocation: sourceLocation)
        for entry in listing["files"] as? [[String: Any]] ?? [] {
            let path = tree + "/" + (entry["path"] as? String ?? "")
            let bytes = [UInt8]((FileManager.default.contents(atPath: path)) ?? Data())
            #expect(bytes.count == entry["size"] as? Int, "\(path)", sourceLocation: sourceLocation)
            #expect(ImageFixture.sha256(bytes) == entry["sha256"] as? String, "\(path)", sourceLocation: sourceLocation)
        }
    }

    func remove() { fixture.remove() }
}

@Suite struct InstallCommandTests {
    @Test func installsAtomicallyAndIdempotently() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        let installed = try appliance.install("v1", extra: ["--json"])
        #expect(installed.status == 0, "\(installed.stderr)")
        let digest = try appliance.manifestDigest("v1")
        #expect(appliance.link("current") == digest)
        try appliance.expectCompleteTree("current")
        // The tree is read-only.
        let model = appliance.root + "/current/sovereign/model/test-model.gguf"
        #expect((try FileManager.default.attributesOfItem(atPath: model)[.posixPermissions] as? Int) == 0o444)
        let status = try appliance.status()
        #expect(status["highestSequence"] as? Int == 1)
        #expect((status["current"] as? [String: Any])?["digest"] as? String == digest)

        // Installing the same image again changes nothing.
        let storeBefore = FileSystemPath.tree(appliance.root + "/store")
        let again = try appliance.install("v1", extra: ["--json"])
        #expect(again.status == 0)
        #expect(try jsonObject(again.stdout)["outcome"] as? String == "already-current")
        #expect(FileSystemPath.tree(appliance.root + "/store").files == storeBefore.files)

        // From the archive form too (a newer image), then status lists both.
        try appliance.build("v2", sequence: 2)
        #expect(try appliance.fixture.workspace.run(["inspect", "v2", "--json"]).status == 0)
        let archiveBuild = try appliance.fixture.build("v3dir", archive: "v3.tar")
        #expect(archiveBuild.status == 0)
        let fromArchive = try appliance.install("v3.tar")
        #expect(fromArchive.status == 0, "\(fromArchive.stderr)")
        #expect(appliance.link("current") == (try appliance.manifestDigest("v3.tar")))
        #expect(appliance.link("previous") == digest)
        try appliance.expectCompleteTree("current")
        // No scratch or partial directories are left in the store.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: appliance.root + "/store").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func refusesDowngradeAndRollsBackWithoutLoweringTheMark() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v5", sequence: 5)
        try appliance.build("v3", sequence: 3)
        try appliance.build("v6", sequence: 6)
        #expect(try appliance.install("v5").status == 0)
        let refused = try appliance.install("v3")
        #expect(refused.status == 1)
        #expect(refused.stderr == "sovereign: v3: sequence: 3 is older than the installed sequence 5 (rollback; the policy does not allow downgrades)\n")
        #expect(appliance.link("current") == (try appliance.manifestDigest("v5")))

        #expect(try appliance.install("v6").status == 0)
        let rollback = try appliance.workspace.run(["rollback", "--root", "root", "--json"])
        #expect(rollback.status == 0, "\(rollback.stderr)")
        #expect(appliance.link("current") == (try appliance.manifestDigest("v5")))
        #expect(appliance.link("previous") == (try appliance.manifestDigest("v6")))
        let status = try appliance.status()
        #expect(status["highestSequence"] as? Int == 6)
        #expect(((status["history"] as? [[String: Any]]) ?? []).last?["action"] as? String == "rollback")
        // The mark did not move: sequence 3 is still refused.
        #expect(try appliance.install("v3").status == 1)

        // gc keeps current and previous only.
        #expect(try appliance.install("v6").status == 0)
        let gc = try appliance.workspace.run(["gc", "--root", "root", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let stored = try FileManager.default.contentsOfDirectory(atPath: appliance.root + "/store").filter { !$0.hasPrefix(".") }
        #expect(Set(stored.map { "sha256:" + $0 }) == Set([appliance.link("current"), appliance.link("previous")].compactMap { $0 }))
    }

    /// Kill -9 at every named step of an install: `current` always names a
    /// complete old or new tree, state.json parses, and the next install
    /// succeeds and leaves no leftovers.
    @Test func survivesAKillAtEveryStep() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("old", sequence: 1)
        try appliance.build("new", sequence: 2)
        let old = try appliance.manifestDigest("old"), new = try appliance.manifestDigest("new")
        for step in ["locked", "extracted", "stored", "state-written", "previous-swapped", "current-swapped"] {
            // Start each round from "old" installed and "new" not stored.
            InstallRootReset.reset(appliance.root)
            #expect(try appliance.install("old").status == 0)
            let crashed = try appliance.install("new", environment: ["SOVEREIGN_INSTALL_CRASH_AT": step])
            #expect(crashed.status != 0, "step \(step) did not crash")
            let current = appliance.link("current")
            #expect(current == old || current == new, "step \(step): current is \(current ?? "missing")")
            try appliance.expectCompleteTree("current")
            let state = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: appliance.root + "/state.json"))) as? [String: Any])
            #expect((state["highestSequence"] as? Int ?? 0) >= (current == new ? 2 : 1), "step \(step): mark behind current")
            let next = try appliance.install("new")
            #expect(next.status == 0, "step \(step): next install failed: \(next.stderr)")
            #expect(appliance.link("current") == new)
            try appliance.expectCompleteTree("current")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: appliance.root + "/store").filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "step \(step): \(leftovers)")
        }
    }

    /// Two installs at once: both finish (one waits for the lock), and the
    /// tree is never a mix.
    @Test func concurrentInstallsSerialise() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("a", sequence: 1)
        try appliance.build("b", sequence: 2)
        let group = DispatchGroup()
        let results = ResultBox()
        for image in ["a", "b"] {
            group.enter()
            DispatchQueue.global().async {
                let result = try? appliance.install(image)
                results.set(image, result?.status ?? -1)
                group.leave()
            }
        }
        group.wait()
        // "a" (sequence 1) may be refused if "b" got there first; never a crash or a mix.
        #expect(results.get("b") == 0)
        #expect([0, 1].contains(results.get("a")))
        let current = appliance.link("current")
        let candidates = [try appliance.manifestDigest("a"), try appliance.manifestDigest("b")]
        #expect(current.map(candidates.contains) == true)
        try appliance.expectCompleteTree("current")
        let noWait = try appliance.workspace.run(["status", "--root", "root"])
        #expect(noWait.status == 0)
    }

    @Test func refusesImagesThePolicyDoesNotTrust() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.workspace.generateKey("other")
        try appliance.build("v1", sequence: 1)
        let before = FileSystemPath.tree(appliance.path).files.keys.filter { $0.hasPrefix("root") }
        // A policy trusting only another key.
        #expect(try appliance.workspace.run(["policy", "init", "--release-key", "other.pub", "--threshold", "1", "--out", "other-policy.json"]).status == 0)
        let refused = try appliance.workspace.run(["install", "v1", "--policy", "other-policy.json", "--root", "root"])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("sovereign: "))
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(appliance.link("current") == nil)
        #expect(FileSystemPath.tree(appliance.path).files.keys.filter { $0.hasPrefix("root") } == before)
        // verify says the same, and names the check.
        let verify = try appliance.workspace.run(["verify", "v1", "--policy", "other-policy.json"])
        #expect(verify.status == 1)
        let ok = try appliance.workspace.run(["verify", "v1", "--policy", "policy.json", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try jsonObject(ok.stdout)["verified"] as? Bool == true)
    }
}

/// Resets a root between rounds of the crash test (read-only trees included).
enum InstallRootReset {
    static func reset(_ root: String) {
        guard FileManager.default.fileExists(atPath: root) else { return }
        _ = try? runProcess("/bin/chmod", ["-R", "u+w", root])
        try? FileManager.default.removeItem(atPath: root)
    }
}

final class ResultBox: @unchecked Sendable {
    private var values: [String: Int32] = [:]
    private let lock = NSLock()
    func set(_ key: String, _ value: Int32) { lock.lock(); values[key] = value; lock.unlock() }
    func get(_ key: String) -> Int32? { lock.lock(); defer { lock.unlock() }; return values[key] }
}
