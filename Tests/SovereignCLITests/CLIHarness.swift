import Foundation
import Testing
import SovereignTestSupport

/// Runs the built `sovereign` binary, as a user or script would.
enum CLI {
    /// The package root, from this file's path (Tests/SovereignCLITests/…).
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `sovereign` sits beside the test bundle in the build products directory.
    static let binary: String = {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("sovereign").path
    }()

    static let passphraseEnvironment = ["SOVEREIGN_TEST_PASSPHRASE": "test passphrase"]

    /// Runs `sovereign arguments…` in `directory` with a minimal environment.
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:],
                    timeout: Double = 600) throws -> ProcessResult {
        var env = ["PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"]
        env.merge(passphraseEnvironment) { $1 }
        env.merge(environment) { $1 }
        return try runProcess(binary, arguments, environment: env, directory: directory, timeout: timeout)
    }

    /// The Python of the checkers' virtual environment made by scripts/setup.
    static var python: String {
        get throws {
            let path = packageRoot + "/.venv/bin/python"
            guard FileManager.default.isExecutableFile(atPath: path) else {
                Issue.record("\(path) is missing: run scripts/setup (the README's test command does)")
                throw POSIXError(.ENOENT)
            }
            return path
        }
    }
}

/// A scratch directory with a generated key pair, for command tests.
struct Workspace {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    init(keys: [String] = ["release"]) throws {
        directory = try TemporaryDirectory()
        for name in keys { try generateKey(name) }
    }

    func generateKey(_ name: String) throws {
        // "interactive" Argon2id keeps the suite fast; the format and code path are the same.
        let result = try run(["key", "generate", "--out", name, "--strength", "interactive", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"])
        #expect(result.status == 0, "key generate failed: \(result.stderr)")
    }

    func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 600) throws -> ProcessResult {
        try CLI.run(arguments, in: path, environment: environment, timeout: timeout)
    }

    func write(_ name: String, _ contents: String) {
        write(name, bytes: Array(contents.utf8))
    }

    func write(_ name: String, bytes: [UInt8]) {
        let written = FileManager.default.createFile(atPath: directory.file(name), contents: Data(bytes))
        #expect(written, "could not write \(name)")
    }

    func read(_ name: String) -> [UInt8] {
        (FileManager.default.contents(atPath: directory.file(name))).map { [UInt8]($0) } ?? []
    }

    /// Every file's name and contents, to prove a failed command wrote nothing.
    func snapshot() -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { result[name] = read(name) }
        return result
    }

    /// A valid in-toto statement about `file`.
    func statement(about file: String) throws -> String {
        let digest = try run(["digest", file, "--json"])
        let sha = (try JSONSerialization.jsonObject(with: Data(digest.stdout.utf8)) as? [[String: Any]])?.first?["sha256"] as? String ?? ""
        return #"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"\#(file)","digest":{"sha256":"\#(sha)"}}],"predicateType":"https://sovereign.dev/test/v1","predicate":{"note":"héllo"}}"#
    }

    func remove() { directory.remove() }

    /// Asserts no file was added, removed or changed since `before`, naming any that were.
    func expectUnchanged(since before: [String: [UInt8]], sourceLocation: SourceLocation = #_sourceLocation) {
        let after = snapshot()
        let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
        #expect(changed.isEmpty, "files changed by a failed command: \(changed)", sourceLocation: sourceLocation)
    }
}

/// Asserts a failure: the exit status, exactly one stderr line, and its text.
func expectFailure(_ result: ProcessResult, status: Int32 = 1, _ line: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == status, "status \(result.status), stderr: \(result.stderr)", sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
    #expect(lines.count == 1, "expected one error line, got: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(lines.first.map(String.init) == line, sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout should be empty on failure: \(result.stdout)", sourceLocation: sourceLocation)
}
