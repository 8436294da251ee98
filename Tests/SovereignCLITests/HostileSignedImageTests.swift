import Foundation
import Testing
import SovereignTestSupport
import SovereignSystem
import SovereignCrypto
import SovereignInstall
@testable import SovereignImage

/// Validly signed hostile images: the test holds the release key and the
/// real builder signs whatever it is given (a compromised key, or a builder
/// bug). `verify` and `install` must refuse the same images, for the same
/// reason, and nothing may be written outside the root.
extension ApplianceFixture {
    /// Builds `name` from the fixture's spec with an extra layer `tar`
    /// whose `files` are listed in image.json unchecked, signed with release.key.
    func forge(_ name: String, layer tar: [UInt8], files: [(path: String, bytes: [UInt8])]) throws {
        let spec = try ImageSpec(path: fixture.specPath)
        let sealed = try EncryptedPrivateKey(json: try FileSystem.readFile(path + "/release.key"), source: "release.key")
        let key = try sealed.open(passphrase: Array("test passphrase".utf8), source: "release.key")
        var options = ImageBuilder.Options(signingKeys: [key], modelDescription: ModelDescription(architecture: "llama", parameters: [:]))
        options.injectedLayer = (tar, files.map { FileRecord(path: $0.path, size: Int64($0.bytes.count), sha256: SHA256.hash($0.bytes), layer: .policies) })
        _ = try ImageBuilder(spec: spec, options: options).build(output: path + "/" + name)
    }

    /// verify and install both fail with `reason` in their one error line; no root appears.
    func expectRefused(_ image: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verify = try workspace.run(["verify", image, "--policy", "policy.json"])
        #expect(verify.status == 1, "verify accepted \(image)", sourceLocation: sourceLocation)
        #expect(verify.stderr.contains(reason), "verify: \(verify.stderr)", sourceLocation: sourceLocation)
        let install = try install(image)
        #expect(install.status == 1, "install accepted \(image)", sourceLocation: sourceLocation)
        #expect(install.stderr.contains(reason), "install: \(install.stderr)", sourceLocation: sourceLocation)
        #expect(install.stderr.split(separator: "\n").count == 1, "one error line: \(install.stderr)", sourceLocation: sourceLocation)
    }
}

@Suite struct HostileSignedImageTests {
    /// Finding 1: "../" + U+0301 is one Swift Character but three bytes
    /// ".." "/" to openat; with stepping-stone directories any depth works.
    @Test(arguments: [("sovereign/x/../\u{301}../\u{301}../escaped.txt", "has a '..' component"),
                      ("sovereign/x/\u{0600}/../../../escaped.txt", "has a '..' component"),
                      ("sovereign/x/..\u{200D}/escaped.txt", "contains a non-ASCII byte"),
                      ("sovereign/../\u{301}escaped.txt", "has a '..' component")])
    func combiningMarkTraversalIsRefusedEverywhere(name: String, reason: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        let body = Array("owned".utf8)
        let tar = RawTar.entry(Array("sovereign/x/".utf8), type: RawTar.directory, mode: 0o755)
            + RawTar.entry(Array(name.utf8), body: body) + RawTar.end
        try appliance.forge("hostile", layer: tar, files: [(name, body)])
        try appliance.expectRefused("hostile", "hostile: sovereign/image.json: '")
        try appliance.expectRefused("hostile", reason)
        #expect(!FileManager.default.fileExists(atPath: appliance.root))
        let found = FileManager.default.enumerator(atPath: appliance.path)?.allObjects.compactMap { $0 as? String }.filter { $0.hasSuffix("escaped.txt") } ?? []
        #expect(found.isEmpty, "\(found)")
    }

