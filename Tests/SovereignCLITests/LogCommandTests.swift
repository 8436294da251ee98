import Foundation
import Testing
import SovereignTestSupport

/// `sovereign log …` end to end, through the built binary: an appliance
/// root's log written, shown, proven, purged, tampered with, and killed
/// with SIGKILL mid-append.
@Suite struct LogCommandTests {
    /// A workspace whose appliance root `R` has a log of `count` operator entries.
    static func appliance(_ count: Int) throws -> Workspace {
        let w = try Workspace(keys: [])
        try FileManager.default.createDirectory(atPath: w.directory.file("R"), withIntermediateDirectories: true)
        let created = try w.run(["log", "checkpoint", "--root", "R"])
        #expect(created.status == 0, "\(created.stderr)")
        for n in 0..<count {
            let result = try w.run(["log", "append", "--root", "R", "--metadata", #"{"event":"maintenance \#(n)"}"#,
                                    "--content", #"{"operator":"Ann \#(n)"}"#])
            #expect(result.status == 0 && result.stdout == "\(n)\n", "\(result.stderr)")
        }
        // The auditor pins the key once.
        w.write("pinned.pub", bytes: w.read("R/log/appliance.pub"))
        return w
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test func checkpointCreatesTheKeyAndPrintsASignedCheckpoint() throws {
        let w = try Self.appliance(0)
        defer { w.remove() }
        let note = w.read("R/log/checkpoint")
        let text = String(decoding: note, as: UTF8.self)
        let pub = String(decoding: w.read("R/log/appliance.pub"), as: UTF8.self)
        let origin = String(pub.prefix { $0 != "+" })
        #expect(text.hasPrefix("\(origin)\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} \(origin) "))
        #expect(origin.hasPrefix("sovereign.appliance/log/"))
        let again = try w.run(["log", "checkpoint", "--root", "R"])
        #expect(again.status == 0)
        #expect(Array(again.stdout.utf8) == note)
        let attributes = try FileManager.default.attributesOfItem(atPath: w.directory.file("R/log/appliance.key"))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func verifyShowProveAndConsistencyOnAnIntactLog() throws {
        let w = try Self.appliance(6)
        defer { w.remove() }
        w.write("saved.checkpoint", bytes: w.read("R/log/checkpoint"))
        #expect(try w.run(["log", "append", "--root", "R", "--metadata", #"{"event":"later"}"#]).status == 0)

        let verified = try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.hasPrefix("R/log: 7 entries verified, "))
        #expect(verified.stdout.contains("(pinned)"))
        let report = Self.json(try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub", "--json"]).stdout)
        #expect(report["intact"] as? Bool == true)
        #expect(report["entries"] as? Int == 7)
        #expect((report["findings"] as? [Any])?.isEmpty == true)

        let shown = try w.run(["log", "show", "--root", "R", "3"])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("entry 3 ("))
        #expect(shown.stdout.contains("signature  valid"))
        #expect(shown.stdout.contains("\"operator\": \"Ann 3\""))
        let listing = try w.run(["log", "show", "--root", "R", "--last", "2"])
        #expect(listing.stdout.contains("#5  ") && listing.stdout.contains("#6  ") && !listing.stdout.contains("#4  "))

        let proof = Self.json(try w.run(["log", "prove", "4", "--root", "R", "--pub", "pinned.pub", "--json"]).stdout)
        #expect(proof["treeSize"] as? Int == 7)
        #expect((proof["proof"] as? [String])?.count == 3)
        let bundle = try w.run(["log", "prove", "4", "--root", "R", "--pub", "pinned.pub", "--tlog-proof"])
        #expect(bundle.status == 0)
        #expect(bundle.stdout == proof["tlogProof"] as? String)
        let lines = bundle.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "c2sp.org/tlog-proof@v1")
        #expect(lines[1].hasPrefix("extra "))
        #expect(lines[2] == "index 4")
        #expect(Array(lines[3..<6]) == proof["proof"] as? [String])
        #expect(lines[6] == "")
        #expect(bundle.stdout.hasSuffix(String(decoding: w.read("R/log/checkpoint"), as: UTF8.self)))

        let consistent = try w.run(["log", "consistency", "saved.checkpoint", "--root", "R", "--pub", "pinned.pub", "--json"])
        #expect(consistent.status == 0, "\(consistent.stderr)")
        let result = Self.json(consistent.stdout)
        #expect(result["consistent"] as? Bool == true)
        #expect((result["old"] as? [String: Any])?["size"] as? Int == 6)
        #expect((result["new"] as? [String: Any])?["size"] as? Int == 7)
        #expect((result["proof"] as? [String])?.isEmpty == false)
    }

    @Test func verifyNamesTheFirstTamperingOnOneLine() throws {
        let w = try Self.appliance(5)
        defer { w.remove() }
        let segment = "R/log/entries/00000000000000000000.jsonl"
        let original = w.read(segment)
        var lines = String(decoding: original, as: UTF8.self).split(separator: "\n").map(String.init)
        lines[2] = lines[2].replacingOccurrences(of: "maintenance 2", with: "maintenance Z")
        w.write(segment, lines.joined(separator: "\n") + "\n")
        expectFailure(try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub"]),
                      "sovereign: R/log/entries/00000000000000000000.jsonl:3: edited entry 2: its data does not give the root the appliance signed for it")
        let report = Self.json(try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub", "--json"]).stdout)
        #expect(report["intact"] as? Bool == false)
        #expect(((report["findings"] as? [[String: Any]])?.first)?["kind"] as? String == "edited")
        expectFailure(try w.run(["log", "prove", "1", "--root", "R", "--pub", "pinned.pub"]),
                      "sovereign: R/log/entries/00000000000000000000.jsonl:3: edited entry 2: its data does not give the root the appliance signed for it")

        lines = String(decoding: original, as: UTF8.self).split(separator: "\n").map(String.init)
        lines.remove(at: 1)
        w.write(segment, lines.joined(separator: "\n") + "\n")
        expectFailure(try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub"]),
                      "sovereign: R/log/entries/00000000000000000000.jsonl:2: deleted entry 1: entry 1 is missing: entry 2 follows entry 0")
        w.write(segment, bytes: original)
        #expect(try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub"]).status == 0)
    }

    @Test func consistencyRefusesACheckpointFromAnotherLog() throws {
        let w = try Self.appliance(2)
        defer { w.remove() }
        try FileManager.default.createDirectory(atPath: w.directory.file("other"), withIntermediateDirectories: true)
        #expect(try w.run(["log", "checkpoint", "--root", "other"]).status == 0)
        w.write("foreign.checkpoint", bytes: w.read("other/log/checkpoint"))
        let result = try w.run(["log", "consistency", "foreign.checkpoint", "--root", "R", "--pub", "pinned.pub"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("sovereign: foreign.checkpoint: the checkpoint is for log 'sovereign.appliance/log/"))
        #expect(result.stdout.isEmpty)
    }

    @Test func purgeDeletesOldContentAndTheLogStillVerifiesAndProves() throws {
        let w = try Self.appliance(4)
        defer { w.remove() }
        let purged = Self.json(try w.run(["log", "purge", "--before", "2999-01-01", "--root", "R", "--json"]).stdout)
        #expect(purged["purgedEntries"] as? Int == 4)
        #expect(purged["purgeEntry"] as? Int == 4)
        #expect(!String(decoding: w.read("R/log/entries/00000000000000000000.jsonl"), as: UTF8.self).contains("Ann "))
        let verified = try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("content purged from 4 entries"))
        #expect(try w.run(["log", "prove", "2", "--root", "R", "--pub", "pinned.pub"]).status == 0)
        let shown = try w.run(["log", "show", "--root", "R", "1"])
        #expect(shown.stdout.contains("content    purged by entry 4"))
        let nothing = try w.run(["log", "purge", "--before", "2000-01-01T00:00:00Z", "--root", "R"])
        #expect(nothing.stdout == "R/log: nothing from before 2000-01-01T00:00:00Z to purge\n")
    }

    @Test(arguments: [
        (["log", "verify"], "Error: Missing expected argument '--root <dir>'"),
        (["log", "show", "--root", "R", "minus-one"], "Error: The value 'minus-one' is invalid for '<n>'"),
        (["log", "prove", "--root", "R"], "Error: Missing expected argument '<n>'"),
        (["log", "prove", "-1", "--root", "R"], "Error: Unknown option '-1'"),
        (["log", "purge", "--root", "R"], "Error: Missing expected argument '--before <date>'"),
        (["log", "purge", "--root", "R", "--before", "31/12/2026"], "Error: The value '31/12/2026' is invalid for '--before'"),
        (["log", "consistency", "--root", "R"], "Error: Missing expected argument '<checkpoint>'"),
        (["log", "append", "--root", "R"], "Error: Missing expected argument '--metadata <json>'"),
        (["log", "show", "--root", "R", "--last", "0"], "Error: The value '0' is invalid for '--last'"),
        (["log", "frobnicate"], "Error: Unknown subcommand 'frobnicate'"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        let result = try w.run(arguments)
        #expect(result.status == 64)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first == message)
        #expect(lines.dropFirst().first?.hasPrefix("Usage: sovereign") == true)
        #expect(result.stdout.isEmpty)
    }

    @Test(arguments: [["log"], ["log", "verify"], ["log", "show"], ["log", "prove"], ["log", "consistency"], ["log", "purge"],
                      ["log", "checkpoint"], ["log", "append"]])
    func everyLogCommandHasHelp(command: [String]) throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        for form in [command + ["--help"], ["help"] + command] {
            let result = try w.run(form)
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("OVERVIEW: "))
            #expect(result.stdout.contains("\nUSAGE: sovereign log"))
            #expect(result.stderr.isEmpty)
        }
    }

    @Test func runtimeFailuresAreOneLine() throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        expectFailure(try w.run(["log", "verify", "--root", "nowhere"]), "sovereign: nowhere/log: open: No such file or directory")
        let w2 = try Self.appliance(1)
        defer { w2.remove() }
        expectFailure(try w2.run(["log", "show", "--root", "R", "7"]), "sovereign: R/log: has no entry 7")
        expectFailure(try w2.run(["log", "prove", "7", "--root", "R"]), "sovereign: entry 7: not in the log (the latest checkpoint covers 1 entries)")
        expectFailure(try w2.run(["log", "append", "--root", "R", "--metadata", "[1]"]), "sovereign: --metadata: must be a JSON object")
    }

    /// SIGKILL at each named step of an append: the log reports a torn
    /// line only where one was left, recovers on the next open, and keeps
    /// every entry whose index was printed.
    @Test(arguments: ["before-write", "mid-line", "before-sync", "after-sync", "mid-checkpoint"])
    func aKillAtANamedStepLosesNothingThatWasPrinted(step: String) throws {
        let w = try Self.appliance(3)
        defer { w.remove() }
        let killed = try w.run(["log", "append", "--root", "R", "--metadata", #"{"event":"killed"}"#],
                               environment: ["SOVEREIGN_LOG_CRASH_AT": step])
        #expect(killed.signal == 9, "\(step): \(killed.status) \(killed.stderr)")
        #expect(killed.stdout.isEmpty)
        let verified = try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub"])
        if step == "mid-line" {
            #expect(verified.status == 1)
            #expect(verified.stderr.hasPrefix("sovereign: R/log/entries/00000000000000000000.jsonl:4: torn entry 3: the last line is incomplete"))
        } else {
            #expect(verified.status == 0, "\(step): \(verified.stderr)")
        }
        let recovered = try w.run(["log", "checkpoint", "--root", "R"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stderr.contains("an interrupted append was recovered") == (step == "mid-line"))
        #expect(try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub"]).status == 0)
        for n in 0..<3 {
            #expect(try w.run(["log", "show", "--root", "R", "\(n)"]).stdout.contains("\"event\": \"maintenance \(n)\""))
        }
    }

    /// 24 seeded kill -9 points at any moment of `sovereign log append`
    /// (start-up, open, write, fsync, checkpoint, exit): every index printed
    /// is in the log with its entry, and the log verifies once reopened.
    @Test func killNineAtRandomMomentsLosesNoPrintedEntry() throws {
        let w = try Self.appliance(0)
        defer { w.remove() }
        var random = SeededBytes(seed: 0x9_0000)
        var printed: [(index: Int, run: Int)] = []
        var killed = 0
        for run in 0..<24 {
            let delay = 0.002 + Double(random.next() % 80) / 1000
            let arguments = ["log", "append", "--root", "R", "--metadata", #"{"run":\#(run)}"#, "--content", #"{"answer":"\#(run)"}"#]
            var stdout = ""
            do {
                let result = try w.run(arguments, timeout: delay)
                stdout = result.stdout
            } catch ProcessRunnerError.timedOut(_, _, _, let out, _) {
                killed += 1
                stdout = String(decoding: out, as: UTF8.self)
            }
            if let index = Int(stdout.trimmingCharacters(in: .whitespacesAndNewlines)) { printed.append((index, run)) }
            // Whatever state a kill left, the next writer recovers it.
            _ = try w.run(["log", "checkpoint", "--root", "R"])
        }
        #expect(killed > 0, "no run was killed: the delays are too long for this machine")
        let verified = try w.run(["log", "verify", "--root", "R", "--pub", "pinned.pub", "--json"])
        #expect(verified.status == 0, "\(verified.stdout)")
        for (index, run) in printed {
            let shown = Self.json(try w.run(["log", "show", "--root", "R", "\(index)", "--json"]).stdout)
            #expect(((shown["entry"] as? [String: Any])?["metadata"] as? [String: Any])?["run"] as? Int == run, "index \(index) printed by run \(run)")
        }
    }
}
