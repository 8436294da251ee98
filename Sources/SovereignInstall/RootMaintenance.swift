import Glibc
import SovereignSystem
import SovereignFormats

/// What a root holds, for `sovereign status`.
public struct RootStatus: Sendable {
    public struct Entry: Sendable {
        public let digest: String
        public let image: InstallState.Image?
    }
    public let current: Entry?
    public let previous: Entry?
    public let highestSequence: Int64?
    public let stored: [String]
    public let history: [InstallState.Event]
}

/// Rollback, garbage collection and status of an appliance root.
public enum RootMaintenance {
    public static func status(_ root: InstallRoot) throws(InstallError) -> RootStatus {
        guard FileSystem.isDirectory(root.path) else { throw InstallError(root.path, "no such appliance root") }
        let state = try root.readState()
        func entry(_ link: String) throws(InstallError) -> RootStatus.Entry? {
            try root.target(of: link).map { RootStatus.Entry(digest: "sha256:" + $0, image: state.images["sha256:" + $0]) }
        }
        let stored = try root.storedTrees()
        return RootStatus(current: try entry("current"), previous: try entry("previous"), highestSequence: state.highestSequence,
                          stored: stored.map { "sha256:" + $0 }, history: state.history)
    }

    /// Makes `previous` current again (and the current one previous). The
    /// anti-rollback mark stays where it is: rolling back is an operator's
    /// deliberate act, recorded in the history, not a way to lower the floor.
    /// The previous tree is checked first as `InstalledAppliance.open`
    /// checks a tree (against its own signed image.json, whose digest
    /// state.json recorded at install, byte for byte, ownership and modes):
    /// a tampered or half-removed tree is refused, never switched to.
    public static func rollback(_ root: InstallRoot, now: Int64, wait: Bool = true) throws(InstallError) -> (from: String, to: String) {
        guard FileSystem.isDirectory(root.path) else { throw InstallError(root.path, "no such appliance root") }
        let lock = try root.lock(wait: wait)
        defer { lock.release() }
        CrashPoint.locked.reached()
        try root.removeLeftovers()
        var state = try root.readState()
        guard let current = try root.target(of: "current") else { throw InstallError(root.path + "/current", "nothing is installed") }
        guard let previous = try root.target(of: "previous"), previous != current else {
            throw InstallError(root.path + "/previous", "there is no previous image to roll back to")
        }
        let stored = try system { () throws(SystemError) in try DirectoryHandle.open(root.store).status(Array(previous.utf8)) }
        guard let stored, (stored.st_mode & S_IFMT) == S_IFDIR else {
            throw InstallError(root.store + "/" + previous, "the previous image is no longer stored")
        }
        do { _ = try InstalledAppliance.open(root, link: "previous") } catch {
            throw InstallError(error.thing, "\(error.reason) (the previous image fails its check: not rolling back to it)")
        }
        state.history.append(InstallState.Event(action: "rollback", digest: "sha256:" + previous,
                                                sequence: state.images["sha256:" + previous]?.sequence ?? -1, time: Timestamp.format(now)))
        try root.writeState(state)
        CrashPoint.stateWritten.reached()
        try root.point("previous", at: current)
        CrashPoint.previousSwapped.reached()
        try root.point("current", at: previous)
        CrashPoint.currentSwapped.reached()
        return ("sha256:" + current, "sha256:" + previous)
    }

    /// Removes stored images other than current and previous, and leftovers.
    /// Each tree is first renamed aside (`.trash-*`), so a removal that is
    /// interrupted or fails part-way never leaves a half-deleted tree under
    /// an image's name; what is aside is removed again by the next run.
    public static func collectGarbage(_ root: InstallRoot, wait: Bool = true) throws(InstallError) -> [String] {
        guard FileSystem.isDirectory(root.path) else { throw InstallError(root.path, "no such appliance root") }
        let lock = try root.lock(wait: wait)
        defer { lock.release() }
        try root.removeLeftovers()
        // A link that is not exactly store/<hex> is refused here: read as
        // absent, the tree it means would be removed.
        let keep = Set([try root.target(of: "current"), try root.target(of: "previous")].compactMap { $0 })
        var removed: [String] = []
        for name in try root.storedTrees() where !keep.contains(name) {
            let aside = Array(".trash-\(name)".utf8)
            try system { () throws(SystemError) in
                let store = try DirectoryHandle.open(root.store)
                try store.rename(Array(name.utf8), to: aside)
                try store.sync()
                try DirectoryTree.remove(aside, in: store)
            }
            removed.append("sha256:" + name)
        }
        try system { () throws(SystemError) in try DirectoryHandle.open(root.store).sync() }
        return removed
    }
}
