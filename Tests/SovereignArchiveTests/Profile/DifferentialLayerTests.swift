import Foundation
import Testing
import SovereignTestSupport
import SovereignCrypto
@testable import SovereignArchive

/// Layers that mean one thing to libarchive and another to GNU tar or
/// Python's tarfile (the security review's differential-parsing cases,
/// and the rest of what the profile refuses), each in the profile but for
/// the one thing it tests: refused by the extractor and by the check-only
/// extractor `sovereign verify` uses, with the same one-line error naming
/// the layer, the entry and the reason; nothing written outside the root.
@Suite struct DifferentialLayerTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let layer: [UInt8]
        /// The error's path: "layer" or "layer: <entry as displayed>".
        let place: String
        let reason: String
        var testDescription: String { name }
    }

    static let ok = Array("a harmless file\n".utf8)
    static let tool = Array("#!/bin/sh\necho hi\n".utf8)
    static let signed = [SignedFile(path: "sovereign/ok.txt", size: Int64(ok.count), sha256: SHA256.hash(ok)),
                         SignedFile(path: "sovereign/tool", size: Int64(tool.count), sha256: SHA256.hash(tool))]

    /// A layer: `before` and `after` around the signed directory, ok.txt and tool.
    static func layer(_ middle: (inout ProfileTar) -> Void = { _ in }, _ after: (inout ProfileTar) -> Void = { _ in }) -> [UInt8] {
        var tar = ProfileTar()
        tar.directory("sovereign/")
        middle(&tar)
        tar.file("sovereign/ok.txt", ok)
        tar.file("sovereign/tool", tool, mode: 0o755)
        after(&tar)
        return tar.finished
    }

    /// The layer with its ok.txt entry written by `entry` instead.
    static func withOK(_ entry: (inout ProfileTar) -> Void) -> [UInt8] {
        var tar = ProfileTar()
        tar.directory("sovereign/")
        entry(&tar)
        tar.file("sovereign/tool", tool, mode: 0o755)
        return tar.finished
    }

    static func global(_ path: String) -> [UInt8] {
        let body = ProfileTar.record("path", Array(path.utf8))
        return ProfileTar.header(Array("pax_global_header".utf8), type: UInt8(ascii: "g"), size: Int64(body.count), mode: 0o644)
            + ProfileTar.padded(body)
    }

    // struct vfs_cap_data, revision 2, granting CAP_SETUID (bit 7), permitted and effective.
    static let capability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x80, 0, 0, 0] + [UInt8](repeating: 0, count: 12)

    /// The review's cases.
    static let review: [Case] = [
        Case(name: "pax global path escape", layer: layer { $0.raw(global("../../escape.txt")) },
             place: "layer: pax_global_header", reason: "is a pax global header (typeflag 'g')"),
        Case(name: "pax global path onto the rules", layer: layer { $0.raw(global("sovereign/policies/reference/rules.json")) },
             place: "layer: pax_global_header", reason: "is a pax global header (typeflag 'g')"),
        Case(name: "file capability xattr", layer: withOK {
                $0.file("sovereign/ok.txt", ok, mode: 0o755, records: [("SCHILY.xattr.security.capability", capability)])
             }, place: "layer: sovereign/ok.txt", reason: "has a pax record 'SCHILY.xattr.security.capability' (an extended attribute"),
        Case(name: "ustar name escape under a pax path", layer: withOK {
                $0.file("sovereign/ok.txt", ok, records: [("path", Array("sovereign/ok.txt".utf8))], ustarName: "../../escape.txt")
             }, place: "layer: sovereign/ok.txt", reason: "has a pax 'path' and a ustar name ('../../escape.txt') that disagree"),
        Case(name: "pax path with a NUL", layer: withOK {
                $0.file("sovereign/ok.txt", ok, records: [("path", Array("sovereign/ok.txt\u{0}../../escape.txt".utf8))])
             }, place: "layer: sovereign/ok.txt",
             reason: "has a pax 'path' record with a NUL byte at offset 16 of its value (libarchive stops at the NUL, Python's tarfile keeps the rest): 'sovereign/ok.txt\\x00../../escape.txt'"),
        Case(name: "GNU volume header", layer: layer { $0.special("sovereign", type: UInt8(ascii: "V")) },
             place: "layer: sovereign", reason: "is a GNU volume header (typeflag 'V')"),
        Case(name: "GNU old long names", layer: layer { $0.special("sovereign/names", type: UInt8(ascii: "N")) },
             place: "layer: sovereign/names", reason: "is a GNU old long-name header (typeflag 'N')"),
        Case(name: "GNU sparse without a map", layer: withOK { $0.special("sovereign/ok.txt", type: UInt8(ascii: "S"), size: Int64(ok.count), body: ok) },
             place: "layer: sovereign/ok.txt", reason: "is a GNU sparse file (typeflag 'S')"),
    ]

    /// Every other typeflag.
    static let typeflags: [Case] = [
        ("g", "pax global header"), ("L", "GNU long-name header"), ("K", "GNU long-link-name header"),
        ("A", "Solaris ACL header"), ("X", "Solaris extended header"), ("D", "GNU directory dump"),
        ("M", "GNU multi-volume continuation"), ("I", "star inode-metadata header"), ("7", "contiguous file"),
        ("1", "hard link"), ("2", "symbolic link"), ("3", "character device"), ("4", "block device"), ("6", "FIFO"),
        ("\u{0}", "old-style regular file (typeflag NUL)"), ("Z", "unknown typeflag 'Z'"),
    ].map { flag, what in
        Case(name: "typeflag \(what)", layer: layer { $0.special("sovereign/odd", type: Array(flag.utf8)[0]) },
             place: "layer: sovereign/odd", reason: what)
    }

    /// Header fields outside the profile, one at a time.
    static let fields: [Case] = {
        func edited(_ edit: @escaping (inout [UInt8]) -> Void) -> [UInt8] { withOK { $0.file("sovereign/ok.txt", ok, edit: edit) } }
        let place = "layer: sovereign/ok.txt"
        var damaged = layer()
        damaged[512 + 148] ^= 0x01  // ok.txt's checksum
        return [
            Case(name: "bad checksum", layer: damaged, place: place, reason: "has a damaged header at byte 512: its checksum field is"),
            Case(name: "GNU magic", layer: edited { put("ustar  ", at: 257, width: 8, in: &$0) },
                 place: place, reason: "has magic 'ustar ' and version ' ', not POSIX ustar's"),
            Case(name: "magic without version", layer: edited { put("", at: 263, width: 2, in: &$0) },
                 place: place, reason: "not POSIX ustar's 'ustar\\x00' and '00'"),
            Case(name: "bytes after the name's NUL", layer: edited { put("sovereign/ok.txt\u{0}../../x", at: 0, width: 100, in: &$0) },
                 place: place, reason: "has bytes after the NUL that ends its name field"),
            Case(name: "prefix ending in a slash", layer: edited {
                     put("ok.txt", at: 0, width: 100, in: &$0)
                     put("sovereign/", at: 345, width: 155, in: &$0)
                 }, place: "layer: sovereign//ok.txt", reason: "has a prefix field ending in '/'"),
            Case(name: "link name on a file", layer: edited { put("/etc/passwd", at: 157, width: 100, in: &$0) },
                 place: place, reason: "has a link name ('/etc/passwd')"),
            Case(name: "user name", layer: edited { put("root", at: 265, width: 32, in: &$0) },
                 place: place, reason: "has a user or group name ('root', '')"),
            Case(name: "uid 1000", layer: edited { put("001750 \u{0}", at: 108, width: 8, in: &$0) },
                 place: place, reason: "has uid '001750 ' and gid '000000 '; a layer's entries are owned by 0"),
            Case(name: "mode with a trailing letter", layer: edited { put("000644x\u{0}", at: 100, width: 8, in: &$0) },
                 place: place, reason: "has a mode field '000644x' that is not octal up to 07777"),
            Case(name: "mode with file-type bits", layer: edited { put("0120777\u{0}", at: 100, width: 8, in: &$0) },
                 place: place, reason: "that is not octal up to 07777"),
            Case(name: "mode with a leading space", layer: edited { put(" 00644 \u{0}", at: 100, width: 8, in: &$0) },
                 place: place, reason: "has a mode field ' 00644 '"),
            Case(name: "device numbers", layer: edited { put("000010 \u{0}", at: 329, width: 8, in: &$0) },
                 place: place, reason: "has device numbers"),
            Case(name: "mtime in base-256", layer: edited { put([0xFF] + [UInt8](repeating: 0xFF, count: 11), at: 136, width: 12, in: &$0) },
                 place: place, reason: "has an mtime field"),
            Case(name: "bytes 500 to 511", layer: edited { put("tar", at: 508, width: 4, in: &$0) },
                 place: place, reason: "has non-zero bytes in the last 12 bytes of its header"),
            Case(name: "size with a leading space", layer: edited { put(" 0000000020 ", at: 124, width: 12, in: &$0) },
                 place: place, reason: "has a size field ' 0000000020 ' that is not octal digits"),
            Case(name: "size in base-256 without pax", layer: edited {
                     put([0x80] + [UInt8](repeating: 0, count: 6) + [0x10, 0, 0, 0, 0], at: 124, width: 12, in: &$0)
                 }, place: place, reason: "is 68719476736 bytes, more than ustar's eleven octal digits hold, with no pax 'size' record"),
            Case(name: "small size in full-width octal", layer: edited { put("000000000020", at: 124, width: 12, in: &$0) },
                 place: place, reason: "in an extended form ('000000000020') where ustar's eleven octal digits hold it"),
        ]
    }()

    /// Pax headers outside the profile.
    static let pax: [Case] = {
        let place = "layer: sovereign/ok.txt"
        func records(_ records: [(String, [UInt8])]) -> [UInt8] { withOK { $0.file("sovereign/ok.txt", ok, records: records) } }
        func rawPax(_ body: [UInt8], name: String = "sovereign/PaxHeader/ok.txt") -> [UInt8] {
            withOK {
                $0.raw(ProfileTar.header(Array(name.utf8), type: ProfileTar.pax, size: Int64(body.count), mode: 0o644) + ProfileTar.padded(body))
                $0.file("sovereign/ok.txt", ok)
            }
        }
        let tarfileLong = "sovereign/" + String(repeating: "deep-directory-name/", count: 12) + "x.bin"
        return [
            Case(name: "hdrcharset", layer: records([("hdrcharset", Array("BINARY".utf8))]), place: place, reason: "has a pax record 'hdrcharset'"),
            Case(name: "linkpath", layer: records([("linkpath", Array("/etc/passwd".utf8))]), place: place, reason: "has a pax record 'linkpath' (a link target)"),
            Case(name: "uid", layer: records([("uid", Array("1000".utf8))]), place: place, reason: "has a pax record 'uid' (an owner"),
            Case(name: "libarchive xattr", layer: records([("LIBARCHIVE.xattr.security.capability", Array("AQAAAoAAAAA".utf8))]),
                 place: place, reason: "has a pax record 'LIBARCHIVE.xattr.security.capability' (an extended attribute"),
            Case(name: "SELinux label", layer: records([("SCHILY.xattr.security.selinux", Array("system_u:object_r:shadow_t:s0".utf8))]),
                 place: place, reason: "'SCHILY.xattr.security.selinux'"),
            Case(name: "ACL", layer: records([("SCHILY.acl.access", Array("user::rwx".utf8))]), place: place, reason: "an access control list"),
            Case(name: "GNU sparse records", layer: records([("GNU.sparse.major", Array("1".utf8))]), place: place, reason: "a sparse file"),
            Case(name: "atime", layer: records([("atime", Array("1".utf8))]), place: place, reason: "'atime' (a time the writer never records)"),
            Case(name: "duplicate key", layer: records([("path", Array("sovereign/ok.txt".utf8)), ("path", Array("sovereign/ok.txt".utf8))]),
                 place: place, reason: "has the pax record 'path' more than once"),
            Case(name: "non-UTF-8 path", layer: records([("path", [0x73, 0xC0, 0xAF])]), place: place, reason: "is not valid UTF-8: 's\\xc0\\xaf'"),
            Case(name: "length one short", layer: rawPax(Array("24 path=sovereign/ok.txt\n".utf8)), place: place,
                 reason: "does not end with a newline where its length says"),
            Case(name: "length one long", layer: rawPax(Array("26 path=sovereign/ok.txt\n".utf8)), place: place, reason: "claims 26 bytes but only 25 remain"),
            Case(name: "length with a leading zero", layer: rawPax(Array("025 path=sovereign/ok.txt\n".utf8)), place: place, reason: "leading zero"),
            Case(name: "pax header not named as the writer names it", layer: rawPax(ProfileTar.record("path", Array("sovereign/ok.txt".utf8)), name: "././@PaxHeader"),
                 place: place, reason: "follows a pax extended header named '././@PaxHeader'; a layer's writer names it '<directory>/PaxHeader/<file>'"),
            Case(name: "pax size disagreeing", layer: records([("size", Array("10995116277760".utf8))]), place: place,
                 reason: "has a pax 'size' of 10995116277760 bytes but a header size of 16"),
            Case(name: "pax mtime disagreeing", layer: records([("mtime", Array("1".utf8))]), place: place,
                 reason: "has a pax 'mtime' of 1 but a header mtime of 1700000000"),
            Case(name: "pax mtime with a fraction", layer: records([("mtime", Array("1700000000.5".utf8))]), place: place, reason: "whole seconds"),
            Case(name: "tarfile's long-name truncation", layer: withOK {
                     $0.file("sovereign/ok.txt", ok)
                     $0.entry(Array(tarfileLong.utf8), type: ProfileTar.regular, data: ok, ustarName: Array(tarfileLong.utf8.prefix(100)))
                 }, place: "layer: " + tarfileLong, reason: "that disagree: a reader that ignores pax records would extract the ustar name, which is neither the path nor a truncation of it"),
            Case(name: "empty pax header", layer: rawPax([]), place: "layer: sovereign/PaxHeader/ok.txt", reason: "is an empty pax extended header"),
            Case(name: "pax header over 64 KiB", layer: withOK {
                     $0.raw(ProfileTar.header(Array("sovereign/PaxHeader/ok.txt".utf8), type: ProfileTar.pax, size: 65_537, mode: 0o644))
                 }, place: "layer: sovereign/PaxHeader/ok.txt", reason: "is a pax extended header of 65537 bytes, more than the 65536 allowed"),
            Case(name: "two pax headers in a row", layer: withOK {
                     let body = ProfileTar.record("path", Array("sovereign/ok.txt".utf8))
                     let header = ProfileTar.header(Array("sovereign/PaxHeader/ok.txt".utf8), type: ProfileTar.pax, size: Int64(body.count), mode: 0o644)
                     $0.raw(header + ProfileTar.padded(body))
                     $0.file("sovereign/ok.txt", ok, records: [("mtime", Array("1700000000".utf8))])
                 }, place: "layer: sovereign/PaxHeader/ok.txt", reason: "is a pax extended header followed by another one"),
            Case(name: "pax header before the end", layer: {
                     var tar = ProfileTar()
                     tar.directory("sovereign/")
                     let body = ProfileTar.record("path", Array("sovereign/ok.txt".utf8))
                     tar.raw(ProfileTar.header(Array("sovereign/PaxHeader/ok.txt".utf8), type: ProfileTar.pax, size: Int64(body.count), mode: 0o644) + ProfileTar.padded(body))
                     return tar.finished
                 }(), place: "layer: sovereign/PaxHeader/ok.txt", reason: "followed by the end-of-archive blocks, not by the entry it describes"),
        ]
    }()

    /// Entries and the archive's shape.
    static let structure: [Case] = {
        let place = "layer: sovereign/ok.txt"
        var paddingLayer = layer()
        paddingLayer[1024 + ok.count] = 0x41  // just after ok.txt's data
        let dropEnd = { (bytes: [UInt8], count: Int) in Array(bytes.dropLast(count)) }
        return [
            Case(name: "directory with a size", layer: withOK {
                     $0.entry(Array("sovereign/ok.txt/".utf8), type: ProfileTar.directory, mode: 0o755, size: 512)
                 }, place: "layer: sovereign/ok.txt/", reason: "is a directory with a size of 512 bytes"),
            Case(name: "directory without a slash", layer: withOK {
                     $0.entry(Array("sovereign/sub".utf8), type: ProfileTar.directory, mode: 0o755)
                 }, place: "layer: sovereign/sub", reason: "is a directory whose name does not end in '/'"),
            Case(name: "file with a slash", layer: withOK { $0.file("sovereign/ok.txt/", ok) },
                 place: "layer: sovereign/ok.txt/", reason: "is a regular file (typeflag '0') whose name ends in '/'"),
            Case(name: "non-zero padding", layer: paddingLayer, place: place, reason: "has a non-zero byte in the padding after its data (byte 1040 of the layer)"),
            Case(name: "a lone zero block, then more", layer: layer({ _ in }, { tar in
                     tar.raw([UInt8](repeating: 0, count: 512))
                     tar.file("sovereign/hidden.txt", ok)
                 }), place: "layer", reason: "has a header after a single zero block at byte 2560"),
            Case(name: "one end block", layer: dropEnd(layer(), 512), place: "layer",
                 reason: "does not end with two zero end-of-archive blocks (it ends after one)"),
            Case(name: "no end blocks", layer: dropEnd(layer(), 1024), place: "layer", reason: "does not end with two zero end-of-archive blocks"),
            Case(name: "cut in a header", layer: Array(layer().prefix(512 + 100)), place: "layer",
                 reason: "is truncated in the middle of a header block (100 of its 512 bytes)"),
            Case(name: "cut in the data", layer: Array(layer().prefix(1024 + 5)), place: place,
                 reason: "is truncated: the layer ends 11 bytes before the end of its data"),
            Case(name: "cut in the padding", layer: Array(layer().prefix(1024 + ok.count + 20)), place: place,
                 reason: "is truncated: the layer ends 476 bytes before the end of the padding after its data"),
            Case(name: "not a tar", layer: [0x1F, 0x8B, 0x08, 0x00] + [UInt8](repeating: 0, count: 2044), place: "layer",
                 reason: "is not a tar archive: its first block is no valid header"),
        ]
    }()

    static let all = review + typeflags + fields + pax + structure

    /// Extracts `bytes` as one layer: into a fresh root, or check-only.
    static func refusal(_ bytes: [UInt8], root: String?) throws -> ArchiveError {
        let extractor = if let root { try SafeTarExtractor(root: root, expected: signed) }
            else { try SafeTarExtractor(checkingOnly: signed, label: "check") }
        do {
            _ = try extractor.extractLayer(from: LayerStream(bytes: bytes), label: "layer")
            try extractor.finish()
        } catch {
            return error
        }
        throw ArchiveError(path: "layer", reason: "was accepted")
    }

    @Test(arguments: all)
    func refusedByInstallAndVerifyAlike(_ item: Case) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let root = directory.file("run/root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let installing = try Self.refusal(item.layer, root: root)
        let verifying = try Self.refusal(item.layer, root: nil)
        #expect(installing.path == item.place, "\(installing)")
        #expect(installing.reason.contains(item.reason), "\(installing)")
        #expect(verifying == installing)
        #expect(!installing.description.contains("\n"))
        // Nothing escaped: the run directory holds only the root, and the root
        // only directories and signed files with their signed bytes (extracted
        // before the refusal; the installer removes a refused root whole).
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("run")) == ["root"])
        let files = FileManager.default.enumerator(atPath: root)?.allObjects.compactMap { $0 as? String } ?? []
        for file in files {
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: root + "/" + file, isDirectory: &isDirectory))
            if isDirectory.boolValue { continue }
            let bytes = FileManager.default.contents(atPath: root + "/" + file).map { [UInt8]($0) }
            #expect(Self.signed.contains { $0.path == file && bytes.map(SHA256.hash) == $0.sha256 }, "\(item.name): left \(file)")
        }
    }

    /// The same layers with nothing hostile extract (so each case is refused for its one departure).
    @Test func theLayersExtractWithoutTheirHostilePart() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let root = directory.file("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let extractor = try SafeTarExtractor(root: root, expected: Self.signed)
        _ = try extractor.extractLayer(from: LayerStream(bytes: Self.layer()), label: "layer")
        try extractor.finish()
        #expect(FileManager.default.contents(atPath: root + "/sovereign/tool") == Data(Self.tool))
    }

    /// The differentials are real: GNU tar and Python's tarfile read these
    /// layers otherwise than libarchive (which, unchecked, would extract
    /// sovereign/ok.txt in each).
    @Test func otherReadersReadTheReviewCasesDifferently() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func write(_ name: String, _ bytes: [UInt8]) -> String {
            let path = directory.file(name)
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return path
        }
        let global = write("global.tar", Self.review[0].layer)
        let listed = try runProcess("/bin/tar", ["-tf", global])
        #expect(listed.stdout.contains("../../escape.txt"), "GNU tar: \(listed.stdout) \(listed.stderr)")
        let script = "import tarfile, sys\nprint([m.name for m in tarfile.open(sys.argv[1]).getmembers()])"
        let nul = write("nul.tar", Self.review[4].layer)
        let tarfile = try runProcess("/usr/bin/python3", ["-c", script, nul])
        #expect(tarfile.stdout.contains("sovereign/ok.txt\\x00../../escape.txt"), "tarfile: \(tarfile.stdout) \(tarfile.stderr)")
        let escape = write("escape.tar", Self.review[3].layer)
        let ustar = try runProcess("/usr/bin/python3", ["-c", "import sys; b=open(sys.argv[1],'rb').read(); print(b[1536:1536+100].rstrip(b'\\0').decode())", escape])
        #expect(ustar.stdout == "../../escape.txt\n", "the ustar name a pax-unaware reader uses: \(ustar.stdout)")
    }

    /// The cross-check names the first disagreement, whatever it is.
    @Test func crossCheckNamesEachDisagreement() {
        let strict = TarProfileEntry(name: Array("sovereign/ok.txt".utf8), isDirectory: false, size: 16, mode: 0o644)
        func reported(name: String = "sovereign/ok.txt", type: UInt32 = 0o100000, size: Int64 = 16, mode: UInt32 = 0o644, link: Bool = false) -> SafeTarExtractor.ReportedEntry {
            SafeTarExtractor.ReportedEntry(name: Array(name.utf8), type: type, size: size, mode: mode, isLink: link)
        }
        #expect(SafeTarExtractor.disagreement(strict: strict, libarchive: reported()) == nil)
        #expect(SafeTarExtractor.disagreement(strict: nil, libarchive: reported())?.contains("a strict tar reader does not find there") == true)
        #expect(SafeTarExtractor.disagreement(strict: strict, libarchive: reported(name: "sovereign/ok"))
                == "is what libarchive names this entry, a strict tar reader 'sovereign/ok.txt'; libarchive and a strict tar reader disagree on the layer")
        #expect(SafeTarExtractor.disagreement(strict: strict, libarchive: reported(type: 0o040000))?.hasPrefix("is a directory to libarchive, a regular file to a strict tar reader") == true)
        #expect(SafeTarExtractor.disagreement(strict: strict, libarchive: reported(link: true))?.hasPrefix("is a link to libarchive") == true)
        #expect(SafeTarExtractor.disagreement(strict: strict, libarchive: reported(size: 0))?.hasPrefix("is 0 bytes to libarchive, 16 to a strict tar reader") == true)
        #expect(SafeTarExtractor.disagreement(strict: strict, libarchive: reported(mode: 0o4755))?.hasPrefix("has mode 04755 to libarchive, 0644") == true)
    }
}

extension LayerStream {
    /// A layer's bytes from memory.
    init(bytes: [UInt8]) {
        var offset = 0
        self.init { (buffer) throws(ArchiveError) -> Int in
            let n = min(buffer.count, bytes.count - offset)
            bytes.withUnsafeBytes { raw in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)])) }
            offset += n
            return n
        }
    }
}
