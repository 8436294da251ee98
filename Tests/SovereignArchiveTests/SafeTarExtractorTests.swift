import Foundation
import Testing
import SovereignTestSupport
import SovereignSystem
import SovereignCrypto
@testable import SovereignArchive

@Suite struct SafeTarExtractorTests {
    /// Writes a layer with `DeterministicTarWriter` straight to a file.
    @discardableResult
    func writeLayer(_ path: String, _ body: (DeterministicTarWriter) throws -> Void) throws -> (digest: SHA256Digest, size: Int64) {
        let file = try FileDescriptor.createExclusive(path)
        defer { file.closeIgnoringErrors() }
        let writer = try DeterministicTarWriter(label: path, mtime: 1_700_000_000) { (chunk) throws(ArchiveError) in
            do throws(SystemError) { try file.writeAll(chunk) } catch { throw ArchiveError(error) }
        }
        try body(writer)
        return try writer.finish()
    }

    func signed(_ path: String, _ bytes: [UInt8]) -> SignedFile {
        SignedFile(path: path, size: Int64(bytes.count), sha256: SHA256.hash(bytes))
    }

    func makeRoot(_ directory: TemporaryDirectory, _ name: String = "root") throws -> String {
        let root = directory.file(name)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return root
    }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        return info.st_mode & 0o7777
    }

    func contents(_ path: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    }

    @Test func extractsALayerFromDeterministicTarWriter() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var seeded = SeededBytes(seed: 7)
        let model = seeded.bytes(300_000)
        let text = Array("alpha\n".utf8)
        let tool = Array("#!/bin/sh\necho hi\n".utf8)
        let layer = directory.file("layer.tar")
        let written = try writeLayer(layer) { tar in
            try tar.addDirectory("sovereign/")
            try tar.addFile("sovereign/a.txt", bytes: text)
            try tar.addFile("sovereign/empty", bytes: [])
            try tar.addDirectory("sovereign/model/")
            try tar.addFile("sovereign/model/x.gguf", bytes: model)
            try tar.addDirectory("sovereign/runtime/")
            try tar.addDirectory("sovereign/runtime/bin/")
            try tar.addFile("sovereign/runtime/bin/tool", bytes: tool, executable: true)
        }
        let root = try makeRoot(directory)
        let extractor = try SafeTarExtractor(root: root, expected: [
            signed("sovereign/model/x.gguf", model), signed("sovereign/a.txt", text),
            signed("sovereign/runtime/bin/tool", tool), signed("sovereign/empty", []),
        ])
        let result = try extractor.extractLayer(fromFile: layer, label: "model layer")
        try extractor.finish()

        // The digest returned is the layer file's, computed while extracting.
        let layerBytes = contents(layer)
        #expect(result.digest == SHA256.hash(layerBytes))
        #expect(result.size == Int64(layerBytes.count))
        #expect(result.digest == written.digest && result.size == written.size)

        #expect(contents(root + "/sovereign/model/x.gguf") == model)
        #expect(contents(root + "/sovereign/a.txt") == text)
        #expect(contents(root + "/sovereign/runtime/bin/tool") == tool)
        #expect(contents(root + "/sovereign/empty") == [])
        #expect(mode(root + "/sovereign/a.txt") == 0o644)
        #expect(mode(root + "/sovereign/runtime/bin/tool") == 0o755)
        #expect(mode(root + "/sovereign/model/x.gguf") == 0o644)
        for dir in ["sovereign", "sovereign/model", "sovereign/runtime", "sovereign/runtime/bin"] {
            #expect(mode(root + "/" + dir) == 0o755, "\(dir)")
        }
        // finish() is once only.
        #expect(throws: ArchiveError.self) { try extractor.finish() }
    }

    @Test func extractsSeveralLayersThatShareDirectories() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let weights = Array(repeating: UInt8(3), count: 5000)
        let runtime = Array("{}".utf8)
        let policy = Array("allow".utf8)
        try writeLayer(directory.file("1.tar")) { tar in
            try tar.addDirectory("sovereign/")
            try tar.addDirectory("sovereign/model/")
            try tar.addFile("sovereign/model/w.gguf", bytes: weights)
        }
        try writeLayer(directory.file("2.tar")) { tar in
            try tar.addDirectory("sovereign/")
            try tar.addDirectory("sovereign/runtime/")
            try tar.addFile("sovereign/runtime/runtime.json", bytes: runtime)
        }
        // A layer without directory entries: parents are made as needed.
        try writeLayer(directory.file("3.tar")) { tar in
            try tar.addFile("sovereign/model/policy/p.txt", bytes: policy)
        }
        let root = try makeRoot(directory)
        let extractor = try SafeTarExtractor(root: root, expected: [
            signed("sovereign/model/w.gguf", weights), signed("sovereign/runtime/runtime.json", runtime),
            signed("sovereign/model/policy/p.txt", policy),
        ])
        for layer in ["1", "2", "3"] {
            _ = try extractor.extractLayer(fromFile: directory.file("\(layer).tar"), label: "layer \(layer)")
        }
        try extractor.finish()
        #expect(contents(root + "/sovereign/model/w.gguf") == weights)
        #expect(contents(root + "/sovereign/runtime/runtime.json") == runtime)
        #expect(contents(root + "/sovereign/model/policy/p.txt") == policy)
    }

    @Test func finishReportsASignedFileNoLayerCarried() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try writeLayer(directory.file("l.tar")) { tar in try tar.addFile("sovereign/a", bytes: [1]) }
        let extractor = try SafeTarExtractor(root: try makeRoot(directory), expected: [
            signed("sovereign/a", [1]), signed("sovereign/b", [2]), signed("sovereign/c", [3]),
        ])
        _ = try extractor.extractLayer(fromFile: directory.file("l.tar"), label: "l")
        let error = try #require(throws: ArchiveError.self) { try extractor.finish() }
        #expect(error.path == "sovereign/b")
        #expect(error.reason == "is in the signed file list but in no layer (and 1 more signed files are missing)")
    }

    @Test func duplicateAcrossLayersNamesTheFirstLayer() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for name in ["1", "2"] {
            try writeLayer(directory.file("\(name).tar")) { tar in try tar.addFile("sovereign/a", bytes: [1]) }
        }
        let extractor = try SafeTarExtractor(root: try makeRoot(directory), expected: [signed("sovereign/a", [1])])
        _ = try extractor.extractLayer(fromFile: directory.file("1.tar"), label: "first")
        let error = try #require(throws: ArchiveError.self) {
            try extractor.extractLayer(fromFile: directory.file("2.tar"), label: "second")
        }
        #expect(error.path == "second: sovereign/a")
        #expect(error.reason == "appears more than once (already extracted from first)")
        // A failed extractor stays failed.
        let again = try #require(throws: ArchiveError.self) { try extractor.finish() }
        #expect(again.reason.contains("extraction already failed"))
    }

    /// Nothing may follow the end-of-archive blocks (GNU tar -i would list
    /// it while we ignored it): refused, naming how much; zero padding too,
    /// since a layer has one byte-exact form.
    @Test(arguments: [[UInt8](repeating: 0x55, count: 3 * 1024 * 1024 + 17), [UInt8](repeating: 0, count: 512), [0x41]])
    func refusesBytesAfterTheEndOfArchiveBlocks(trailing: [UInt8]) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let layer = directory.file("l.tar")
        try writeLayer(layer) { tar in try tar.addFile("a", bytes: [1, 2, 3]) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: layer))
        handle.seekToEndOfFile()
        handle.write(Data(trailing))
        try handle.close()
        let extractor = try SafeTarExtractor(root: try makeRoot(directory), expected: [signed("a", [1, 2, 3])])
        let error = try #require(throws: ArchiveError.self) { try extractor.extractLayer(fromFile: layer, label: "l") }
        #expect(error.reason == "has \(trailing.count) bytes after its end-of-archive blocks", "\(error)")
    }

    /// A layer cut right after its last entry (no end-of-archive blocks) is refused too.
    @Test func refusesALayerWithoutEndOfArchiveBlocks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let layer = directory.file("l.tar")
        let tar = RawTar.entry(Array("a".utf8), body: [1, 2, 3])
        #expect(FileManager.default.createFile(atPath: layer, contents: Data(tar)))
        let extractor = try SafeTarExtractor(root: try makeRoot(directory), expected: [signed("a", [1, 2, 3])])
        let error = try #require(throws: ArchiveError.self) { try extractor.extractLayer(fromFile: layer, label: "l") }
        #expect(error.reason.contains("end-of-archive"), "\(error)")
    }

    /// The check-only extractor applies the same rules and writes nothing.
    @Test func checkingOnlyWritesNothingAndRefusesTheSame() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let good = directory.file("good.tar"), bad = directory.file("bad.tar")
        let digest = try writeLayer(good) { tar in try tar.addFile("sovereign/a", bytes: [1, 2, 3]) }
        try writeLayer(bad) { tar in try tar.addFile("sovereign/b", bytes: [1, 2, 3]) }
        let checker = try SafeTarExtractor(checkingOnly: [signed("sovereign/a", [1, 2, 3])], label: "check")
        let result = try checker.extractLayer(fromFile: good, label: "good")
        try checker.finish()
        #expect(result.digest == digest.digest)
        let refusing = try SafeTarExtractor(checkingOnly: [signed("sovereign/a", [1, 2, 3])], label: "check")
        let error = try #require(throws: ArchiveError.self) { try refusing.extractLayer(fromFile: bad, label: "bad") }
        #expect(error.reason == "is not in the signed file list")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["bad.tar", "good.tar"])
    }

    /// A FIFO or a device in place of a layer file fails at once, never blocks.
    @Test func refusesALayerThatIsNotARegularFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(mkfifo(directory.file("fifo"), 0o644) == 0)
        symlink("/dev/zero", directory.file("zero"))
        for name in ["fifo", "zero"] {
            let extractor = try SafeTarExtractor(root: try makeRoot(directory, "root-" + name), expected: [])
            let error = try #require(throws: ArchiveError.self) { try extractor.extractLayer(fromFile: directory.file(name), label: name) }
            #expect(error.reason.contains("not a regular file"), "\(error)")
        }
    }

    /// A 64 MiB file streams through in chunks: resident memory during the
    /// extraction stays far below the file's size.
    @Test func streamsALargeFileWithoutHoldingIt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let size = 64 << 20
        let chunk = 1 << 20
        var seeded = SeededBytes(seed: 64)
        let noise = seeded.bytes(4096)
        var hasher = SHA256()
        let layer = directory.file("big.tar")
        // Mostly zeros with a seeded block per MiB: cheap to make, not trivially compressible.
        try writeLayer(layer) { tar in
            try tar.addDirectory("sovereign/")
            try tar.addFile("sovereign/big.bin", size: Int64(size)) { (write) throws(ArchiveError) in
                var block = [UInt8](repeating: 0, count: chunk)
                for index in 0..<(size / chunk) {
                    block.replaceSubrange(0..<noise.count, with: noise)
                    block[noise.count] = UInt8(truncatingIfNeeded: index)
                    try block.withUnsafeBytes { raw in
                        hasher.update(raw)
                        return Result { () throws(ArchiveError) in try write(raw) }
                    }.get()
                }
            }
        }
        let expected = SignedFile(path: "sovereign/big.bin", size: Int64(size), sha256: hasher.finalize())
        let extractor = try SafeTarExtractor(root: try makeRoot(directory), expected: [expected])

        let sampler = ResidentMemorySampler()
        let baseline = sampler.start()
        let result = try extractor.extractLayer(fromFile: layer, label: "big")
        let peak = sampler.stop()
        try extractor.finish()

        #expect(result.digest == (try FileHashing.sha256(ofFile: layer)).digest)
        var info = stat()
        #expect(stat(directory.file("root/sovereign/big.bin"), &info) == 0 && info.st_size == size)
        let grown = peak - baseline
        #expect(grown < 24 << 20, "resident memory grew by \(grown >> 20) MiB while extracting 64 MiB")
    }

    /// A symlink planted in the root after it was checked (a race) is not
    /// followed, at a directory or at a file's own name.
    @Test func refusesToFollowSymlinksPlantedInTheRoot() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let outside = try makeRoot(directory, "outside")
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: outside + "/victim"))
        try writeLayer(directory.file("l.tar")) { tar in
            try tar.addDirectory("sovereign/")
            try tar.addFile("sovereign/victim", bytes: Array("pwned\n".utf8))
        }
        let expected = [signed("sovereign/victim", Array("pwned\n".utf8))]

        // At a directory: root/sovereign -> ../outside.
        let first = try makeRoot(directory, "first")
        let extractor = try SafeTarExtractor(root: first, expected: expected)
        try FileManager.default.createSymbolicLink(atPath: first + "/sovereign", withDestinationPath: outside)
        let error = try #require(throws: ArchiveError.self) {
            try extractor.extractLayer(fromFile: directory.file("l.tar"), label: "l")
        }
        #expect(error.reason.contains("is a symbolic link in the extraction root"))

        // At the file's name: root/sovereign/victim -> ../../outside/victim.
        let second = try makeRoot(directory, "second")
        let other = try SafeTarExtractor(root: second, expected: expected)
        try FileManager.default.createDirectory(atPath: second + "/sovereign", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: second + "/sovereign/victim", withDestinationPath: outside + "/victim")
        let clash = try #require(throws: ArchiveError.self) {
            try other.extractLayer(fromFile: directory.file("l.tar"), label: "l")
        }
        #expect(clash.reason.contains("already exists"))

        #expect(contents(outside + "/victim") == Array("victim\n".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["victim"])
    }

    @Test func refusesARootThatIsNotEmptyOrIsASymlink() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let root = try makeRoot(directory)
        try Data().write(to: URL(fileURLWithPath: root + "/stale"))
        let error = try #require(throws: ArchiveError.self) { try SafeTarExtractor(root: root, expected: []) }
        #expect(error.reason.contains("is not empty"))
        try FileManager.default.createSymbolicLink(atPath: directory.file("link"), withDestinationPath: try makeRoot(directory, "empty"))
        #expect(throws: ArchiveError.self) { try SafeTarExtractor(root: directory.file("link"), expected: []) }
    }

    @Test(arguments: [
        (["a", "a"], "appears more than once"),
        (["../a"], "has a '..' component"),
        (["/etc/passwd"], "is an absolute path"),
        (["./a"], "has a '.' component"),
        (["a/"], "has an empty component"),
        (["a", "a/b"], "is listed as a file but other signed files are under it"),
        ([""], "has an empty name"),
    ])
    func refusesAnInconsistentSignedList(paths: [String], reason: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let files = paths.map { signed($0, []) }
        let error = try #require(throws: ArchiveError.self) { try SafeTarExtractor(root: try makeRoot(directory), expected: files) }
        #expect(error.reason.contains(reason), "\(error)")
        #expect(error.path.hasPrefix("signed file list"))
    }

    @Test(arguments: [
        ("sovereign/a.txt", false, "sovereign/a.txt"),
        ("./sovereign/a.txt", false, "sovereign/a.txt"),
        ("sovereign/dir/", true, "sovereign/dir"),
        ("./sovereign/", true, "sovereign"),
        ("sovereign/model-1.Q4_1.gguf", false, "sovereign/model-1.Q4_1.gguf"),
    ])
    func acceptsOrdinaryNames(name: String, isDirectory: Bool, expected: String) throws {
        let path = try SafeTarPath.parse(Array(name.utf8), as: .archiveEntry(isDirectory: isDirectory)).get()
        #expect(path.bytes == Array(expected.utf8))
    }

    @Test(arguments: [
        ([UInt8]("/abs".utf8), "is an absolute path"),
        ([UInt8]("a/../b".utf8), "has a '..' component"),
        ([UInt8]("..".utf8), "has a '..' component"),
        ([UInt8](".".utf8), "has a '.' component"),
        ([UInt8]("././a".utf8), "has a '.' component"),
        ([UInt8]("./".utf8), "names the extraction root itself"),
        ([UInt8]("a//b".utf8), "has an empty component"),
        ([UInt8]("a/".utf8), "has an empty component"),
        ([], "has an empty name"),
    ] + hostileNameCases)
    func refusesHostileNames(raw: [UInt8], reason: String) {
        guard case .failure(let refusal) = SafeTarPath.parse(raw, as: .archiveEntry(isDirectory: false)) else {
            Issue.record("accepted \(raw)")
            return
        }
        #expect(refusal.reason.hasPrefix(reason))
    }

    static let hostileNameCases: [([UInt8], String)] = [
        ([0x61, 0xFF], "contains a non-ASCII byte"),
        ([0xC0, 0xAF], "contains a non-ASCII byte"),          // overlong "/"
        ([0xED, 0xA0, 0x80], "contains a non-ASCII byte"),    // a UTF-16 surrogate
        ([0x61, 0x0A, 0x62], "contains a control character"),
        ([0x61, 0x1B, 0x5B, 0x32, 0x4A], "contains a control character"),
        ([0x61, 0xC2, 0x9B], "contains a non-ASCII byte"),  // C1 CSI
        // A "/" glued to a combining mark, a joiner or a prepend mark is one
        // Swift Character; as bytes it is still a separator, so ".." is seen.
        (Array("../\u{301}x".utf8), "has a '..' component"),
        (Array("a/..\u{200D}/b".utf8), "contains a non-ASCII byte"),
        (Array("\u{0600}/../x".utf8), "has a '..' component"),
        (Array("a/b\\..".utf8), "contains the character '\\'"),
        (Array(".hidden".utf8), "has a component starting with '.'"),
        (Array("-rf".utf8), "has a component starting with '-'"),
        (Array(repeating: UInt8(ascii: "a"), count: 256), "has a component of 256 bytes"),
        (Array(String(repeating: "a/", count: 17).dropLast().utf8), "is 17 components deep"),
    ]

    /// Names are compared by bytes, and a name outside the portable set
    /// is refused whichever Unicode spelling it uses.
    @Test func refusesEitherSpellingOfAnAccentedName() {
        for raw in [Array("caf\u{E9}".utf8), Array("cafe\u{301}".utf8)] {
            guard case .failure = SafeTarPath.parse(raw, as: .canonical) else {
                Issue.record("accepted \(SafeTarPath.display(raw))")
                continue
            }
        }
    }

    @Test func displayEscapesWhatATerminalWouldObey() {
        #expect(SafeTarPath.display([0x61, 0x1B, 0x5B, 0x0A, 0xFF, 0x5C]) == "a\\x1b[\\x0a\\xff\\x5c")
        #expect(SafeTarPath.display(Array("modèle".utf8)) == "modèle")
    }
}

/// Samples this process's resident set (VmRSS) every few milliseconds on a
/// background thread; the peak since start(). Current, not lifetime-peak
/// (getrusage's ru_maxrss), so earlier tests' allocations do not hide it.
final class ResidentMemorySampler: @unchecked Sendable {
    private let lock = NSLock()
    private var running = false
    private var peak = 0
    private var thread: Thread?

    static func current() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else { return 0 }
        return kib * 1024
    }

    /// Starts sampling; returns the resident size now.
    func start() -> Int {
        let now = Self.current()
        lock.withLock { running = true; peak = now }
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                let value = Self.current()
                lock.withLock { peak = max(peak, value) }
                usleep(2_000)
            }
            done.signal()
        }
        self.thread = thread
        stopped = done
        thread.start()
        return now
    }

    private var stopped: DispatchSemaphore?

    /// Stops sampling; returns the peak resident size seen.
    func stop() -> Int {
        lock.withLock { running = false }
        stopped?.wait()
        return lock.withLock { max(peak, Self.current()) }
    }
}
