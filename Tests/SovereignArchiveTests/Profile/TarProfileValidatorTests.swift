import Foundation
import Testing
import SovereignTestSupport
import SovereignCrypto
@testable import SovereignArchive

/// The validator on its own: it accepts what the writer writes, in any
/// chunking, and `ProfileTar` (which the hostile layers are made with)
/// writes the writer's very bytes.
@Suite struct TarProfileValidatorTests {
    static func written(mtime: Int64 = ProfileTar.mtime, _ body: (DeterministicTarWriter) throws -> Void) throws -> [UInt8] {
        var bytes: [UInt8] = []
        let writer = try DeterministicTarWriter(label: "test", mtime: mtime) { chunk in bytes.append(contentsOf: chunk) }
        try body(writer)
        _ = try writer.finish()
        return bytes
    }

    /// Feeds `bytes` in chunks of `sizes` (cycled), then finishes; the entries in order.
    static func validate(_ bytes: [UInt8], chunks sizes: [Int] = [1 << 20]) throws(ArchiveError) -> [TarProfileEntry] {
        var validator = TarProfileValidator(label: "layer")
        var entries: [TarProfileEntry] = []
        var start = 0
        var which = 0
        while start < bytes.count {
            let end = min(bytes.count, start + sizes[which % sizes.count])
            which += 1
            try bytes[start..<end].withUnsafeBytes { raw in Result { () throws(ArchiveError) in try validator.consume(raw) } }.get()
            while let entry = validator.claimEntry() { entries.append(entry) }
            start = end
        }
        try validator.finish()
        return entries
    }

    static let longFile = "sovereign/" + String(repeating: "deep-directory-name/", count: 12) + "x.bin"
    /// Over 100 bytes, but split into prefix and name fields: no pax header.
    static let splitDirectory = "sovereign/" + String(repeating: "d", count: 120) + "/sub/"

