import Foundation
import Testing
import SovereignTestSupport
import SovereignCrypto
@testable import SovereignArchive

/// Whatever `DeterministicTarWriter` writes is in the profile: long paths
/// (pax `path`), many entries, times from 2038 (pax `mtime`) and sizes from
/// 8 GiB (pax `size`, twelve octal digits or base-256) all extract.
@Suite struct WriterLayerProfileTests {
    func signed(_ path: String, _ bytes: [UInt8]) -> SignedFile {
        SignedFile(path: path, size: Int64(bytes.count), sha256: SHA256.hash(bytes))
    }

    /// Writes a layer in memory, extracts it into a fresh root and check-only; returns the root.
    func extract(_ directory: TemporaryDirectory, mtime: Int64 = 1_700_000_000, files: [(String, [UInt8])],
                 directories: [String] = []) throws -> String {
        var bytes: [UInt8] = []
        let writer = try DeterministicTarWriter(label: "layer", mtime: mtime) { chunk in bytes.append(contentsOf: chunk) }
        let entries = (files.map { ($0.0, Optional($0.1)) } + directories.map { ($0, nil) }).sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        for (path, contents) in entries {
            if let contents { try writer.addFile(path, bytes: contents) } else { try writer.addDirectory(path) }
        }
        let (digest, _) = try writer.finish()
        let expected = files.map { signed($0.0, $0.1) }
        let root = directory.file("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let extractor = try SafeTarExtractor(root: root, expected: expected)
        #expect(try extractor.extractLayer(from: LayerStream(bytes: bytes), label: "layer").digest == digest)
        try extractor.finish()
        let checker = try SafeTarExtractor(checkingOnly: expected, label: "check")
        #expect(try checker.extractLayer(from: LayerStream(bytes: bytes), label: "layer").digest == digest)
        try checker.finish()
        for (path, contents) in files {
            #expect(FileManager.default.contents(atPath: root + "/" + path) == Data(contents), "\(path)")
        }
        return root
    }

    @Test func longPathsExtract() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let deep = "sovereign/" + String(repeating: "deep-directory-name/", count: 12)
        let wide = "sovereign/" + String(repeating: "w", count: 200) + "/"
        let files = [
            ("sovereign/" + String(repeating: "a", count: 90) + ".txt", [UInt8](repeating: 1, count: 10)),   // 104: split
            ("sovereign/" + String(repeating: "b", count: 120) + ".bin", [UInt8](repeating: 2, count: 700)), // one long name: pax
            (deep + "x.bin", Array("deep\n".utf8)),                                                               // 255: pax
            (wide + String(repeating: "f", count: 250), Array("wide\n".utf8)),                                    // long both ways
            (String(repeating: "c", count: 155) + "/" + String(repeating: "n", count: 100), [3]),                 // exactly fits
            ("s/" + String(repeating: "component/", count: 13) + String(repeating: "z", count: 250), [4]),       // near the depth cap
        ]
        _ = try extract(directory, files: files, directories: ["sovereign/", deep, wide])
    }

    @Test func manyEntriesExtract() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var files: [(String, [UInt8])] = []
        var directories: [String] = ["sovereign/"]
        for d in 0..<40 {
            let folder = "sovereign/dir-\(d)/"
            directories.append(folder)
            for f in 0..<100 { files.append((folder + "file-\(f).txt", Array("\(d).\(f)\n".utf8))) }
        }
        _ = try extract(directory, files: files, directories: directories)
    }

    /// From 2038 (mtime past 0x7fffffff) the writer adds a pax 'mtime' record to every entry.
    @Test func timesFrom2038Extract() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try extract(directory, mtime: 2_300_000_000, files: [("sovereign/a.txt", [1, 2, 3]), ("sovereign/" + String(repeating: "l", count: 150), [4])],
                        directories: ["sovereign/"])
    }

    /// A file of 8 GiB and one byte, written by the writer straight into
    /// the validator: a pax 'size' and a twelve-digit size field, accepted.
    @Test func sizesFrom8GiBAreInTheProfile() throws {
        let size: Int64 = (1 << 33) + 1
        var validator = TarProfileValidator(label: "layer")
        var head: [UInt8] = []
        var failure: ArchiveError?
        let writer = try DeterministicTarWriter(label: "layer", mtime: 1_700_000_000) { chunk in
            if head.count < 2048 { head += chunk.prefix(2048 - head.count) }
            do throws(ArchiveError) { try validator.consume(chunk) } catch { failure = failure ?? error }
        }
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        try writer.addFile("sovereign/big.bin", size: size) { (write) throws(ArchiveError) in
            var left = size
            while left > 0 {
                let n = Int(min(left, Int64(zeros.count)))
                try zeros.withUnsafeBytes { raw in Result { () throws(ArchiveError) in try write(UnsafeRawBufferPointer(rebasing: raw[..<n])) } }.get()
                left -= Int64(n)
            }
        }
        _ = try writer.finish()
        try validator.finish()
        #expect(failure == nil, "\(String(describing: failure))")
        #expect(validator.claimEntry() == TarProfileEntry(name: Array("sovereign/big.bin".utf8), isDirectory: false, size: size, mode: 0o644))
        // The writer's form: a pax header with 'size', then twelve octal digits with no terminator.
        #expect(String(decoding: head[512..<539], as: UTF8.self) == "19 size=8589934593\n\0\0\0\0\0\0\0\0")
        #expect(String(decoding: head[(1024 + 124)..<(1024 + 136)], as: UTF8.self) == "100000000001")
    }

    /// From 64 GiB the writer's size field is base-256, with the pax 'size'.
    @Test func base256SizesWithAPaxSizeAreInTheProfile() throws {
        let size: Int64 = 5 << 40
        var tar = ProfileTar()
        tar.entry(Array("sovereign/huge.bin".utf8), type: ProfileTar.regular, data: [], size: size)
        #expect(tar.bytes[1024 + 124] == 0x80)
        var validator = TarProfileValidator(label: "layer")
        try tar.bytes.withUnsafeBytes { raw in Result { () throws(ArchiveError) in try validator.consume(raw) } }.get()
        #expect(validator.claimEntry()?.size == size)
        // The stream stops inside the 5 TiB: that is a truncated layer.
        let error = try #require(throws: ArchiveError.self) { try validator.finish() }
        #expect(error.reason == "is truncated: the layer ends \(size) bytes before the end of its data")
    }
}
