import Foundation
import Testing
import SovereignTestSupport

@Suite struct KeyCommandTests {
    @Test func generateWritesThreeFilesWithSafeModes() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        let result = try w.run(["key", "generate", "--out", "k", "--strength", "interactive",
                                "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let info = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: String])
        let keyid = try #require(info["keyid"])
        #expect(keyid.count == 64)
        let attributes = { (name: String) in try FileManager.default.attributesOfItem(atPath: w.directory.file(name)) }
        #expect((try attributes("k.key")[.posixPermissions] as? Int) == 0o600)
        #expect((try attributes("k.pub")[.posixPermissions] as? Int) == 0o644)
        #expect((try attributes("k.minisign.pub")[.posixPermissions] as? Int) == 0o644)
        // All three files name the same key.
        for file in ["k.key", "k.pub", "k.minisign.pub"] {
            let shown = try w.run(["key", "show", file, "--json"])
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
            #expect(fields["keyid"] as? String == keyid, "\(file)")
            #expect(fields["minisignKeyID"] as? String == info["minisignKeyID"], "\(file)")
        }
        // No temporaries left behind.
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: w.path)) == ["k.key", "k.pub", "k.minisign.pub"])
    }

    @Test func generateRefusesToOverwriteAnyOfItsFiles() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        w.write("k.pub", "precious")
        let before = w.snapshot()
        let result = try w.run(["key", "generate", "--out", "k", "--strength", "interactive", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"])
        expectFailure(result, "sovereign: k.pub: already exists; refusing to overwrite")
        w.expectUnchanged(since: before)
    }

    @Test func passphraseSources() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        w.write("pass.txt", "from a file\n")
        let fromFile = try w.run(["key", "generate", "--out", "f", "--strength", "interactive", "--passphrase-file", "pass.txt"])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        w.write("data", "x")
        // The file's trailing newline is not part of the passphrase.
        let sign = try w.run(["sign-file", "data", "--key", "f.key", "--passphrase-env", "P"], environment: ["P": "from a file"])
        #expect(sign.status == 0, "\(sign.stderr)")

        expectFailure(try w.run(["key", "generate", "--out", "g", "--passphrase-env", "UNSET_VARIABLE"]),
                      "sovereign: passphrase: environment variable UNSET_VARIABLE is not set")
        expectFailure(try w.run(["key", "generate", "--out", "g", "--passphrase-env", "EMPTY"], environment: ["EMPTY": ""]),
                      "sovereign: passphrase: is empty")
        expectFailure(try w.run(["key", "generate", "--out", "g", "--passphrase-file", "missing.txt"]),
                      "sovereign: missing.txt: open: No such file or directory")
        // No terminal (stdin is /dev/null, no controlling tty in the test): a clear error, not a hang.
        let noTTY = try w.run(["key", "generate", "--out", "g"])
        #expect(noTTY.status == 1)
        #expect(noTTY.stderr.hasPrefix("sovereign: passphrase: "))
        #expect(!FileManager.default.fileExists(atPath: w.directory.file("g.key")))
    }

    /// With no passphrase option, a terminal is asked twice, without echo.
    /// `script` (util-linux) gives the command a real pseudo-terminal.
    @Test func asksOnTheTerminalWithoutEcho() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        func onTerminal(_ command: String, typing lines: [String]) throws -> ProcessResult {
            let typing = lines.map { "sleep 0.4; printf '%s\\n' '\($0)'" }.joined(separator: "; ")
            return try runProcess("/bin/sh", ["-c", "(\(typing)) | script -qec '\(CLI.binary) \(command)' /dev/null"], directory: w.path)
        }
        let generated = try onTerminal("key generate --out t --strength interactive", typing: ["s3cret words", "s3cret words"])
        #expect(generated.status == 0, "\(generated.stdout)")
        #expect(generated.stdout.contains("Passphrase for t.key: "))
        #expect(generated.stdout.contains("Repeat the passphrase: "))
        #expect(!generated.stdout.contains("s3cret"), "the passphrase was echoed")
        w.write("f", "x")
        #expect(try w.run(["sign-file", "f", "--key", "t.key", "--passphrase-env", "P"], environment: ["P": "s3cret words"]).status == 0)

        let mismatch = try onTerminal("key generate --out u --strength interactive", typing: ["one", "two"])
        #expect(mismatch.stdout.contains("sovereign: passphrase: the two entries differ"))
        #expect(!FileManager.default.fileExists(atPath: w.directory.file("u.key")))
    }

    @Test func showRejectsBadKeyFiles() throws {
        let w = try Workspace()
        defer { w.remove() }
        let key = w.read("release.key"), pub = w.read("release.pub")
        w.write("truncated.key", bytes: Array(key.prefix(key.count / 2)))
        w.write("truncated.pub", bytes: Array(pub.prefix(40)))
        w.write("garbage.pub", "hello\n")
        expectFailure(try w.run(["key", "show", "truncated.key"]),
                      "sovereign: truncated.key: not a Sovereign private key file (not valid JSON)")
        expectFailure(try w.run(["key", "show", "truncated.pub"]), "sovereign: truncated.pub: expected a PEM 'PUBLIC KEY' block")
        expectFailure(try w.run(["key", "show", "garbage.pub"]), "sovereign: garbage.pub: minisign public key is not 42 bytes of base64")
        expectFailure(try w.run(["key", "show", "nothere.pub"]), "sovereign: nothere.pub: open: No such file or directory")
        expectFailure(try w.run(["key", "show", "."]), "sovereign: .: not a regular file")
    }

    /// The moderate default works end to end (the rest of the suite uses
    /// the cheaper preset for speed).
    @Test func defaultStrengthKeyRoundTrip() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        #expect(try w.run(["key", "generate", "--out", "m", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"]).status == 0)
        let shown = try w.run(["key", "show", "m.key"])
        #expect(shown.stdout.contains("argon2id13, 3 passes, 256 MiB"))
        w.write("f", "content")
        #expect(try w.run(["sign-file", "f", "--key", "m.key", "--passphrase-env", "SOVEREIGN_TEST_PASSPHRASE"]).status == 0)
        #expect(try w.run(["verify-file", "f", "--pub", "m.pub"]).status == 0)
    }
}
