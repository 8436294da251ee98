import Foundation
import Testing
import SovereignTestSupport
import SovereignSystem
import SovereignInstall

/// The appliance root under attack from its own file system: a concurrent
/// refused install, links that are not exactly `store/<hex>`, trees
/// planted with their planter's ownership, symlinks where files belong, a
/// deleted state.json, a kill in the middle of a repair, a tampered
/// previous tree, and trees deep enough to make removal quadratic.
extension ApplianceFixture {
    var rootPath: String { root }

    func digestHex(_ image: String) throws -> String {
        String(try manifestDigest(image).dropFirst("sha256:".count))
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        try workspace.run(arguments, environment: environment)
    }

    /// Flips a byte of a file in the tree `link` points to (its mode left as the installer set it).
    func tamper(_ link: String, _ relative: String = "sovereign/policies/reference/rules.json") throws {
        let file = root + "/" + link + "/" + relative
        #expect(chmod(file, 0o644) == 0)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        #expect(chmod(file, 0o444) == 0)
    }

    func readState() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/state.json"))) as? [String: Any])
    }
}

/// Waits (up to `seconds`) until some process is blocked in flock on the file with inode `inode`.
private func waitForLockWaiter(inode: UInt64, seconds: Double) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let locks = (try? String(contentsOfFile: "/proc/locks", encoding: .utf8)) ?? ""
        for line in locks.split(separator: "\n") where line.contains("->") && line.contains("FLOCK") {
            let fields = line.split(separator: " ")
            if fields.contains(where: { $0.hasSuffix(":\(inode)") }) { return true }
        }
        usleep(20_000)
    }
    return false
}

/// Runs `arguments` (absolute paths) and reports its exit status, stdout
/// and peak resident set size, from wait4's rusage of that one child.
private func runMeasuringPeakRSS(_ arguments: [String], scratch: String) throws -> (status: Int32, stdout: String, stderr: String, peakKiB: Int) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let out = scratch + "/rss.out", err = scratch + "/rss.err"
    posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = (["PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"] as [String]).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) == -1 {
        guard errno == EINTR else { throw POSIXError(.ECHILD) }
    }
    let exited = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
    return (exited, stdout, stderr, Int(usage.ru_maxrss))
}

/// Makes `R/store/<name>` a chain of `depth` directories named "d" with a file at the bottom.
private func makeDeepTree(store: String, name: String, depth: Int) throws {
    let handle = try DirectoryHandle.open(store)
    try handle.makeDirectory(Array(name.utf8))
    var current = try handle.openDirectory(Array(name.utf8))
    for _ in 0..<depth {
        try current.makeDirectory([UInt8(ascii: "d")])
        current = try current.openDirectory([UInt8(ascii: "d")])
    }
    try current.createFile(Array("f".utf8), mode: 0o444).close()
}

@Suite struct RootHygieneTests {
    // MARK: 1. a refused install removes only a root it made and nobody wrote into

