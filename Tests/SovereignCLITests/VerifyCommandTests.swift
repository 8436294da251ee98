import Foundation
import Testing
import SovereignTestSupport

@Suite struct VerifyCommandTests {
    /// Flip one byte at a time, at positions spread over every blob,
    /// index.json and every exported envelope of a signed image: verify
    /// fails on every one, naming the blob, index.json or the envelope.
    @Test func everyFlippedByteIsCaughtAndNamed() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("image", sequence: 1)
        let image = appliance.workspace.directory.file("image")
        #expect(try appliance.workspace.run(["verify", "image", "--policy", "policy.json"]).status == 0)

        var targets: [String] = ["index.json"]
        targets += try FileManager.default.contentsOfDirectory(atPath: image + "/blobs/sha256").sorted().map { "blobs/sha256/" + $0 }
        targets += try FileManager.default.contentsOfDirectory(atPath: image + "/attestations").sorted().map { "attestations/" + $0 }
        var checked = 0
        var generator = SeededBytes(seed: 300)
        for target in targets {
            let path = image + "/" + target
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            // index.json: every byte; small files: up to 40 spread positions; big: 40 random + both ends.
            var positions: [Int]
            if target == "index.json" {
                positions = Array(original.indices)
            } else if original.count <= 40 {
                positions = Array(original.indices)
            } else {
                positions = (0..<38).map { $0 * (original.count - 1) / 37 } + [Int(generator.next() % UInt64(original.count)), original.count - 1]
            }
            for position in Set(positions).sorted() {
                var flipped = original
                flipped[position] ^= 0x01 << (position % 8)
                try Data(flipped).write(to: URL(fileURLWithPath: path))
                let result = try appliance.workspace.run(["verify", "image", "--policy", "policy.json"])
                #expect(result.status == 1, "\(target) byte \(position) was not caught")
                let named = target == "index.json" ? "index.json" : target.hasPrefix("blobs/") ? "blob sha256:" + target.dropFirst("blobs/sha256/".count) : target
                // A flip in index.json may name the index or the blob its altered descriptor now names.
                #expect(result.stderr.contains(named) || (target == "index.json" && result.stderr.contains(": blob ")),
                        "\(target) byte \(position): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
                checked += 1
            }
            try Data(original).write(to: URL(fileURLWithPath: path))
        }
        #expect(checked >= 300, "only \(checked) positions")
        #expect(try appliance.workspace.run(["verify", "image", "--policy", "policy.json"]).status == 0)
    }
}