    /// With names that fit ustar (split into prefix and name where needed).
    /// Shortened names are checked by shape instead
    /// (`acceptsEveryPathTheWriterWrites`), and times from 2038 by
    /// extraction (`WriterLayerProfileTests`): both vary with libarchive's version.
    @Test func profileTarWritesTheWritersBytes() throws {
        let mtime = ProfileTar.mtime
        let text = Array("alpha\n".utf8)
        let writer = try Self.written(mtime: mtime) { tar in
            try tar.addDirectory("sovereign/")
            try tar.addFile("sovereign/a.txt", bytes: text)
            try tar.addFile("sovereign/bin", bytes: [0, 1, 2], executable: true)
            try tar.addDirectory(Self.splitDirectory)
            try tar.addFile(Self.splitDirectory + "f", bytes: text)
        }
        var tar = ProfileTar()
        tar.entry(Array("sovereign/".utf8), type: ProfileTar.directory, mode: 0o755, mtime: mtime)
        tar.entry(Array("sovereign/a.txt".utf8), type: ProfileTar.regular, data: text, mtime: mtime)
        tar.entry(Array("sovereign/bin".utf8), type: ProfileTar.regular, data: [0, 1, 2], mode: 0o755, mtime: mtime)
        tar.entry(Array(Self.splitDirectory.utf8), type: ProfileTar.directory, mode: 0o755, mtime: mtime)
        tar.entry(Array((Self.splitDirectory + "f").utf8), type: ProfileTar.regular, data: text, mtime: mtime)
        #expect(tar.finished == writer)
        #expect(try Self.validate(writer).map { String(decoding: $0.name, as: UTF8.self) } == [
            "sovereign/", "sovereign/a.txt", "sovereign/bin", Self.splitDirectory, Self.splitDirectory + "f",
        ])
    }

    /// Paths of every shape, random depths and component lengths, 1 to 1024
    /// bytes, written by the real writer (which shortens each long one in
    /// its own version's way): the validator must accept every layer and
    /// read back exactly the path.
    @Test func acceptsEveryPathTheWriterWrites() throws {
        var random = SeededBytes(seed: 2026)
        var paths = Set<String>()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789._-".utf8)
        while paths.count < 400 {
            let depth = 1 + Int(random.next() % 16)
            let longest = [8, 40, 120, 255][Int(random.next() % 4)]
            var components: [String] = []
            for _ in 0..<depth {
                let length = 1 + Int(random.next() % UInt64(longest))
                var bytes = (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
                bytes[0] = UInt8(ascii: "a")
                components.append(String(decoding: bytes, as: UTF8.self))
            }
            let path = components.joined(separator: "/")
            if path.utf8.count <= SafeTarPath.maximumLength { paths.insert(path) }
        }
        for path in paths.sorted() {
            let isDirectory = random.next() % 4 == 0
            let bytes = try Self.written { tar in
                if isDirectory { try tar.addDirectory(path) } else { try tar.addFile(path, bytes: [1]) }
            }
            let expected = isDirectory ? path + "/" : path
            do {
                let entries = try Self.validate(bytes)
                #expect(entries == [TarProfileEntry(name: Array(expected.utf8), isDirectory: isDirectory,
                                                    size: isDirectory ? 0 : 1, mode: isDirectory ? 0o755 : 0o644)], "\(expected)")
            } catch {
                Issue.record("\(expected.utf8.count) bytes, \(expected): \(error)")
            }
        }
    }

    /// Any chunking, down to one byte at a time, gives the same entries, and the same refusal.
    @Test(arguments: [[1], [7, 511, 1, 1024, 3], [512], [513, 100_000]])
    func chunkingChangesNothing(sizes: [Int]) throws {
        let layer = try Self.written { tar in
            try tar.addDirectory("sovereign/")
            try tar.addFile("sovereign/a.txt", bytes: Array(repeating: 7, count: 3000))
            try tar.addFile(Self.longFile, bytes: [1, 2, 3])
            try tar.addFile("sovereign/z", bytes: [])
        }
        #expect(try Self.validate(layer, chunks: sizes) == Self.validate(layer))
        #expect(try Self.validate(layer).count == 4)

        var hostile = ProfileTar()
        hostile.directory("sovereign/")
        hostile.file("sovereign/ok.txt", [1], records: [("hdrcharset", Array("BINARY".utf8))])
        let whole = try #require(throws: ArchiveError.self) { try Self.validate(hostile.finished) }
        let chunked = try #require(throws: ArchiveError.self) { try Self.validate(hostile.finished, chunks: sizes) }
        #expect(whole == chunked)
        #expect(whole.path == "layer: sovereign/ok.txt")
    }

    @Test func recordsParseOnlyInTheirExactForm() {
        func reason(_ text: String) -> String? {
            if case .failure(let refusal) = PaxRecords.parse(Array(text.utf8)) { return refusal.reason }
            return nil
        }
        #expect(PaxRecords.parse(Array("12 path=a/b\n".utf8)) == .success(PaxRecords(path: Array("a/b".utf8))))
        #expect(PaxRecords.parse(Array("19 size=8589934592\n12 path=a/b\n14 mtime=2300\n".utf8))
                == .success(PaxRecords(path: Array("a/b".utf8), size: 8_589_934_592, mtime: 2300)))
        #expect(reason("11 path=a/b\n")?.contains("does not end with a newline where its length says") == true)
        #expect(reason("13 path=a/b\n")?.contains("claims 13 bytes but only 12 remain") == true)
        #expect(reason("012 path=a/b\n")?.contains("leading zero") == true)
        #expect(reason("12\tpath=a/b\n")?.contains("no space after its length") == true)
        #expect(reason(" 12 path=a/b\n")?.contains("does not start with its decimal length") == true)
        #expect(reason("11 patha/b\n")?.contains("no '='") == true)
        #expect(reason("12 path=a/b\n12 path=c/d\n")?.contains("more than once") == true)
        #expect(reason("13 mtime=1.5\n")?.contains("whole seconds") == true)
        #expect(reason("11 size=-1\n")?.contains("plain decimal") == true)
        #expect(reason("11 size=01\n")?.contains("plain decimal") == true)
        #expect(reason("8 path=\n")?.contains("empty pax 'path'") == true)
        #expect(reason("")?.contains("empty pax extended header") == true)
        #expect(reason("15 linkpath=/x\n")?.contains("a link target") == true)
        #expect(reason("19 SCHILY.fflags=x\n")?.contains("file flags") == true)
        #expect(reason("29 LIBARCHIVE.xattr.user.a=b\n")?.contains("extended attribute") == true)
        #expect(reason("12 path=a\u{0}b\n")?.contains("NUL byte at offset 1") == true)
        #expect(reason("99999999 path=a\n")?.contains("beyond the pax header") == true)
    }

    /// What counts as the writer's shortened ustar name and pax header name.
    @Test func truncationShapes() {
        func ustar(_ name: String, _ path: String) -> Bool { TarProfile.isUstarName(Array(name.utf8), of: Array(path.utf8)) }
        func paxHeader(_ name: String, _ entry: String) -> Bool { TarProfile.isPaxHeaderName(Array(name.utf8), for: Array(entry.utf8)) }
        let path = "sovereign/aaa/bbb/long-file-name.bin"
        // The path itself, or whole leading directories and the start of the file name.
        #expect(ustar(path, path))
        #expect(ustar("sovereign/aaa/bbb/long-f", path))
        #expect(ustar("sovereign/aaa/long-f", path))
        #expect(ustar("sovereign/long-file-name.bin", path))
        #expect(ustar("long", path))
        // Not: a cut inside a directory, another directory, the end of the file name, nothing of it, '..'.
        #expect(!ustar("sovereign/aa", path))
        #expect(!ustar("sovereign/aaa/bb/long", path))
        #expect(!ustar("sovereign/ccc/long", path))
        #expect(!ustar("sovereign/aaa/bbb/name.bin", path))
        #expect(!ustar("sovereign/aaa/bbb/", path))
        #expect(!ustar("../../escape.txt", "sovereign/ok.txt"))
        // A directory keeps its one trailing '/', a file gets none.
        #expect(ustar("sovereign/dd/", "sovereign/dddd/"))
        #expect(!ustar("sovereign/dd", "sovereign/dddd/"))
        #expect(!ustar("sovereign/ok/", "sovereign/ok.txt"))
        // tarfile cuts a long path at 100 bytes, inside a directory name: refused.
        let long = "sovereign/" + String(repeating: "deep-directory-name/", count: 12) + "x.bin"
        #expect(!ustar(String(long.prefix(100)), long))

        #expect(paxHeader("sovereign/PaxHeader/ok.txt", "sovereign/ok.txt"))
        #expect(paxHeader("sovereign/PaxHeader/o", "sovereign/ok.txt"))
        #expect(paxHeader("PaxHeader/ok.txt", "sovereign/ok.txt"))
        #expect(paxHeader("sovereign/PaxHeader/dir", "sovereign/dir/"))
        #expect(paxHeader("PaxHeader/a", "a"))
        #expect(!paxHeader("././@PaxHeader", "sovereign/ok.txt"))
        #expect(!paxHeader("sovereign/PaxHeader/", "sovereign/ok.txt"))
        #expect(!paxHeader("../PaxHeader/ok.txt", "sovereign/ok.txt"))
        #expect(!paxHeader("sovereign/PaxHeader/other", "sovereign/ok.txt"))
        #expect(!paxHeader("sovereign/XPaxHeader/ok.txt", "sovereign/ok.txt"))
    }
}
