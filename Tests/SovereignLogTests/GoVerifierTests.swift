import Foundation
import Testing
import SovereignCrypto
import SovereignTestSupport
@testable import SovereignLog

/// An independent verifier we did not write: Go's golang.org/x/mod/sumdb
/// `note` and `tlog` packages (Debian's golang-golang-x-mod-dev, built
/// offline in GOPATH mode; scripts/setup installs them). The small program
/// (Tests/Interop/logcheck/main.go) only splits formats; every signature and proof is checked by
/// `note.Open`, `tlog.CheckRecord` and `tlog.CheckTree`.
enum GoVerifier {
    /// Tests/Interop/logcheck/main.go: one copy, used by these tests and by scripts/demo.
    static let sourcePath = packageRoot + "/Tests/Interop/logcheck/main.go"

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// The program, built once per test process.
    static let binary: Result<String, any Error> = Result {
        let go = "/usr/bin/go"
        guard FileManager.default.isExecutableFile(atPath: go),
              FileManager.default.fileExists(atPath: "/usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go") else {
            throw Missing(description: "Go and golang.org/x/mod are missing: apt-get install golang-go golang-golang-x-mod-dev (scripts/setup does)")
        }
        let work = try TemporaryDirectory()
        let package = work.path + "/gopath/src/logcheck"
        try FileManager.default.createDirectory(atPath: package, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sourcePath, toPath: package + "/main.go")
        let environment = ["PATH": "/usr/bin:/bin", "HOME": work.path, "GOCACHE": work.path + "/cache",
                           "GOPATH": "/usr/share/gocode:" + work.path + "/gopath", "GO111MODULE": "off", "GOPROXY": "off",
                           "CGO_ENABLED": "0"]
        let result = try runProcess(go, ["build", "-o", work.path + "/logcheck", "logcheck"], environment: environment,
                                    directory: work.path, timeout: 300)
        guard result.status == 0 else { throw Missing(description: "go build failed: \(result.stderr)") }
        return work.path + "/logcheck"
    }

    /// Runs one command per line; returns one answer per line ("ok …" or "fail …").
    static func check(_ commands: [String]) throws -> [String] {
        let program = try binary.get()
        let result = try runProcess(program, [], input: Array((commands.joined(separator: "\n") + "\n").utf8), timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }
}

@Suite struct GoVerifierTests {
    /// A log with several checkpoints, a purge and a recovered crash.
    static func makeLog() throws -> (ScratchLog, NoteVerifierKey) {
        let scratch = try ScratchLog()
        var log = try scratch.open(interval: 5)
        for n in 0..<9 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        try log.close()
        let crashing = try scratch.open(interval: 5, crash: LogCrashInjection(point: .midLine, killsProcess: false))
        _ = try? crashing.append(metadata: exchange(9).metadata, content: exchange(9).content)
        try? crashing.close()
        log = try scratch.open(interval: 5)
        for n in 10..<21 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        _ = try log.purge(before: 1_780_000_006)
        try log.close()
        return (scratch, try LogReader.publishedKey(directory: scratch.path))
    }

    static func b64(_ bytes: [UInt8]) -> String { Base64.encode(bytes) }