    /// An install that made R and is then refused must not remove R from
    /// under another installer: here B (in-process) made the root and holds
    /// the lock, A waits for it, and B is refused. A must still install,
    /// and the mark it records must then refuse the downgrade.
    @Test func aRefusedInstallNeverRemovesARootAnotherInstallerIsUsing() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        let other = OtherInstall()
        let otherDone = DispatchGroup()
        let installer = ImageInstaller(root: InstallRoot(path: appliance.rootPath))
        let refusal = try #require(throws: InstallError.self) {
            _ = try installer.install(appliance.path + "/v1") { (_, _) throws(InstallError) in
                // B holds R/.lock in the root it just made. Start A, wait until it blocks on the lock, then refuse.
                var info = stat()
                guard lstat(appliance.rootPath + "/.lock", &info) == 0 else { throw InstallError("test", "no lock file") }
                otherDone.enter()
                DispatchQueue.global().async {
                    other.set(try? appliance.install("v2"))
                    otherDone.leave()
                }
                guard waitForLockWaiter(inode: UInt64(info.st_ino), seconds: 120) else { throw InstallError("test", "the other installer never waited for the lock") }
                throw InstallError("test", "refused by the test")
            }
        }
        #expect(refusal.reason == "refused by the test")
        otherDone.wait()
        #expect(other.status == 0, "the other install failed: \(other.stderr)")
        #expect(appliance.link("current") == (try appliance.manifestDigest("v2")))
        try appliance.expectCompleteTree("current")
        #expect(try appliance.readState()["highestSequence"] as? Int == 2)
        let downgrade = try appliance.install("v1")
        #expect(downgrade.status == 1 && downgrade.stderr.contains("older than the installed sequence 2"), "\(downgrade.stderr)")
    }

    /// The rule itself: a refused install that made R removes it only while
    /// nobody has written into it; with a state.json there, R stays.
    @Test func aRefusedInstallKeepsARootSomeoneWroteInto() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        let installer = ImageInstaller(root: InstallRoot(path: appliance.rootPath))
        let state = #"{"history":[],"images":{},"schema":"sovereign.install-state/v1","highestSequence":9}"#
        _ = try #require(throws: InstallError.self) {
            _ = try installer.install(appliance.path + "/v1") { (_, _) throws(InstallError) in
                FileManager.default.createFile(atPath: appliance.rootPath + "/state.json", contents: Data(state.utf8))
                throw InstallError("test", "refused by the test")
            }
        }
        #expect(FileManager.default.contents(atPath: appliance.rootPath + "/state.json") == Data(state.utf8))
        // And with nothing written, the root it made is gone again.
        let fresh = ImageInstaller(root: InstallRoot(path: appliance.rootPath + "-fresh"))
        _ = try #require(throws: InstallError.self) {
            _ = try fresh.install(appliance.path + "/v1") { (_, _) throws(InstallError) in throw InstallError("test", "refused by the test") }
        }
        #expect(!FileManager.default.fileExists(atPath: appliance.rootPath + "-fresh"))
    }

    // MARK: 2. links that are not exactly store/<hex>

    /// An absolute `current`, or one with a trailing slash, names the live
    /// tree all the same: gc must not remove it, and gc, rollback and
    /// install refuse the root instead of guessing.
    @Test(arguments: ["absolute", "trailing-slash"])
    func linksThatAreNotExactlyStoreHexAreRefused(form: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        try appliance.build("v3", sequence: 3)
        for image in ["v1", "v2", "v3"] { #expect(try appliance.install(image).status == 0) }
        let live = try appliance.digestHex("v3")
        let text = form == "absolute" ? appliance.rootPath + "/store/" + live : "store/" + live + "/"
        #expect(unlink(appliance.rootPath + "/current") == 0)
        #expect(symlink(text, appliance.rootPath + "/current") == 0)
        let reason = "points to '\(text)', expected exactly store/<64 lowercase hex digits>"
        for arguments in [["gc", "--root", "root"], ["rollback", "--root", "root"], ["install", "v3", "--policy", "policy.json", "--root", "root"],
                          ["status", "--root", "root"]] {
            let result = try appliance.run(arguments)
            expectFailure(result, "sovereign: root/current: \(reason); refusing to guess which tree it means")
        }
        #expect(FileManager.default.fileExists(atPath: appliance.rootPath + "/store/" + live + "/sovereign/image.json"), "gc removed the live tree")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: appliance.rootPath + "/current") == text)
    }

    // MARK: 3. ownership and modes

    /// A tree with the right bytes but its planter's ownership, or modes
    /// the installer never sets, is not adopted: it is replaced.
    @Test(arguments: ["owner", "group", "file-mode", "directory-mode"])
    func plantedTreesWithForeignOwnershipOrModesAreReplaced(kind: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        #expect(try appliance.install("v1").status == 0)
        // A byte-perfect copy of v2's tree, made elsewhere, then planted.
        #expect(try appliance.run(["install", "v2", "--policy", "policy.json", "--root", "elsewhere"]).status == 0)
        let hex = try appliance.digestHex("v2")
        let planted = appliance.rootPath + "/store/" + hex
        #expect(try runProcess("/bin/cp", ["-a", appliance.path + "/elsewhere/store/" + hex, planted]).status == 0)
        let change: [String] = switch kind {
        case "owner": ["/bin/chown", "-R", "4242", planted]
        case "group": ["/bin/chgrp", "-R", "4242", planted]
        case "file-mode": ["/bin/chmod", "u+w", planted + "/sovereign/image.json"]
        default: ["/bin/chmod", "0755", planted + "/sovereign"]
        }
        #expect(try runProcess(change[0], Array(change.dropFirst())).status == 0)
        let installed = try appliance.install("v2", extra: ["--json"])
        #expect(installed.status == 0, "\(installed.stderr)")
        #expect(try jsonObject(installed.stdout)["outcome"] as? String == "repaired", "\(installed.stdout)")
        // Every entry is now the installer's, with the installer's modes.
        let enumerator = FileManager.default.enumerator(atPath: planted)
        var entries = [""]
        while let next = enumerator?.nextObject() as? String { entries.append(next) }
        for relative in entries {
            var info = stat()
            #expect(lstat(planted + "/" + relative, &info) == 0)
            #expect(info.st_uid == geteuid() && info.st_gid == getegid(), "\(relative) owned by \(info.st_uid):\(info.st_gid)")
            let mode = info.st_mode & 0o7777
            #expect((info.st_mode & S_IFMT) == S_IFDIR ? mode == 0o555 : (mode == 0o444 || mode == 0o555), "\(relative): \(String(mode, radix: 8))")
        }
        _ = try InstalledAppliance.open(InstallRoot(path: appliance.rootPath))
    }

    /// InstalledAppliance refuses a tree whose bytes are right but whose modes are not.
    @Test func installedApplianceRefusesAWritableFile() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        #expect(try appliance.install("v1").status == 0)
        let file = appliance.rootPath + "/current/sovereign/image.json"
        #expect(chmod(file, 0o664) == 0)
        let error = try #require(throws: InstallError.self) { try InstalledAppliance.open(InstallRoot(path: appliance.rootPath)) }
        #expect(error.thing.hasSuffix("/sovereign/image.json") && error.reason == "has mode 0664, the installer sets files to 0444 or 0555", "\(error)")
    }

    /// R and R/store writable by others are refused (whoever can write
    /// them can replace what is installed); a fresh, empty directory of
    /// ours that is world-writable (a new mount point) is made 0755 and used.
    @Test func rootsWritableByOthersAreRefused() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        #expect(try appliance.install("v1").status == 0)
        for (directory, mode) in [("root/store", 0o777), ("root", 0o775), ("root", 0o1777)] {
            #expect(chmod(appliance.path + "/" + directory, mode_t(mode)) == 0)
            let place = appliance.path + "/" + directory
            let reason = "sovereign: \(directory): is writable by its group or others (mode \(String(format: "%04o", mode))): anyone who can write it can replace what is installed; make it 0755 (chmod go-w)"
            expectFailure(try appliance.install("v1"), reason)
            expectFailure(try appliance.run(["gc", "--root", "root"]), reason)
            expectFailure(try appliance.run(["rollback", "--root", "root"]), reason)
            let error = try #require(throws: InstallError.self) { try InstalledAppliance.open(InstallRoot(path: appliance.rootPath)) }
            #expect(error.thing == place)
            #expect(chmod(place, 0o755) == 0)
        }
        // Owned by someone else.
        #expect(chown(appliance.rootPath + "/store", 4242, 0) == 0)
        expectFailure(try appliance.install("v1"),
                      "sovereign: root/store: is owned by uid 4242, not by this user (uid \(geteuid())) or root: its owner could replace what is installed")
        // A fresh, empty, world-writable directory is prepared like one we made.
        let fresh = appliance.path + "/mount-point"
        #expect(mkdir(fresh, 0o777) == 0 && chmod(fresh, 0o1777) == 0)
        let installed = try appliance.run(["install", "v1", "--policy", "policy.json", "--root", "mount-point"])
        #expect(installed.status == 0, "\(installed.stderr)")
        var info = stat()
        #expect(stat(fresh, &info) == 0 && info.st_mode & 0o7777 == 0o755)
    }

    // MARK: 4. symlinks in R

    /// R/.lock as a symlink: refused, and nothing is created at its target.
    @Test func aSymlinkedLockFileIsNotFollowed() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        #expect(try appliance.install("v1").status == 0)
        let victim = appliance.path + "/victim"
        #expect(unlink(appliance.rootPath + "/.lock") == 0)
        #expect(symlink(victim, appliance.rootPath + "/.lock") == 0)
        let reason = "sovereign: root/.lock: is a symbolic link; refusing to follow it"
        expectFailure(try appliance.install("v1"), reason)
        expectFailure(try appliance.run(["gc", "--root", "root"]), reason)
        expectFailure(try appliance.run(["rollback", "--root", "root"]), reason)
        #expect(!FileManager.default.fileExists(atPath: victim), "a file was created through the symlink")
        // A FIFO there is refused too, without hanging.
        #expect(unlink(appliance.rootPath + "/.lock") == 0 && mkfifo(appliance.rootPath + "/.lock", 0o644) == 0)
        expectFailure(try appliance.install("v1"), "sovereign: root/.lock: is not a regular file")
    }

    /// R/state.json as a symlink (to a file with a lower mark) is refused, never read.
    @Test func aSymlinkedStateFileIsNotFollowed() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        #expect(try appliance.install("v2").status == 0)
        var state = try appliance.readState()
        state["highestSequence"] = 0
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: appliance.path + "/lower.json"))
        #expect(unlink(appliance.rootPath + "/state.json") == 0)
        #expect(symlink(appliance.path + "/lower.json", appliance.rootPath + "/state.json") == 0)
        let reason = "sovereign: root/state.json: is a symbolic link; refusing to follow it (the anti-rollback mark must be a regular file in the root)"
        expectFailure(try appliance.install("v1"), reason)
        expectFailure(try appliance.run(["rollback", "--root", "root"]), reason)
        #expect(appliance.link("current") == (try appliance.manifestDigest("v2")))
    }

    // MARK: 5. a missing state.json is not a fresh root

    @Test func aMissingStateFileIsNotReadAsAFreshRoot() throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        #expect(try appliance.install("v2").status == 0)
        #expect(unlink(appliance.rootPath + "/state.json") == 0)
        let reason = "sovereign: root/state.json: is missing but root/current exists: the anti-rollback mark is missing, and this root is not fresh; restore state.json from a backup, or remove the root and install again to start over deliberately"
        expectFailure(try appliance.install("v1"), reason)
        expectFailure(try appliance.run(["rollback", "--root", "root"]), reason)
        #expect(appliance.link("current") == (try appliance.manifestDigest("v2")))
        // With only a stored tree left (no links), it is still not fresh.
        #expect(unlink(appliance.rootPath + "/current") == 0)
        let stored = try appliance.install("v1"), v2 = try appliance.digestHex("v2")
        #expect(stored.status == 1 && stored.stderr.contains("is missing but root/store/\(v2) exists"), "\(stored.stderr)")
    }

    // MARK: 6. a kill in the middle of a repair

    /// Repairing a damaged current tree swaps it for a fresh one in one
    /// step: a kill at any point leaves `current` on a tree that exists,
    /// gc then keeps it, and the next install completes the repair.
    @Test(arguments: ["extracted", "exchanged", "stored"])
    func aKillDuringARepairNeverLeavesCurrentDangling(step: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        #expect(try appliance.install("v1").status == 0)
        try appliance.tamper("current")
        let crashed = try appliance.install("v1", environment: ["SOVEREIGN_INSTALL_CRASH_AT": step])
        #expect(crashed.signal == SIGKILL, "step \(step) did not crash: \(crashed.status) \(crashed.stderr)")
        #expect(FileManager.default.fileExists(atPath: appliance.rootPath + "/current/sovereign/image.json"), "step \(step): current dangles")
        let gc = try appliance.run(["gc", "--root", "root"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(FileManager.default.fileExists(atPath: appliance.rootPath + "/current/sovereign/image.json"), "step \(step): gc removed the current tree")
        let next = try appliance.install("v1")
        #expect(next.status == 0, "\(next.stderr)")
        try appliance.expectCompleteTree("current")
        _ = try InstalledAppliance.open(InstallRoot(path: appliance.rootPath))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: appliance.rootPath + "/store").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    // MARK: 7. rollback checks the tree it switches to

    @Test(arguments: ["content", "mode"])
    func rollbackRefusesATamperedPreviousTree(kind: String) throws {
        let appliance = try ApplianceFixture()
        defer { appliance.remove() }
        try appliance.build("v1", sequence: 1)
        try appliance.build("v2", sequence: 2)
        #expect(try appliance.install("v1").status == 0)
        #expect(try appliance.install("v2").status == 0)
        let rules = "root/store/" + (try appliance.digestHex("v1")) + "/sovereign/policies/reference/rules.json"
        if kind == "content" { try appliance.tamper("previous") } else { #expect(chmod(appliance.path + "/" + rules, 0o644) == 0) }
        let refused = try appliance.run(["rollback", "--root", "root"])
        let reason = kind == "content" ? "sha256 is" : "has mode 0644, the installer sets files to 0444 or 0555"
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("sovereign: \(rules): \(reason)") && refused.stderr.hasSuffix("(the previous image fails its check: not rolling back to it)\n"),
                "\(refused.stderr)")
        #expect(appliance.link("current") == (try appliance.manifestDigest("v2")))
        #expect(appliance.link("previous") == (try appliance.manifestDigest("v1")))
    }

    // MARK: 8. removal memory is linear in the depth

    /// gc removes a tree 20,000 directories deep with little more memory
    /// than it needs for a shallow one (it took 466 MB when every level
    /// kept its full path).
    @Test func removingATwentyThousandDeepTreeTakesLinearMemory() throws {
        let workspace = try TemporaryDirectory()
        defer { try? DirectoryTree.remove(path: workspace.path) }
        var peaks: [Int] = []
        for (name, depth) in [("shallow", 10), ("deep", 20_000)] {
            let root = workspace.file(name)
            #expect(mkdir(root, 0o755) == 0 && mkdir(root + "/store", 0o755) == 0)
            let hex = String(repeating: "ab", count: 32)
            try makeDeepTree(store: root + "/store", name: hex, depth: depth)
            let gc = try runMeasuringPeakRSS([CLI.binary, "gc", "--root", root, "--json"], scratch: workspace.path)
            #expect(gc.status == 0, "\(gc.stderr)")
            #expect(try jsonObject(gc.stdout)["removed"] as? [String] == ["sha256:" + hex], "\(gc.stdout)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/store") == [])
            peaks.append(gc.peakKiB)
        }
        let growth = peaks[1] - peaks[0]
        #expect(growth < 32 * 1024, "removing the deep tree took \(growth) KiB more than the shallow one (peaks \(peaks) KiB)")
    }

    /// Paths for messages stay bounded however deep a handle is, and keep
    /// their start and their last components.
    @Test func displayPathsAreBounded() {
        var path = "/appliance/root/store/" + String(repeating: "ab", count: 32)
        for level in 0..<5000 {
            path = DisplayPath.child(path, "level\(level)")
            #expect(path.utf8.count <= DisplayPath.limit + 256)
        }
        #expect(path.hasPrefix("/appliance/root/store/" + String(repeating: "ab", count: 32)))
        #expect(path.contains(DisplayPath.elision) && path.hasSuffix("/level4998/level4999"), "\(path)")
        #expect(DisplayPath.parent(of: path).hasSuffix("/level4998"))
        #expect(DisplayPath.child("/a/b", "c") == "/a/b/c" && DisplayPath.parent(of: "/a/b/c") == "/a/b")
    }
}

/// What an install run on another thread did.
final class OtherInstall: @unchecked Sendable {
    private let lock = NSLock()
    private var result: ProcessResult?
    func set(_ result: ProcessResult?) { lock.lock(); self.result = result; lock.unlock() }
    var status: Int32 { lock.lock(); defer { lock.unlock() }; return result?.status ?? -1 }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return result?.stderr ?? "(did not run)" }
}
