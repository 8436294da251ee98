import Foundation
import Glibc
import Testing
import SovereignCrypto
import SovereignFormats
@testable import SovereignLog

/// The writer: durable appends, signed lines, checkpoints, segments, the key.
@Suite struct AuditLogTests {
    @Test func appendsReturnConsecutiveIndicesAndTheLogVerifies() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 4)
        for n in 0..<10 {
            let e = exchange(n)
            #expect(try log.append(metadata: e.metadata, content: e.content) == UInt64(n))
        }
        try log.close()
        let report = try scratch.verify()
        #expect(report.findings == [])
        #expect(report.entryCount == 10)
        #expect(report.latest?.checkpoint.size == 10)
        // Checkpoints of the empty log when it was created, at 4, 8, and on close at 10.
        let history = String(decoding: scratch.read("checkpoints.jsonl"), as: UTF8.self).split(separator: "\n")
        #expect(history.count == 4)
        let latest = try SignedCheckpoint.open(scratch.read("checkpoint"), source: "checkpoint", trusting: log.verifierKey)
        #expect(latest.checkpoint.size == 10)
        #expect(latest.checkpoint.root == report.tree.root)
        #expect(latest == report.latest)
    }

    @Test func everyLineIsCanonicalJSONAndCarriesASignedCheckpointOfItsTree() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open()
        let e = exchange(7)
        _ = try log.append(metadata: e.metadata, content: e.content)
        try log.close()
        let line = scratch.read("entries/00000000000000000000.jsonl")
        #expect(line.last == 0x0A)
        let value = try JSONParser.parse(Array(line.dropLast()), source: "line")
        #expect(CanonicalJSON.serialize(value) == Array(line.dropLast()))
        let record = try LogRecord(parsing: Array(line.dropLast()), source: "line")
        #expect(record.entry.index == 0)
        #expect(record.entry.time == 1_780_000_000)
        #expect(record.entry.metadata == e.metadata)
        #expect(record.content == e.content)
        #expect(record.salt?.count == 32)
        #expect(record.entry.contentDigest == LogEntry.contentDigest(salt: record.salt!, content: e.content))
        #expect(record.root == RFC6962.leafHash(record.entry.leafBytes))
        let signed = try #require(record.signedCheckpoint(origin: "test.sovereign/log"))
        #expect(try SignedCheckpoint.open(signed.bytes, source: "line", trusting: log.verifierKey).checkpoint.size == 1)
        // The content is not in the leaf: only its salted digest.
        #expect(!String(decoding: record.entry.leafBytes, as: UTF8.self).contains("paracetamol"))
    }

    @Test func reopeningResumesTheTreeAndTheSameKey() throws {
        let scratch = try ScratchLog()
        var key: NoteVerifierKey?
        for round in 0..<4 {
            let log = try scratch.open(interval: 3)
            if let key { #expect(log.verifierKey == key) }
            key = log.verifierKey
            #expect(log.size == UInt64(round * 5))
            for n in 0..<5 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
            try log.close()
        }
        let report = try scratch.verify()
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.entryCount == 20)
        #expect(report.checkpointCount > 4)
    }

    @Test func segmentsRollOverAndTheLogStillVerifies() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 5, segmentBytes: 4096)
        for n in 0..<30 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        try log.close()
        let segments = scratch.segments()
        #expect(segments.count > 3)
        #expect(segments.first == "00000000000000000000.jsonl")
        let reopened = try scratch.open(interval: 5, segmentBytes: 4096)
        #expect(reopened.size == 30)
        _ = try reopened.append(metadata: exchange(30).metadata, content: exchange(30).content)
        try reopened.close()
        let report = try scratch.verify()
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.entryCount == 31)
        #expect(try LogReader.record(at: 17, directory: scratch.path).record.entry.metadata["requestID"] == .string("req-17"))
    }

    @Test func oneWriterAtATime() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open()
        #expect(throws: LogError(scratch.path, "another process is writing this log (it holds .lock)")) { try scratch.open() }
        try log.close()
        _ = log
    }

    @Test func theKeyIsPrivateToTheApplianceAndItsPublicHalfPublished() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open()
        try log.close()
        var info = stat()
        #expect(lstat(scratch.file("appliance.key"), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let published = try LogReader.publishedKey(directory: scratch.path)
        #expect(published == log.verifierKey)
        #expect(published.name == "test.sovereign/log")
        let keyText = String(decoding: scratch.read("appliance.key"), as: UTF8.self)
        #expect(keyText.hasPrefix("PRIVATE+KEY+test.sovereign/log+\(published.keyIDHex)+"))

        // Readable by others: refused.
        chmod(scratch.file("appliance.key"), 0o644)
        #expect(throws: LogError(scratch.file("appliance.key"), "mode 644 lets others read or write it; the appliance key must be 0600")) { try scratch.open() }
        chmod(scratch.file("appliance.key"), 0o600)

        // A symlink in its place: refused, never followed.
        try FileManager.default.moveItem(atPath: scratch.file("appliance.key"), toPath: scratch.file("moved.key"))
        try FileManager.default.createSymbolicLink(atPath: scratch.file("appliance.key"), withDestinationPath: "moved.key")
        #expect(throws: LogError(scratch.file("appliance.key"), "not a regular file (a symlink or something else is there)")) { try scratch.open() }
        try FileManager.default.removeItem(atPath: scratch.file("appliance.key"))

        // Missing once the log has entries: never silently replaced.
        #expect(throws: LogError(scratch.file("appliance.key"), "missing, but the log already has entries: refusing to start a second history under a new key")) { try scratch.open() }
        try FileManager.default.moveItem(atPath: scratch.file("moved.key"), toPath: scratch.file("appliance.key"))

        // A .pub naming another key: refused.
        let other = try ApplianceKey.generate(origin: "test.sovereign/log")
        scratch.write("appliance.pub", Array((other.verifierKey.encoded + "\n").utf8))
        #expect(throws: LogError.self) { try scratch.open() }
        // A missing .pub is written again from the key.
        try FileManager.default.removeItem(atPath: scratch.file("appliance.pub"))
        try scratch.open().close()
        #expect(try LogReader.publishedKey(directory: scratch.path) == published)
    }

    @Test func aCheckpointFileLeftBehindByACrashIsBroughtUpToDate() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 100)
        for n in 0..<3 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        try log.close()
        let current = scratch.read("checkpoint")
        try FileManager.default.removeItem(atPath: scratch.file("checkpoint"))
        try scratch.open().close()
        #expect(scratch.read("checkpoint") == current)
    }

    @Test func openReadsOnlyTheTailOfALongCheckpointHistory() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 2)
        for n in 0..<5 { _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
        try log.close()
        // 2000 more copies of the first record (the empty log's checkpoint, still
        // valid) in front: the history passes the 256 KiB tail open reads.
        var history = scratch.read("checkpoints.jsonl")
        let first = Array(history.prefix { $0 != 0x0A }) + [0x0A]
        history = Array(repeating: first, count: 2000).flatMap { $0 } + history
        #expect(history.count > 2 * LogLayout.maxCheckpointLineBytes)
        // And a torn record at its end.
        history += Array(first.dropLast().prefix(100))
        scratch.write("checkpoints.jsonl", history)
        let reopened = try scratch.open(interval: 2)
        #expect(reopened.recovery?.entryIndex == 5)
        #expect(reopened.recovery?.fragments.map(\.file) == ["checkpoints.jsonl"])
        #expect(reopened.size == 6)
        _ = try reopened.append(metadata: exchange(5).metadata, content: exchange(5).content)
        try reopened.close()
        let report = try scratch.verify()
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.entryCount == 7)
    }

    @Test func oversizedEntriesAreRefusedAndNothingIsWritten() throws {
        let scratch = try ScratchLog()
        let log = try scratch.open()
        let big = String(repeating: "x", count: LogLayout.maxLineBytes)
        #expect(throws: LogError.self) { try log.append(metadata: [:], content: ["answer": .string(big)]) }
        #expect(log.size == 0)
        #expect(try log.append(metadata: [:], content: ["answer": .string("fits")]) == 0)
        try log.close()
        #expect(try scratch.verify().isIntact)
    }

    @Test func appendsFromManyThreadsAreSerialised() async throws {
        let scratch = try ScratchLog()
        let log = try scratch.open(interval: 7)
        let indices = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for n in 0..<40 {
                group.addTask { try log.append(metadata: exchange(n).metadata, content: exchange(n).content) }
            }
            var all: [UInt64] = []
            for try await index in group { all.append(index) }
            return all
        }
        #expect(indices.sorted() == (0..<40).map(UInt64.init))
        try log.close()
        #expect(try scratch.verify().isIntact)
    }
}
