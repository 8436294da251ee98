import Foundation
import Testing
import SovereignTestSupport

/// A self-contained copy of an image's inputs (spec, constraint layer,
/// audit suites, a model) in a scratch directory, plus a release key.
struct ImageFixture {
    let workspace: Workspace
    var path: String { workspace.path }
    var specPath: String { workspace.directory.file("inputs/Image/test.image.json") }
    let modelBytes: [UInt8]

    /// - Parameters:
    ///   - modelSize: bytes of synthetic model (GGUF magic + seeded bytes).
    ///   - reverseOrder: create directories and files in reverse order with
    ///     odd mtimes, to prove the build does not depend on either.
    init(modelSize: Int = 300_000, seed: UInt64 = 1, reverseOrder: Bool = false, extraSpec: String = "") throws {
        workspace = try Workspace()
        var generator = SeededBytes(seed: seed)
        let header = Self.minimalGGUFHeader()
        modelBytes = header + generator.bytes(modelSize - header.count)
        let root = workspace.directory.file("inputs")
        let fm = FileManager.default
        var copies: [(String, String)] = [
            (CLI.packageRoot + "/Policies/reference", root + "/Policies/reference"),
            (CLI.packageRoot + "/Attestation/reference", root + "/Attestation/reference"),
        ]
        if reverseOrder { copies.reverse() }
        for (from, to) in copies {
            try fm.createDirectory(atPath: FileSystemPath.parent(to), withIntermediateDirectories: true)
            try fm.copyItem(atPath: from, toPath: to)
        }
        try fm.createDirectory(atPath: root + "/models", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/Image", withIntermediateDirectories: true)
        let digest = Self.sha256(modelBytes)
        #expect(fm.createFile(atPath: root + "/models/test-model.gguf", contents: Data(modelBytes)))
        let spec = """
        {"schema": "sovereign.image-spec/v1", "name": "test-appliance", "version": "1.2.3", "sequence": 7,
         "source": "https://example.invalid/test", "created": "2026-01-02T03:04:05Z",\(extraSpec)
         "model": {"path": "../models/test-model.gguf", "sha256": "\(digest)", "license": "Apache-2.0", "source": "synthetic"},
         "constraintLayer": "../Policies/reference", "auditSuites": "../Attestation/reference"}
        """
        #expect(fm.createFile(atPath: root + "/Image/test.image.json", contents: Data(spec.utf8)))
        if reverseOrder {
            // Different mtimes everywhere: the image must not care.
            let enumerator = fm.enumerator(atPath: root)
            while let relative = enumerator?.nextObject() as? String {
                try fm.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000_000 + Double(relative.count))],
                                     ofItemAtPath: root + "/" + relative)
            }
        }
    }

    /// A valid GGUF v3 header with no tensors and two metadata entries
    /// (general.architecture = "llama", llama.block_count = 2): what the
    /// build reads for the BOM's model card. Little-endian throughout.
    static func minimalGGUFHeader() -> [UInt8] {
        func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func string(_ s: String) -> [UInt8] { u64(UInt64(s.utf8.count)) + Array(s.utf8) }
        let ggufString: UInt32 = 8, ggufUInt32: UInt32 = 4
        return Array("GGUF".utf8) + u32(3) + u64(0) + u64(2)
            + string("general.architecture") + u32(ggufString) + string("llama")
            + string("llama.block_count") + u32(ggufUInt32) + u32(2)
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        let directory = try? TemporaryDirectory()
        defer { directory?.remove() }
        guard let directory else { return "" }
        let file = directory.file("x")
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        let out = (try? runProcess("/usr/bin/sha256sum", [file]))?.stdout ?? ""
        return String(out.prefix(64))
    }

    /// `sovereign build` of this fixture into `out` (relative to the workspace).
    func build(_ out: String, archive: String? = nil, key: String = "release.key", modelSigningKey: String? = nil,
               environment: [String: String] = [:], shellPrefix: String? = nil) throws -> ProcessResult {
        var arguments = ["build", specPath, "--key", key, "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE", "--out", out]
        if let archive { arguments += ["--archive", archive] }
        if let modelSigningKey { arguments += ["--model-signing-key", modelSigningKey] }
        if let shellPrefix {
            // Run under a shell to change umask and the like.
            let quoted = ([CLI.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
            var env = ["PATH": "/usr/bin:/bin"]
            env.merge(CLI.passphraseEnvironment) { $1 }
            env.merge(environment) { $1 }
            return try runProcess("/bin/sh", ["-c", "\(shellPrefix); exec \(quoted)"], environment: env, directory: path)
        }
        return try workspace.run(arguments, environment: environment)
    }

    /// An ECDSA P-256 key pair made by openssl: p256.pem (private), p256.pub.pem.
    func makeP256Key() throws {
        let generate = try runProcess("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "p256.pem"], directory: path)
        #expect(generate.status == 0, "\(generate.stderr)")
        let pub = try runProcess("/usr/bin/openssl", ["pkey", "-in", "p256.pem", "-pubout", "-out", "p256.pub.pem"], directory: path)
        #expect(pub.status == 0, "\(pub.stderr)")
    }

    func remove() { workspace.remove() }
}

enum FileSystemPath {
    static func parent(_ path: String) -> String { (path as NSString).deletingLastPathComponent }

    /// Every regular file under `root` (relative path → bytes), and every
    /// entry's permission bits, to compare two trees exactly.
    static func tree(_ root: String) -> (files: [String: [UInt8]], modes: [String: Int]) {
        var files: [String: [UInt8]] = [:], modes: [String: Int] = [:]
        let fm = FileManager.default
        let enumerator = fm.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let full = root + "/" + relative
            modes[relative] = (try? fm.attributesOfItem(atPath: full)[.posixPermissions] as? Int) ?? -1
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[relative] = fm.contents(atPath: full).map { [UInt8]($0) }
            }
        }
        return (files, modes)
    }
}

/// Reads a JSON object from a command's stdout.
func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}
