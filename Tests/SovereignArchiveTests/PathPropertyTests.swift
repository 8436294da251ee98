import Foundation
import Testing
import SovereignTestSupport
import SovereignSystem
import SovereignCrypto
@testable import SovereignArchive

/// Seeded property test: names built from the pieces that fooled
/// Character-level parsing ("/" glued to combining marks, joiners and
/// prepend marks), "..", ".", backslashes, NUL, over-long and non-UTF-8
/// components, extracted both as the signed list itself and against an
/// ordinary list. Whatever happens, nothing outside the root changes and
/// nothing unlisted (or outside the allowed names) is written.
@Suite struct PathPropertyTests {
    static let pieces: [[UInt8]] = [
        Array("..".utf8), Array(".".utf8), Array("a".utf8), Array("sovereign".utf8), Array("b.txt".utf8),
        Array("\u{301}x".utf8), Array("..\u{301}".utf8), Array("\u{200D}".utf8), Array("\u{0600}".utf8),
        Array("\u{0600}..".utf8), Array("\\".utf8), Array("..\\..".utf8), [0x00], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80],
        [UInt8](repeating: UInt8(ascii: "a"), count: 300), Array("-rf".utf8), Array(".hidden".utf8), Array("caf\u{E9}".utf8),
        Array("cafe\u{301}".utf8), Array("\u{202E}txt.exe".utf8), Array("a b".utf8),
    ]
    static let separators: [[UInt8]] = [Array("/".utf8), Array("/".utf8), Array("//".utf8), Array("/\u{301}".utf8),
                                        Array("\u{0600}/".utf8), Array("/\u{200D}".utf8)]

    static func name(_ random: inout SeededBytes) -> [UInt8] {
        var out: [UInt8] = []
        switch random.next() % 6 {
        case 0: out = Array("/".utf8)
        case 1: out = Array("./".utf8)
        default: break
        }
        let count = 1 + Int(random.next() % 5)
        for index in 0..<count {
            if index > 0 { out += separators[Int(random.next() % UInt64(separators.count))] }
            out += pieces[Int(random.next() % UInt64(pieces.count))]
        }
        if random.next() % 8 == 0 { out += Array("/".utf8) }
        return out
    }

    /// Every path below `directory` (files, links and directories), relative, with its size.
    static func snapshot(_ directory: String, skipping skipped: String) -> [String: Int64] {
        var result: [String: Int64] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let relative = enumerator?.nextObject() as? String {
            if relative == skipped || relative.hasPrefix(skipped + "/") { enumerator?.skipDescendants(); continue }
            var info = stat()
            _ = lstat(directory + "/" + relative, &info)
            result[relative] = Int64(info.st_size)
        }
        return result
    }

    @Test func noGeneratedNameWritesOutsideTheRootOrAnythingUnlisted() throws {
        let box = try TemporaryDirectory()
        defer { box.remove() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: box.file("outside/a"), withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: box.file("outside/victim.txt"), contents: Data("victim".utf8)))
        try fm.createDirectory(atPath: box.file("roots"), withIntermediateDirectories: true)
        let before = Self.snapshot(box.path, skipping: "roots")
        let body = Array("pwned".utf8)
        var random = SeededBytes(seed: 0x5EED_0010)
        var extracted = 0
        let cases = 2400
        for index in 0..<cases {
            let raw = Self.name(&random)
            let root = box.file("roots/\(index)")
            try fm.createDirectory(atPath: root, withIntermediateDirectories: false)
            // Half the cases sign the hostile name itself, half an ordinary one.
            let signsItself = index % 2 == 0
            let listed = signsItself ? String(decoding: raw, as: UTF8.self) : "a/b.txt"
            // The ordinary cases carry a stepping-stone directory, as an attack would.
            let stone = signsItself ? [] : RawTar.entry(Array("a/".utf8), type: RawTar.directory, mode: 0o755)
            let tar = stone + RawTar.entry(raw, body: body) + RawTar.end
            let layer = box.file("layer-\(index).tar")
            #expect(fm.createFile(atPath: layer, contents: Data(tar)))
            do {
                let extractor = try SafeTarExtractor(root: root, expected: [SignedFile(path: listed, size: Int64(body.count), sha256: SHA256.hash(body))])
                _ = try extractor.extractLayer(fromFile: layer, label: "case \(index)")
                try extractor.finish()
                extracted += 1
                // Accepted: the name must be exactly the ordinary listed one, in the safe set.
                let parsed = try #require(try? SafeTarPath.parse(Array(listed.utf8), as: .canonical).get())
                #expect(parsed.bytes == Array(listed.utf8), "case \(index): accepted \(SafeTarPath.display(raw))")
            } catch {}
            // Inside the root: only regular files and directories, every file listed and safe.
            let inside = Self.snapshot(root, skipping: "\u{0}")
            for (relative, _) in inside {
                var info = stat()
                _ = lstat(root + "/" + relative, &info)
                let kind = info.st_mode & S_IFMT
                #expect(kind == S_IFREG || kind == S_IFDIR, "case \(index): \(relative) is neither file nor directory")
                if kind == S_IFREG {
                    #expect(relative == listed, "case \(index): wrote unlisted \(relative) for \(SafeTarPath.display(raw))")
                    #expect((try? SafeTarPath.parse(Array(relative.utf8), as: .canonical).get()) != nil)
                }
            }
            unlink(layer)
        }
        #expect(Self.snapshot(box.path, skipping: "roots") == before, "something outside the extraction roots changed")
        #expect(extracted > 0, "the generator never produced an acceptable name, so the test proves little")
        #expect(cases >= 2000)
    }
}
