import Foundation
import Testing
import SovereignTestSupport
import SovereignCrypto
@testable import SovereignArchive

@Suite struct DeterministicTarWriterTests {
    /// Writes a small archive into memory.
    func archive(mtime: Int64 = 1_700_000_000, _ body: (DeterministicTarWriter) throws -> Void) throws -> (bytes: [UInt8], digest: SHA256Digest) {
        var bytes: [UInt8] = []
        let writer = try DeterministicTarWriter(label: "test", mtime: mtime) { chunk in bytes.append(contentsOf: chunk) }
        try body(writer)
        let (digest, size) = try writer.finish()
        #expect(size == Int64(bytes.count))
        #expect(digest == SHA256.hash(bytes))
        return (bytes, digest)
    }

    func sample(_ writer: DeterministicTarWriter) throws {
        try writer.addDirectory("sovereign/")
        try writer.addFile("sovereign/a.txt", bytes: Array("alpha\n".utf8))
        try writer.addFile("sovereign/bin", bytes: [0, 1, 2], executable: true)
        try writer.addFile("sovereign/" + String(repeating: "long-name-", count: 15) + ".md", bytes: Array("x".utf8))
    }

    @Test func sameEntriesGiveSameBytes() throws {
        let first = try archive(sample)
        let second = try archive(sample)
        #expect(first.bytes == second.bytes)
        // Ends with exactly two zero blocks, no record padding.
        #expect(first.bytes.count % 512 == 0)
        #expect(first.bytes.suffix(1024).allSatisfy { $0 == 0 })
        // A different time changes the bytes.
        #expect(try archive(mtime: 1, sample).bytes != first.bytes)
    }

    /// Python's tarfile, written by others, reads our headers: fixed mtime,
    /// uid/gid 0, no user or group names, normalised modes, long names intact.
    @Test func pythonTarfileReadsNormalisedHeaders() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("t.tar")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(try archive(sample).bytes)))
        let script = """
        import tarfile, sys
        for m in tarfile.open(sys.argv[1]).getmembers():
            print(m.name, oct(m.mode), m.uid, m.gid, repr(m.uname), repr(m.gname), m.mtime, m.type.decode(), m.size, sorted(m.pax_headers))
        """
        let result = try runProcess("/usr/bin/python3", ["-c", script, path])
        #expect(result.status == 0, "\(result.stderr)")
        let long = "sovereign/" + String(repeating: "long-name-", count: 15) + ".md"
        #expect(result.stdout == """
        sovereign 0o755 0 0 '' '' 1700000000 5 0 []
        sovereign/a.txt 0o644 0 0 '' '' 1700000000 0 6 []
        sovereign/bin 0o755 0 0 '' '' 1700000000 0 3 []
        \(long) 0o644 0 0 '' '' 1700000000 0 1 ['path']

        """)
        // GNU tar extracts it too.
        let gnu = try runProcess("/bin/tar", ["-tvf", path])
        #expect(gnu.status == 0)
        #expect(gnu.stdout.contains(long))
    }

    @Test func refusesUnsortedOrDuplicateEntries() throws {
        #expect(throws: ArchiveError.self) {
            _ = try archive { writer in
                try writer.addFile("b", bytes: [1])
                try writer.addFile("a", bytes: [1])
            }
        }
        #expect(throws: ArchiveError.self) {
            _ = try archive { writer in
                try writer.addFile("a", bytes: [1])
                try writer.addFile("a", bytes: [2])
            }
        }
    }

    /// Hands bytes to a typed-throwing writer callback.
    func feed(_ bytes: [UInt8], to write: (UnsafeRawBufferPointer) throws(ArchiveError) -> Void) throws(ArchiveError) {
        try bytes.withUnsafeBytes { raw in Result { () throws(ArchiveError) in try write(raw) } }.get()
    }

    @Test func refusesInputThatDisagreesWithItsDeclaredSize() throws {
        #expect(throws: ArchiveError(path: "test: f", reason: "input has 2 bytes, 3 were declared (changed while archiving?)")) {
            _ = try archive { writer in
                try writer.addFile("f", size: 3) { (write) throws(ArchiveError) in try feed([1, 2], to: write) }
            }
        }
        #expect(throws: ArchiveError(path: "test: f", reason: "input grew past its declared 1 bytes while archiving")) {
            _ = try archive { writer in
                try writer.addFile("f", size: 1) { (write) throws(ArchiveError) in try feed([1, 2], to: write) }
            }
        }
    }

    @Test func readerSeesWhatWriterWrote() throws {
        let (bytes, _) = try archive(sample)
        var seen: [String: [UInt8]] = [:]
        try TarReader.forEachEntry(in: bytes, label: "t") { (entry, read) throws(ArchiveError) in
            if !entry.isDirectory { seen[entry.path] = try read(1 << 20) }
        }
        #expect(seen["sovereign/a.txt"] == Array("alpha\n".utf8))
        #expect(seen["sovereign/bin"] == [0, 1, 2])
        #expect(seen.count == 3)
    }
}
