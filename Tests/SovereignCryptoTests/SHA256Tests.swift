import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignCrypto

@Suite struct SHA256Tests {
    /// FIPS 180-2 / NIST CSRC example vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func knownAnswer(message: String, expected: String) {
        #expect(SHA256.hash(Array(message.utf8)).hex == expected)
    }

    @Test func millionAs() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(hasher.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShotAtEverySplit() {
        var generator = SeededBytes(seed: 7)
        let data = generator.bytes(300)
        let expected = SHA256.hash(data)
        for split in 0...data.count {
            var hasher = SHA256()
            hasher.update(data[..<split])
            hasher.update(data[split...])
            #expect(hasher.finalize() == expected, "split at \(split)")
        }
    }

    @Test func copiesHashIndependently() {
        var first = SHA256()
        first.update(Array("ab".utf8))
        var second = first
        second.update(Array("c".utf8))
        first.update(Array("x".utf8))
        #expect(second.finalize() == SHA256.hash(Array("abc".utf8)))
        #expect(first.finalize() == SHA256.hash(Array("abx".utf8)))
        // finalize leaves the hasher usable
        #expect(second.finalize() == second.finalize())
    }

    /// Our file hashing agrees with coreutils' sha256sum on random files of
    /// many sizes: empty, around the 64-byte block and around our 1 MiB read chunk.
    @Test func fileDigestsAgreeWithSha256sum() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let chunk = FileHashing.chunkSize
        var sizes = [0, 1, 55, 56, 63, 64, 65, 127, 128, 4095, 4096, 4097, chunk - 1, chunk, chunk + 1, 2 * chunk + 63, 3 * chunk + 17]
        var generator = SeededBytes(seed: 42)
        for _ in 0..<8 { sizes.append(Int(generator.next() % UInt64(5 * chunk))) }
        var paths: [String] = []
        var ours: [String: (String, Int64)] = [:]
        for (i, size) in sizes.enumerated() {
            let path = directory.file("f\(i)")
            #expect(FileManager.default.createFile(atPath: path, contents: Data(generator.bytes(size))))
            let (digest, length) = try FileHashing.sha256(ofFile: path)
            ours[path] = (digest.hex, length)
            paths.append(path)
        }
        let result = try runProcess("/usr/bin/sha256sum", paths)
        #expect(result.status == 0)
        var checked = 0
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            let path = String(parts[1].dropFirst())  // "  path" → " path" after split
            #expect(ours[path]?.0 == String(parts[0]), "\(path)")
            checked += 1
        }
        #expect(checked == sizes.count)
        for (i, size) in sizes.enumerated() { #expect(ours[paths[i]]?.1 == Int64(size)) }
    }

    /// The background hash equals a sequential one, and the consumer sees
    /// every byte in order, at sizes around the two-buffer chunk boundaries.
    @Test func hashingAsideMatchesSequentialHashing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let chunk = FileHashing.chunkSize
        var generator = SeededBytes(seed: 9)
        for size in [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 5] {
            let bytes = generator.bytes(size)
            let path = directory.file("f\(size)")
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            var seen = SHA256()
            var count = 0
            let result = try FileHashing.streamHashingAside(path) { (part: UnsafeRawBufferPointer) throws(CryptoError) in
                seen.update(part)
                count += part.count
            }
            #expect(result.digest == SHA256.hash(bytes), "size \(size)")
            #expect(result.size == Int64(size))
            #expect(seen.finalize() == result.digest)
            #expect(count == size)
        }
    }

    @Test func missingFileIsASystemError() {
        #expect(throws: CryptoError.self) { try FileHashing.sha256(ofFile: "/nonexistent/file") }
        do {
            _ = try FileHashing.sha256(ofFile: "/nonexistent/file")
        } catch {
            #expect(error.description == "/nonexistent/file: open: No such file or directory")
        }
    }

    @Test func digestHexRoundTripAndRejectsUppercase() {
        let digest = SHA256.hash(Array("abc".utf8))
        #expect(SHA256Digest(hex: digest.hex) == digest)
        #expect(SHA256Digest(hex: digest.hex.uppercased()) == nil)
        #expect(SHA256Digest(hex: String(digest.hex.dropLast())) == nil)
        #expect(digest.prefixed == "sha256:" + digest.hex)
    }

    @Test func blake2b512KnownAnswer() {
        // RFC 7693 Appendix A: BLAKE2b-512("abc").
        #expect(Hex.encode(BLAKE2b512.hash(Array("abc".utf8))) ==
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    }
}