    /// The builder refuses such names itself, naming the input and the reason.
    @Test func builderRefusesNamesOutsideThePortableSet() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        let document = appliance.workspace.directory.file("inputs/Policies/reference/reference/caf\u{E9}.md")
        try "# Caf\u{E9} {#cafe}\n\nText.\n".write(toFile: document, atomically: true, encoding: .utf8)
        let result = try appliance.fixture.build("out")
        #expect(result.status == 1)
        #expect(result.stderr.contains("caf\u{E9}.md") && result.stderr.contains("non-ASCII byte"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: appliance.path + "/out"))
    }

    /// Finding 6: bytes after the end-of-archive blocks of a signed layer.
    @Test func trailingBytesAfterTheEndOfArchiveAreRefused() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        let body = Array("extra".utf8)
        let tar = RawTar.entry(Array("sovereign/extra.txt".utf8), body: body) + RawTar.end + Array("hidden payload".utf8)
        try appliance.forge("trailing", layer: tar, files: [("sovereign/extra.txt", body)])
        try appliance.expectRefused("trailing", "bytes after its end-of-archive blocks")
    }

    /// Finding 2: a tree planted under a future image's digest is never
    /// trusted for existing: installing the genuine image replaces it.
    @Test func plantedStoreTreeIsCheckedAndReplaced() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        #expect(try appliance.install("v1").status == 0)
        let future = try appliance.manifestDigest("v2").dropFirst("sha256:".count)
        let planted = appliance.root + "/store/" + future
        try FileManager.default.createDirectory(atPath: planted + "/sovereign", withIntermediateDirectories: true)
        try "planted".write(toFile: planted + "/sovereign/image.json", atomically: true, encoding: .utf8)
        let installed = try appliance.install("v2", extra: ["--json"])
        #expect(installed.status == 0, "\(installed.stderr)")
        #expect(try jsonObject(installed.stdout)["outcome"] as? String == "repaired")
        #expect(appliance.link("current") == "sha256:" + future)
        try appliance.expectCompleteTree("current")
        let store = try FileManager.default.contentsOfDirectory(atPath: appliance.root + "/store")
        #expect(!store.contains { $0.hasPrefix(".") }, "leftovers: \(store)")
        let appliance2 = try InstalledAppliance.open(InstallRoot(path: appliance.root))
        #expect(appliance2.manifestDigest == "sha256:" + future)
    }

    /// Finding 6: a tampered image whose manifest is already current is not
    /// "nothing to do": every byte given is checked on every install.
    @Test func reinstallingATamperedCurrentImageIsRefused() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        #expect(try appliance.install("v1").status == 0)
        let again = try appliance.install("v1", extra: ["--json"])
        #expect(try jsonObject(again.stdout)["outcome"] as? String == "already-current", "\(again.stderr)")
        let blobs = appliance.path + "/v1/blobs/sha256/"
        let largest = try FileManager.default.contentsOfDirectory(atPath: blobs).max { a, b in
            (try? FileManager.default.attributesOfItem(atPath: blobs + a)[.size] as? Int ?? 0) ?? 0 < (try? FileManager.default.attributesOfItem(atPath: blobs + b)[.size] as? Int ?? 0) ?? 0
        }
        let blob = blobs + (try #require(largest))
        chmod(blob, 0o644)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: blob)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: blob))
        let tampered = try appliance.install("v1")
        #expect(tampered.status == 1)
        #expect(tampered.stderr.contains("does not match its digest") || tampered.stderr.contains("sha256 is"), "\(tampered.stderr)")
        let verify = try appliance.workspace.run(["verify", "v1", "--policy", "policy.json"])
        #expect(verify.status == 1)
    }

    /// Finding 4: a blob that is a symlink to /dev/zero or a FIFO fails at once, holding nothing.
    @Test(arguments: ["zero", "fifo"])
    func nonRegularBlobFailsWithoutHanging(kind: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        let blobs = appliance.path + "/v1/blobs/sha256/"
        let victim = try #require(try FileManager.default.contentsOfDirectory(atPath: blobs).sorted().first)
        unlink(blobs + victim)
        if kind == "zero" { symlink("/dev/zero", blobs + victim) } else { #expect(mkfifo(blobs + victim, 0o644) == 0) }
        for arguments in [["verify", "v1", "--policy", "policy.json"], ["install", "v1", "--policy", "policy.json", "--root", "root"]] {
            let result = try appliance.workspace.run(arguments, timeout: 60)
            #expect(result.status == 1, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains(victim), "\(arguments[0]) names the blob: \(result.stderr)")
        }
    }

    /// Finding 5: the archive form is read by the same rules as the
    /// directory: an unknown name or a second index.json is refused by both commands.
    @Test(arguments: [("extra.txt", "is not part of an OCI image layout"), ("index.json", "appears twice")])
    func archivesWithStrayOrDuplicateNamesAreRefused(name: String, reason: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        let built = try appliance.fixture.build("v1", archive: "v1.tar")
        #expect(built.status == 0, "\(built.stderr)")
        var archive = [UInt8](try Data(contentsOf: URL(fileURLWithPath: appliance.path + "/v1.tar")))
        #expect(archive.suffix(1024).allSatisfy { $0 == 0 })
        archive.removeLast(1024)
        archive += RawTar.entry(Array(name.utf8), body: Array(#"{"schemaVersion":2,"manifests":[]}"#.utf8)) + RawTar.end
        try Data(archive).write(to: URL(fileURLWithPath: appliance.path + "/bad.tar"))
        try appliance.expectRefused("bad.tar", reason)
    }

    /// Finding 6: oci-layout is read: missing, corrupt or another version is refused.
    @Test(arguments: [(nil, "has no oci-layout file"), ("{\"imageLayoutVersion\":\"9.9.9\"}", "expected '1.0.0'"), ("{]", "oci-layout")])
    func ociLayoutIsChecked(content: String?, reason: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        let marker = appliance.path + "/v1/oci-layout"
        chmod(marker, 0o644)
        unlink(marker)
        if let content { try content.write(toFile: marker, atomically: true, encoding: .utf8) }
        try appliance.expectRefused("v1", reason)
    }

    /// Finding 3: a stored tree deeper than PATH_MAX is removed by gc, and
    /// a `.partial-*` that deep is removed by the next run.
    @Test func gcRemovesTreesDeeperThanPathMax() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        #expect(try appliance.install("v1").status == 0)
        let store = try DirectoryHandle.open(appliance.root + "/store")
        for top in [String(repeating: "ab", count: 32), ".partial-deep"] {
            try store.makeDirectory(Array(top.utf8))
            var current = try store.openDirectory(Array(top.utf8))
            let component = Array(String(repeating: "d", count: 40).utf8)
            for _ in 0..<150 {  // 150 × 41 bytes: over 6000, beyond PATH_MAX (4096)
                try current.makeDirectory(component, mode: 0o555)
                current = try current.openDirectory(component)
            }
            let file = try current.createFile(Array("f".utf8), mode: 0o444)
            try file.close()
        }
        let gc = try appliance.workspace.run(["gc", "--root", "root", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try jsonObject(gc.stdout)["removed"] as? [String] == ["sha256:" + String(repeating: "ab", count: 32)])
        let left = try FileManager.default.contentsOfDirectory(atPath: appliance.root + "/store")
        #expect(left == [try appliance.manifestDigest("v1").dropFirst(7)].map(String.init), "\(left)")
    }

    /// A full disk: refused with a clear error, the previous tree still
    /// current, and nothing left over once space is back.
    @Test func installOntoANearlyFullFilesystemChangesNothing() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        try FileManager.default.createDirectory(atPath: appliance.root, withIntermediateDirectories: true)
        let mount = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=520k", "tmpfs", appliance.root])
        #expect(mount.status == 0, "mounting a tmpfs needs root (CI runs as root): \(mount.stderr)")
        defer { _ = try? runProcess("/bin/umount", [appliance.root]) }
        let first = try appliance.install("v1")
        #expect(first.status == 0, "\(first.stderr)")
        let full = try appliance.install("v2")
        #expect(full.status == 1)
        #expect(full.stderr.contains("No space left on device"), "\(full.stderr)")
        #expect(appliance.link("current") == (try appliance.manifestDigest("v1")))
        try appliance.expectCompleteTree("current")
        #expect(try runProcess("/bin/mount", ["-o", "remount,size=4m", appliance.root]).status == 0)
        let second = try appliance.install("v2")
        #expect(second.status == 0, "\(second.stderr)")
        let store = try FileManager.default.contentsOfDirectory(atPath: appliance.root + "/store")
        #expect(!store.contains { $0.hasPrefix(".") }, "leftovers: \(store)")
    }

    /// InstalledAppliance refuses a tree edited after install.
    @Test func installedApplianceRefusesAnEditedTree() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        #expect(try appliance.install("v1").status == 0)
        let opened = try InstalledAppliance.open(InstallRoot(path: appliance.root))
        #expect(FileManager.default.fileExists(atPath: opened.modelPath))
        #expect(opened.constraintLayerDirectory.hasSuffix("/sovereign/policies/reference"))
        let rules = opened.constraintLayerDirectory + "/rules.json"
        chmod(rules, 0o644)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: rules)))
        bytes[bytes.count - 2] = UInt8(ascii: " ")
        try Data(bytes).write(to: URL(fileURLWithPath: rules))
        let error = try #require(throws: InstallError.self) { try InstalledAppliance.open(InstallRoot(path: appliance.root)) }
        #expect(error.thing.hasSuffix("rules.json") && error.reason.contains("sha256 is"), "\(error)")
    }

    /// A layer listed twice would be read and extracted twice for nothing
    /// (a cheap way to make install spend hours holding the lock): refused.
    @Test func aLayerListedTwiceIsRefused() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        let manifest = try #require(try jsonObject(try appliance.workspace.run(["inspect", "v1", "--json"]).stdout)["layers"] as? [[String: Any]])
        let policies = try #require(manifest.first { $0["title"] as? String == "policies" }?["digest"] as? String)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: appliance.path + "/v1/blobs/sha256/" + policies.dropFirst(7))))
        try appliance.forge("twice", layer: bytes, files: [])
        try appliance.expectRefused("twice", "lists a layer more than once")
    }

    /// Small blobs are held in memory while the image is read: their total
    /// is capped, so unreferenced filler cannot make the reader take gigabytes.
    @Test func smallBlobsAreCappedInTotal() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        var random = SeededBytes(seed: 44)
        for _ in 0..<5 {
            let filler = random.bytes(16 << 20)
            let digest = SHA256.hash(filler).hex
            try Data(filler).write(to: URL(fileURLWithPath: appliance.path + "/v1/blobs/sha256/" + digest))
        }
        try appliance.expectRefused("v1", "holds more than 64 MiB of blobs")
    }

    /// Text from an image is shown, never obeyed: an escape sequence in an
    /// unsigned index.json reaches stderr escaped.
    @Test func terminalControlsInAnImageAreEscaped() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        let index = appliance.path + "/v1/index.json"
        chmod(index, 0o644)
        var text = try String(contentsOfFile: index, encoding: .utf8)
        text = text.replacingOccurrences(of: "application/vnd.oci.image.manifest.v1+json", with: "\\u001b]0;owned\\u0007\\u001b[2J\\u202e")
        try text.write(toFile: index, atomically: true, encoding: .utf8)
        for arguments in [["verify", "v1", "--policy", "policy.json"], ["inspect", "v1"]] {
            let result = try appliance.workspace.run(arguments)
            #expect(result.status == 1, "\(arguments[0]): \(result.stderr)")
            #expect(!result.stderrBytes.contains(0x1B) && !result.stderr.contains("\u{202E}"), "\(arguments[0]) printed raw controls: \(result.stderr)")
            #expect(result.stderr.contains("\\u{1B}"), "\(arguments[0]): \(result.stderr)")
        }
    }
}
