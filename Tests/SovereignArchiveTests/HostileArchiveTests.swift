import Foundation
import Testing
import SovereignTestSupport
import SovereignCrypto
@testable import SovereignArchive

/// The corpus written by Tests/Interop/make_hostile_tars.py (Python's
/// tarfile, plus byte edits): every case refused with its own reason, and
/// nothing outside the extraction root touched.
@Suite struct HostileArchiveTests {
    struct Corpus: Decodable {
        struct Signed: Decodable { let path: String; let size: Int64; let sha256: String }
        struct Case: Decodable {
            let name: String
            let why: String
            let layers: [String]
            let signed: [Signed]
            let expect: String?
        }
        let cases: [Case]
        let controls: [Case]
        let mustNotExist: [String]
    }

    /// Runs the generator into `directory/corpus` and decodes its cases.json.
    static func generate(into directory: TemporaryDirectory) throws -> (path: String, corpus: Corpus) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Interop/make_hostile_tars.py").path
        let out = directory.file("corpus")
        let result = try runProcess("/usr/bin/python3", [script, out])
        #expect(result.status == 0, "make_hostile_tars.py failed: \(result.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: out + "/cases.json"))
        return (out, try JSONDecoder().decode(Corpus.self, from: data))
    }

    static func signedFiles(_ list: [Corpus.Signed]) throws -> [SignedFile] {
        try list.map { SignedFile(path: $0.path, size: $0.size, sha256: try #require(SHA256Digest(hex: $0.sha256))) }
    }

    /// Runs a whole extraction: every layer, then finish(); into `root`,
    /// or, with nil, check-only (as `sovereign verify` reads layers).
    static func extract(_ item: Corpus.Case, corpus: String, root: String?) throws -> [(digest: SHA256Digest, size: Int64)] {
        let extractor = if let root { try SafeTarExtractor(root: root, expected: try signedFiles(item.signed)) }
            else { try SafeTarExtractor(checkingOnly: try signedFiles(item.signed), label: item.name) }
        let digests = try item.layers.map { try extractor.extractLayer(fromFile: corpus + "/" + $0, label: $0) }
        try extractor.finish()
        return digests
    }

    /// Every path under `top` (not following symlinks) with its type, mode,
    /// size, and contents' digest or link target; `excluding` is skipped.
    static func snapshot(_ top: String, excluding: String) -> [String: String] {
        var result: [String: String] = [:]
        func visit(_ path: String, _ relative: String) {
            guard path != excluding else { return }
            var info = stat()
            guard lstat(path, &info) == 0 else { return }
            let mode = String(info.st_mode, radix: 8)
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                result[relative] = "dir \(mode)"
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                for name in names.sorted() { visit(path + "/" + name, relative + "/" + name) }
            case S_IFREG:
                let bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
                result[relative] = "file \(mode) \(info.st_size) \(SHA256.hash(bytes).hex) links=\(info.st_nlink)"
            case S_IFLNK:
                result[relative] = "link -> \((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")"
            default:
                result[relative] = "other \(mode)"
            }
        }
        visit(top, ".")
        return result
    }

    /// What a refused extraction may leave in its root: only directories
    /// and fully checked signed files.
    static func checkRootHoldsOnlyCheckedFiles(_ root: String, _ item: Corpus.Case) {
        let signed = Dictionary(item.signed.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        for (path, description) in snapshot(root, excluding: "") where path != "." {
            let relative = String(path.dropFirst(2))
            if description.hasPrefix("dir ") { continue }
            guard description.hasPrefix("file "), let expected = signed[relative] else {
                Issue.record("\(item.name): root holds \(relative): \(description)")
                continue
            }
            #expect(description.contains(" \(expected.size) \(expected.sha256) "),
                    "\(item.name): \(relative) is in the root with unchecked bytes: \(description)")
        }
    }

    @Test func everyHostileArchiveIsRefusedAndNothingOutsideTheRootChanges() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (corpusPath, corpus) = try Self.generate(into: directory)
        #expect(corpus.cases.count >= 20)
        let passwd = FileManager.default.contents(atPath: "/etc/passwd")

        for item in corpus.cases {
            // A sentinel tree beside the root: `../outside/victim.txt` is what escapes aim at.
            let caseDirectory = directory.file("run/\(item.name)")
            let root = caseDirectory + "/root"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: caseDirectory + "/outside/sub", withIntermediateDirectories: true)
            try Data("original victim\n".utf8).write(to: URL(fileURLWithPath: caseDirectory + "/outside/victim.txt"))
            try Data("keep\n".utf8).write(to: URL(fileURLWithPath: caseDirectory + "/outside/sub/keep.txt"))
            let before = Self.snapshot(directory.path, excluding: root)

            var refusal: ArchiveError?
            do {
                _ = try Self.extract(item, corpus: corpusPath, root: root)
            } catch let error as ArchiveError {
                refusal = error
            }

            let expect = try #require(item.expect)
            // The check-only extractor refuses the same layers for the same reason.
            do {
                _ = try Self.extract(item, corpus: corpusPath, root: nil)
                Issue.record("\(item.name) (\(item.why)) was not refused when only checking")
            } catch let error as ArchiveError {
                #expect(error.description.contains(expect), "\(item.name), checking only: error '\(error)' does not contain '\(expect)'")
            }
            if let refusal {
                #expect(refusal.description.contains(expect),
                        "\(item.name): error '\(refusal)' does not contain '\(expect)'")
                // Hostile names are escaped: no raw control characters reach a terminal or log.
                #expect(!refusal.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
                        "\(item.name): error carries a raw control character: \(refusal.description.debugDescription)")
            } else {
                Issue.record("\(item.name) (\(item.why)) was not refused")
            }
            let changes = Self.difference(before, Self.snapshot(directory.path, excluding: root))
            #expect(changes.isEmpty, "\(item.name): outside the root changed: \(changes)")
            for path in corpus.mustNotExist {
                #expect(!FileManager.default.fileExists(atPath: path), "\(item.name): created \(path)")
            }
            #expect(FileManager.default.contents(atPath: "/etc/passwd") == passwd, "\(item.name): /etc/passwd changed")
            Self.checkRootHoldsOnlyCheckedFiles(root, item)
        }
    }

    static func difference(_ before: [String: String], _ after: [String: String]) -> String {
        let keys = Set(before.keys).union(after.keys).sorted().filter { before[$0] != after[$0] }
        return keys.map { "\($0): \(before[$0] ?? "absent") -> \(after[$0] ?? "absent")" }.joined(separator: "; ")
    }

    /// Well-formed archives from the same writers extract, so the cases
    /// fail for what is hostile in them, not for being written by tarfile
    /// (in its plain ustar form, the part of its output in the layer
    /// profile) or by the script's own writer of the profile.
    @Test func wellFormedArchivesFromTheSameWriterExtract() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (corpusPath, corpus) = try Self.generate(into: directory)
        #expect(!corpus.controls.isEmpty)
        for item in corpus.controls {
            let root = directory.file("run/\(item.name)")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let digests: [(digest: SHA256Digest, size: Int64)]
            do {
                digests = try Self.extract(item, corpus: corpusPath, root: root)
            } catch {
                Issue.record("\(item.name) (\(item.why)): \(error)")
                continue
            }
            for (layer, result) in zip(item.layers, digests) {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: corpusPath + "/" + layer)))
                #expect(result.digest == SHA256.hash(bytes), "\(item.name): \(layer) digest")
                #expect(result.size == Int64(bytes.count))
            }
            for file in item.signed {
                let bytes = [UInt8](FileManager.default.contents(atPath: root + "/" + file.path) ?? Data())
                #expect(SHA256.hash(bytes).hex == file.sha256, "\(item.name): \(file.path)")
            }
            Self.checkRootHoldsOnlyCheckedFiles(root, item)
        }
    }

    /// The corpus holds the cases the issue names, each with its own reason.
    @Test func corpusCoversTheRequiredCases() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let names = Set(try Self.generate(into: directory).corpus.cases.map(\.name))
        let required = [
            "absolute-path", "dotdot-escape", "dotdot-inner", "symlink-etc-passwd", "symlink-then-file",
            "hardlink-etc-passwd", "char-device", "block-device", "fifo", "setuid-file", "setgid-file",
            "sticky-directory", "duplicate-path", "not-signed", "bigger-than-signed", "huge-size-pax",
            "smaller-than-signed", "wrong-content", "non-utf8-name", "pax-path-dotdot", "gnu-longname-dotdot",
            "directory-where-file-signed", "dot-name", "empty-name", "control-character-name", "truncated-data",
            // Differential parsing: read otherwise by libarchive than by GNU tar or tarfile.
            "pax-global-path-escape", "pax-global-path-rules", "xattr-capability", "ustar-name-escape-under-pax-path",
            "pax-path-nul", "gnu-volume-header", "gnu-old-longnames", "gnu-sparse-no-map", "pax-size-disagrees",
            "lone-zero-block", "gnu-format",
        ]
        for name in required { #expect(names.contains(name), "missing case \(name)") }
    }
}