    @Test func goOpensEveryCheckpointWeSignAndRefusesAlteredOnes() throws {
        let (scratch, key) = try Self.makeLog()
        let report = try scratch.verify()
        #expect(report.isIntact, "\(report.findings)")
        var notes: [SignedCheckpoint] = [try SignedCheckpoint.open(scratch.read("checkpoint"), source: "c", trusting: key)]
        for line in String(decoding: scratch.read("checkpoints.jsonl"), as: UTF8.self).split(separator: "\n") {
            let record = try CheckpointRecord(parsing: Array(line.utf8), source: "h")
            notes.append(try SignedCheckpoint.open(record.note.bytes, source: "h", trusting: key))
        }
        // Every line's own signed checkpoint too.
        for (_, record) in try LogReader.records(0..<report.entryCount, directory: scratch.path) {
            notes.append(try #require(try record.get().signedCheckpoint(origin: key.name)))
        }
        #expect(notes.count > 25)
        let answers = try GoVerifier.check(notes.map { "note \(key.encoded) \(Self.b64($0.bytes))" })
        #expect(answers == notes.map { "ok \(key.name) \($0.checkpoint.size) \(Self.b64($0.checkpoint.root.bytes))" })

        let other = try ApplianceKey.generate(origin: key.name)
        let latest = notes[0]
        var flipped = latest.bytes
        flipped[flipped.count - 8] ^= 0x04
        let altered = Array(String(decoding: latest.bytes, as: UTF8.self).replacingOccurrences(of: "\n\(latest.checkpoint.size)\n", with: "\n\(latest.checkpoint.size + 1)\n").utf8)
        let foreign = other.sign(latest.checkpoint).bytes
        let refused = try GoVerifier.check([flipped, altered, foreign].map { "note \(key.encoded) \(Self.b64($0))" })
        #expect(refused.count == 3 && refused.allSatisfy { $0.hasPrefix("fail ") }, "\(refused)")
    }

    @Test func goChecksEveryInclusionProofAndRefusesBentOnes() throws {
        let (scratch, _) = try Self.makeLog()
        let report = try scratch.verify()
        let latest = try #require(report.latest).checkpoint
        var commands: [String] = []
        var bent: [String] = []
        for index in 0..<report.entryCount {
            let proof = try report.inclusionProof(for: index)
            let leaf = try LogReader.record(at: index, directory: scratch.path).record.entry.leafBytes
            let path = proof.path.map { Self.b64($0.bytes) }
            commands.append((["record", "\(latest.size)", Self.b64(latest.root.bytes), "\(index)", Self.b64(leaf)] + path).joined(separator: " "))
            var otherLeaf = leaf
            otherLeaf[otherLeaf.count / 2] ^= 1
            bent.append((["record", "\(latest.size)", Self.b64(latest.root.bytes), "\(index)", Self.b64(otherLeaf)] + path).joined(separator: " "))
            bent.append((["record", "\(latest.size)", Self.b64(latest.root.bytes), "\((index + 1) % latest.size)", Self.b64(leaf)] + path).joined(separator: " "))
            if !path.isEmpty {
                var swapped = path
                swapped[0] = Self.b64(RFC6962.leafHash([7]).bytes)
                bent.append((["record", "\(latest.size)", Self.b64(latest.root.bytes), "\(index)", Self.b64(leaf)] + swapped).joined(separator: " "))
            }
        }
        #expect(commands.count == Int(report.entryCount) && report.entryCount >= 22)
        #expect(try GoVerifier.check(commands) == Array(repeating: "ok record", count: commands.count))
        let refused = try GoVerifier.check(bent)
        #expect(refused.count == bent.count && refused.allSatisfy { $0.hasPrefix("fail ") }, "\(refused.filter { !$0.hasPrefix("fail") })")
    }

    @Test func goChecksEveryConsistencyProofAndRefusesBentOnes() throws {
        let (scratch, key) = try Self.makeLog()
        let report = try scratch.verify()
        let latest = try #require(report.latest).checkpoint
        var commands: [String] = []
        var bent: [String] = []
        for size in 1...report.entryCount {
            let old = try report.tree.root(ofSize: size)
            let signer = try ApplianceKey(parsingPrivateKey: String(decoding: scratch.read("appliance.key").dropLast(), as: UTF8.self), source: "k")
            let proof = try report.consistencyProof(from: signer.sign(Checkpoint(origin: key.name, size: size, root: old)))
            let path = proof.path.map { Self.b64($0.bytes) }
            commands.append((["tree", "\(latest.size)", Self.b64(latest.root.bytes), "\(size)", Self.b64(old.bytes)] + path).joined(separator: " "))
            let wrongOld = RFC6962.nodeHash(old, old)
            bent.append((["tree", "\(latest.size)", Self.b64(latest.root.bytes), "\(size)", Self.b64(wrongOld.bytes)] + path).joined(separator: " "))
            if !path.isEmpty {
                bent.append((["tree", "\(latest.size)", Self.b64(latest.root.bytes), "\(size)", Self.b64(old.bytes)] + path.dropLast()).joined(separator: " "))
            }
        }
        #expect(try GoVerifier.check(commands) == Array(repeating: "ok tree", count: commands.count))
        let refused = try GoVerifier.check(bent)
        #expect(refused.count == bent.count && refused.allSatisfy { $0.hasPrefix("fail ") }, "\(refused.filter { !$0.hasPrefix("fail") })")
    }

    @Test func goVerifiesOurOfflineProofBundles() throws {
        let (scratch, key) = try Self.makeLog()
        let report = try scratch.verify()
        var commands: [String] = []
        var expected: [String] = []
        for index in stride(from: UInt64(0), to: report.entryCount, by: 3) {
            let leaf = try LogReader.record(at: index, directory: scratch.path).record.entry.leafBytes
            let bundle = try report.inclusionProof(for: index).bundle(leaf: leaf)
            commands.append("bundle \(key.encoded) \(Self.b64(bundle.bytes))")
            expected.append("ok \(key.name) \(report.entryCount) \(index)")
        }
        #expect(try GoVerifier.check(commands) == expected)
        let leaf = try LogReader.record(at: 4, directory: scratch.path).record.entry.leafBytes
        let proof = try report.inclusionProof(for: 4)
        var other = leaf
        other[other.count - 3] ^= 1
        let forgedExtra = TLogProof(extra: other, index: 4, path: proof.path, checkpoint: proof.checkpoint.note)
        let movedIndex = TLogProof(extra: leaf, index: 5, path: proof.path, checkpoint: proof.checkpoint.note)
        let refused = try GoVerifier.check([forgedExtra, movedIndex].map { "bundle \(key.encoded) \(Self.b64($0.bytes))" })
        #expect(refused.count == 2 && refused.allSatisfy { $0.hasPrefix("fail ") }, "\(refused)")
    }

    @Test func goSignsWithTheApplianceKeyFileExactlyAsTheLogDoes() throws {
        let (scratch, key) = try Self.makeLog()
        let latest = try SignedCheckpoint.open(scratch.read("checkpoint"), source: "c", trusting: key)
        let answers = try GoVerifier.check(["sign \(scratch.file("appliance.key")) \(Self.b64(latest.checkpoint.text))"])
        #expect(answers == ["ok \(Self.b64(latest.bytes))"])
    }
}
