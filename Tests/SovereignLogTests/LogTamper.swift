import Foundation
import SovereignCrypto
import SovereignFormats
import SovereignTestSupport
@testable import SovereignLog

/// The segments of a log as editable lines, for tampering with in tests,
/// and the tamperings themselves with the finding each must produce.
struct LogLines {
    let path: String
    var segments: [(name: String, lines: [[UInt8]])]
    /// Bytes after the last newline of the last segment.
    var tail: [UInt8] = []

    init(path: String) {
        self.path = path
        let directory = path + "/entries"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        segments = names.map { name in
            let bytes = FileManager.default.contents(atPath: directory + "/" + name).map { [UInt8]($0) } ?? []
            var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
            lines.removeLast()   // after the final newline
            return (name, lines)
        }
    }

    var count: Int { segments.reduce(0) { $0 + $1.lines.count } }

    /// (segment, line) of flat position `i`; `i == count` is just past the last line.
    func place(_ i: Int) -> (Int, Int) {
        var rest = i
        for (s, segment) in segments.enumerated() {
            if rest < segment.lines.count { return (s, rest) }
            rest -= segment.lines.count
        }
        let last = segments.count - 1
        return (last, segments[last].lines.count)
    }

    subscript(i: Int) -> [UInt8] {
        get { let (s, l) = place(i); return segments[s].lines[l] }
        set { let (s, l) = place(i); segments[s].lines[l] = newValue }
    }

    mutating func insert(_ line: [UInt8], at i: Int) {
        let (s, l) = place(i)
        segments[s].lines.insert(line, at: l)
    }

    mutating func remove(at i: Int) {
        let (s, l) = place(i)
        segments[s].lines.remove(at: l)
    }

    func write() {
        for (s, segment) in segments.enumerated() {
            var bytes: [UInt8] = []
            for line in segment.lines { bytes += line + [0x0A] }
            if s == segments.count - 1 { bytes += tail }
            writeFile(path + "/entries/" + segment.name, bytes)
        }
    }

    func record(_ i: Int) -> LogRecord? { try? LogRecord(parsing: self[i], source: "test") }
}

/// One tampering and what the verifier must call it.
enum Tampering: CaseIterable {
    case editContent, editMetadata, flipByte, insertCopy, insertForged, delete, swap, truncate, truncateMidLine, torn,
         forgeCheckpointSignature, checkpointByAnotherKey, splitViewCheckpoint, forgeHistoryRecord, purgeWithoutCover

