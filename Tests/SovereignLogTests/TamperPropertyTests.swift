import Foundation
import Testing
import SovereignCrypto
import SovereignFormats
import SovereignTestSupport
@testable import SovereignLog

/// 1000 seeded append/tamper sequences: logs of random length, checkpoint
/// interval, segment size, reopenings, purges and recovered crashes; then
/// one tampering each. Every one must be detected, and named by the kind
/// and the first entry it concerns. The seed of a failure is in its message.
@Suite struct TamperPropertyTests {
    /// Builds a base log from `seed`; returns its path and signer.
    static func baseLog(seed: UInt64, in scratch: ScratchLog) throws -> ApplianceKey {
        var random = SeededBytes(seed: seed)
        let interval = 1 + random.next() % 6
        let segmentBytes: Int64 = [1500, 4096, 64 << 20][Int(random.next() % 3)]
        let count = Int(random.next() % 24)
        var log = try scratch.open(interval: interval, segmentBytes: segmentBytes)
        var n = 0
        while n < count {
            switch random.next() % 10 {
            case 0:
                try log.close()
                log = try scratch.open(interval: interval, segmentBytes: segmentBytes)
            case 1:
                // A crash mid-line, recovered by the next open.
                try log.close()
                let crashing = try scratch.open(interval: interval, segmentBytes: segmentBytes,
                                                crash: LogCrashInjection(point: .midLine, killsProcess: false))
                _ = try? crashing.append(metadata: exchange(n).metadata, content: exchange(n).content)
                try? crashing.close()
                log = try scratch.open(interval: interval, segmentBytes: segmentBytes)
            case 2 where n > 2:
                _ = try log.purge(before: scratch.clock.peek() - Int64(random.next() % 4))
            default:
                _ = try log.append(metadata: exchange(n).metadata, content: exchange(n).content)
                n += 1
            }
        }
        try log.close()
        return try ApplianceKey(parsingPrivateKey: String(decoding: scratch.read("appliance.key").dropLast(), as: UTF8.self), source: "key")
    }

    @Test func everyTamperingIsDetectedAndNamed() throws {
        let bases = 40, perBase = 25
        var checked = 0
        var kinds: [LogFinding.Kind: Int] = [:]
        for b in 0..<bases {
            let base = try ScratchLog()
            let signer = try Self.baseLog(seed: 0xA11CE + UInt64(b), in: base)
            let intact = try base.verify()
            #expect(intact.isIntact, "base \(b): \(intact.findings)")
            var random = SeededBytes(seed: 0xB0B + UInt64(b))
            // One copy per base, restored before each tampering (tamperings
            // rewrite files in place; they never add or remove one).
            let copy = try TemporaryDirectory()
            defer { copy.remove() }
            let path = copy.path + "/log"
            try FileManager.default.copyItem(atPath: base.path, toPath: path)
            let files = ["checkpoint", "checkpoints.jsonl"] + base.segments().map { "entries/" + $0 }
            let pristine = files.map { base.read($0) }
            var made = 0
            var attempts = 0
            while made < perBase && attempts < 200 {
                attempts += 1
                for (file, bytes) in zip(files, pristine) where copy.read("log/" + file) != bytes { writeFile(path + "/" + file, bytes) }
                let tampering = Tampering.allCases[Int(random.next() % UInt64(Tampering.allCases.count))]
                guard let expected = tampering.apply(to: path, signer: signer, random: &random) else { continue }
                made += 1
                checked += 1
                let report = try LogVerifier.verify(directory: path, trusting: signer.verifierKey)
                let first = report.findings.first
                #expect(first?.kind == expected.0 && first?.index == expected.1,
                        "base \(b), \(tampering): expected \(expected.0) at \(expected.1.map(String.init) ?? "-"), got \(report.findings.map(\.description))")
                kinds[expected.0, default: 0] += 1
            }
        }
        #expect(checked >= 1000)
        for kind in [LogFinding.Kind.edited, .inserted, .deleted, .reordered, .truncated, .torn, .forgedCheckpoint] {
            #expect(kinds[kind, default: 0] >= 30, "\(kind) tried \(kinds[kind, default: 0]) times")
        }
    }
}
