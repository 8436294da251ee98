import Foundation
import Testing
import SovereignTestSupport

@Suite struct DigestCommandTests {
    @Test func matchesSha256sumOutputExactly() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        var generator = SeededBytes(seed: 3)
        let names = ["empty", "one", "block", "big file"]
        for (name, size) in zip(names, [0, 1, 64, 3 << 20]) { w.write(name, bytes: generator.bytes(size)) }
        let ours = try w.run(["digest"] + names)
        let theirs = try runProcess("/usr/bin/sha256sum", names, directory: w.path)
        #expect(ours.status == 0)
        #expect(ours.stdout == theirs.stdout)
        // sha256sum -c accepts our output.
        w.write("SUMS", ours.stdout)
        #expect(try runProcess("/usr/bin/sha256sum", ["-c", "--quiet", "SUMS"], directory: w.path).status == 0)
    }

    @Test func jsonOutput() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        w.write("abc", "abc")
        let result = try w.run(["digest", "abc", "--json"])
        #expect(result.stdout == #"[{"path":"abc","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3}]"# + "\n")
    }

    @Test func missingFileFailsWithOneLine() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        expectFailure(try w.run(["digest", "absent"]), "sovereign: absent: open: No such file or directory")
        expectFailure(try w.run(["digest", "."]), "sovereign: .: read: Is a directory")
    }
}