    /// Applies it to the log at `path` (signed by `key`, whose private half
    /// is `signer`); returns the expected kind and index, or nil if this
    /// tampering does not apply to a log this small.
    func apply(to path: String, signer: ApplianceKey, random: inout SeededBytes) -> (LogFinding.Kind, UInt64?)? {
        var lines = LogLines(path: path)
        let n = lines.count
        func pick(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
        switch self {
        case .editContent, .editMetadata:
            guard n > 0 else { return nil }
            let i = pick(n)
            guard let record = lines.record(i) else { return nil }
            var object = (try? JSONParser.parse(lines[i], source: "t"))?.objectValue ?? [:]
            if self == .editContent, var content = record.content {
                content["answer"] = .string("edited \(random.next())")
                object["content"] = .object(content)
            } else {
                var entry = object["entry"]?.objectValue ?? [:]
                var metadata = entry["metadata"]?.objectValue ?? [:]
                metadata["edited"] = .bool(true)
                entry["metadata"] = .object(metadata)
                object["entry"] = .object(entry)
            }
            lines[i] = CanonicalJSON.serialize(.object(object))
            lines.write()
            return (.edited, UInt64(i))
        case .flipByte:
            guard n > 0 else { return nil }
            let i = pick(n)
            var line = lines[i]
            let at = pick(line.count)
            line[at] ^= UInt8(1 << pick(8))
            lines[i] = line
            lines.write()
            return (.edited, UInt64(i))
        case .insertCopy:
            guard n > 0 else { return nil }
            let k = pick(n), p = pick(n + 1)
            lines.insert(lines[k], at: p)
            lines.write()
            return (.inserted, UInt64(k == p ? p + 1 : p))
        case .insertForged:
            let p = pick(n + 1)
            let attacker = try! ApplianceKey.generate(origin: signer.origin)
            let entry = LogEntry(index: UInt64(p), time: 1_780_000_000, kind: .record, metadata: ["forged": .bool(true)],
                                 contentDigest: LogEntry.contentDigest(salt: [UInt8](repeating: 1, count: 32), content: [:]))
            let root = RFC6962.leafHash(entry.leafBytes)
            let signature = attacker.sign(Checkpoint(origin: signer.origin, size: UInt64(p + 1), root: root).text)
            let record = LogRecord(entry: entry, content: [:], salt: [UInt8](repeating: 1, count: 32), purgedBy: nil, root: root,
                                   signature: NoteVerifierKey.bytes(signature.keyID) + signature.signature)
            lines.insert(Array(record.lineBytes.dropLast()), at: p)
            lines.write()
            return (.inserted, UInt64(p))
        case .delete:
            guard n >= 2 else { return nil }
            let i = pick(n - 1)
            lines.remove(at: i)
            lines.write()
            return (.deleted, UInt64(i))
        case .swap:
            guard n >= 2 else { return nil }
            let i = pick(n - 1)
            let j = i + 1 + pick(n - 1 - i)
            let a = lines[i]
            lines[i] = lines[j]
            lines[j] = a
            lines.write()
            return (.reordered, UInt64(i))
        case .truncate:
            guard n >= 1 else { return nil }
            let k = 1 + pick(n)
            for _ in 0..<k { lines.remove(at: lines.count - 1) }
            lines.write()
            return (.truncated, UInt64(n - k))
        case .truncateMidLine:
            guard n >= 1 else { return nil }
            let m = pick(n)
            let line = lines[m]
            let keep = 1 + pick(line.count - 1)
            while lines.count > m { lines.remove(at: lines.count - 1) }
            lines.tail = Array(line.prefix(keep))
            lines.write()
            return (.truncated, UInt64(m))
        case .torn:
            guard n >= 1 else { return nil }
            let model = lines[pick(n)]
            lines.tail = Array(model.prefix(1 + pick(model.count - 1)))
            lines.write()
            return (.torn, UInt64(n))
        case .forgeCheckpointSignature:
            var bytes = FileManager.default.contents(atPath: path + "/checkpoint").map { [UInt8]($0) } ?? []
            guard bytes.count > 10, let size = try? Checkpoint(parsing: SignedNote(parsing: bytes, source: "c").text, source: "c").size else { return nil }
            // A byte of the signature (the line's base64, before its padding and newline).
            let at = bytes.count - 4 - pick(40)
            bytes[at] = bytes[at] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            writeFile(path + "/checkpoint", bytes)
            return (.forgedCheckpoint, size)
        case .checkpointByAnotherKey:
            let attacker = try! ApplianceKey.generate(origin: signer.origin)
            let size = UInt64(pick(n + 1))
            let signed = attacker.sign(Checkpoint(origin: signer.origin, size: size, root: RFC6962.leafHash([1])))
            writeFile(path + "/checkpoint", signed.bytes)
            return (.forgedCheckpoint, size)
        case .splitViewCheckpoint:
            guard n >= 1 else { return nil }
            let size = UInt64(1 + pick(n))
            let signed = signer.sign(Checkpoint(origin: signer.origin, size: size, root: RFC6962.leafHash(Array("another history".utf8))))
            writeFile(path + "/checkpoint", signed.bytes)
            return (.forgedCheckpoint, size)
        case .forgeHistoryRecord:
            let historyPath = path + "/checkpoints.jsonl"
            let bytes = FileManager.default.contents(atPath: historyPath).map { [UInt8]($0) } ?? []
            var records = bytes.split(separator: 0x0A).map(Array.init)
            guard !records.isEmpty else { return nil }
            let r = pick(records.count)
            guard let record = try? CheckpointRecord(parsing: records[r], source: "h"),
                  let checkpoint = try? Checkpoint(parsing: record.note.text, source: "h") else { return nil }
            // The same size, another root, the old signature: it no longer verifies.
            let moved = Checkpoint(origin: checkpoint.origin, size: checkpoint.size, root: RFC6962.leafHash(Array("moved".utf8)))
            records[r] = CheckpointRecord(note: SignedNote(text: moved.text, signatures: record.note.signatures), frontier: record.frontier).lineBytes.dropLast().map { $0 }
            writeFile(historyPath, records.flatMap { $0 + [0x0A] })
            return (.forgedCheckpoint, checkpoint.size)
        case .purgeWithoutCover:
            let candidates = (0..<n).filter { lines.record($0)?.content != nil }
            guard let i = candidates.isEmpty ? nil : candidates[pick(candidates.count)], let record = lines.record(i) else { return nil }
            let claimed = UInt64(pick(n + 1))
            lines[i] = Array(record.purged(by: claimed).lineBytes.dropLast())
            lines.write()
            return claimed < n ? (.edited, UInt64(i)) : nil
        }
    }
}
