import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive
import SovereignImage
import SovereignTrust

/// Installs a verified image into an appliance root, atomically.
///
/// Order, chosen so that a crash (kill -9) anywhere leaves `current` on a
/// complete tree and the anti-rollback mark never behind what `current`
/// points to:
///  1. lock R/.lock (R and R/store made if missing, their ownership and
///     modes checked); remove leftovers of an interrupted run;
///  2. read the image through `ImageSource` (every small blob checked, the
///     same reader and rules as `verify`), ask `decide` whether to trust it
///     (signatures, policy, sequence against the recorded mark);
///  3. read every layer once through the extractor into
///     R/store/.partial-*: its blob digest computed on one core while the
///     files are written and hashed against the signed image.json on the
///     other; an archive's layers stream straight from the archive;
///  4. fsync, make read-only, rename to R/store/<manifest-hex>;
///  5. write state.json with the new mark (before anything points at the tree);
///  6. point `previous` at the old current, then `current` at the new tree.
///
/// Every byte given is checked on every run. If a tree of the image's name
/// is already stored (it is current, or was installed before), the layers
/// are still read and checked, and the stored tree is checked byte for byte
/// against the signed list, its ownership and modes; a tree that fails
/// (planted, damaged, half removed) is exchanged for a fresh extraction in
/// one rename, then removed.
public struct ImageInstaller {
    /// The trust decision, made by the caller from the verified image and
    /// the recorded anti-rollback mark; throws to refuse. Returns the policy
    /// the image was accepted under, recorded with the image's evidence in
    /// state.json so its trust can be decided again after install.
    public typealias Decision = (VerifiedImage, _ installedSequence: Int64?) throws(InstallError) -> TrustPolicy

    public struct Result: Sendable {
        public enum Outcome: String, Sendable { case installed, alreadyCurrent = "already-current", switched, repaired }
        public let outcome: Outcome
        public let digest: String
        public let name: String
        public let version: String
        public let sequence: Int64
        public let previous: String?
        /// Layer bytes read and checked.
        public let bytesRead: Int64
    }

    public let root: InstallRoot
    public var waitForLock = true
    public var now: () -> Int64 = { Int64(time(nil)) }
    /// Bytes read so far, while layers stream.
    public var progress: ((Int64) -> Void)?

    public init(root: InstallRoot) {
        self.root = root
    }

    public func install(_ image: String, decide: Decision) throws(InstallError) -> Result {
        let lock = try root.lock(wait: waitForLock, create: true)
        defer { lock.release() }
        do {
            return try installLocked(image, decide: decide)
        } catch {
            // A refused install into a root it made leaves no root behind,
            // decided here, still holding the lock: only the root this
            // process's mkdir made, and only while nobody has written into
            // it (no state.json, no link, no stored tree). Another
            // installer's root, or one it has written into, is never removed.
            if let made = lock.createdRoot { root.removeIfUntouched(made) }
            throw error
        }
    }

    private func installLocked(_ image: String, decide: Decision) throws(InstallError) -> Result {
        CrashPoint.locked.reached()
        try root.removeLeftovers()
        var state = try root.readState()

        let verified: VerifiedImage
        do { verified = try ImageVerifier.open(image) } catch { throw InstallError.from(error) }
        let policy = try decide(verified, state.highestSequence)

        guard let digest = verified.manifestDigest else { throw InstallError(image, "image manifest digest is not sha256") }
        let listing = verified.listing
        let expected = listing.signedFiles(indexFileBytes: verified.imageIndexFile)
        let oldCurrent = try root.target(of: "current")
        _ = try root.target(of: "previous")  // refused now if it is not a link to store/<hex>, before anything is written
        let store = try system { () throws(SystemError) in try DirectoryHandle.open(root.store) }
        let name = Array(digest.hex.utf8)

        var outcome: Result.Outcome
        let bytesRead: Int64
        if try system({ () throws(SystemError) in try store.status(name) }) != nil {
            // A directory of this name proves nothing: check what we were
            // given, then the stored tree against it.
            do {
                let checker = try SafeTarExtractor(checkingOnly: expected, label: verified.source)
                bytesRead = try verified.readLayers(into: checker, progress: progress)
            } catch { throw InstallError.from(error) }
            do {
                try InstalledTree.check(name, in: store, expected: expected)
                outcome = oldCurrent == digest.hex ? .alreadyCurrent : .switched
            } catch {
                try replaceStoredTree(name, in: store, with: verified, expected: expected)
                outcome = .repaired
            }
        } else {
            let partial = try extractFresh(verified, expected: expected, in: store)
            bytesRead = partial.bytes
            try system { () throws(SystemError) in
                try store.rename(partial.name, to: name)
                try store.sync()
            }
            CrashPoint.stored.reached()
            outcome = .installed
        }

        let result = { (outcome: Result.Outcome) throws(InstallError) in
            Result(outcome: outcome, digest: digest.prefixed, name: listing.name, version: listing.version, sequence: listing.sequence,
                   previous: try root.target(of: "previous"), bytesRead: bytesRead)
        }
        let record = InstallState.Image(name: listing.name, version: listing.version, sequence: listing.sequence,
                                        imageIndexSHA256: SHA256.hash(verified.imageIndexFile).hex, trust: RecordedTrust(verified, policy: policy))
        if outcome == .alreadyCurrent, state.images[digest.prefixed] == record { return try result(.alreadyCurrent) }
        state.highestSequence = max(state.highestSequence ?? listing.sequence, listing.sequence)
        state.images[digest.prefixed] = record
        let action = outcome == .installed ? "install" : outcome == .repaired ? "repair" : "reinstall"
        state.history.append(InstallState.Event(action: action, digest: digest.prefixed, sequence: listing.sequence, time: Timestamp.format(now())))
        try root.writeState(state)
        CrashPoint.stateWritten.reached()
        if let oldCurrent, oldCurrent != digest.hex {
            try root.point("previous", at: oldCurrent)
        }
        CrashPoint.previousSwapped.reached()
        try root.point("current", at: digest.hex)
        CrashPoint.currentSwapped.reached()
        return try result(outcome == .alreadyCurrent ? .switched : outcome)
    }

    /// Extracts every layer into a fresh `.partial-*` in the store, checks
    /// it complete, makes it read-only and durable. Removes it on failure.
    private func extractFresh(_ verified: VerifiedImage, expected: [SignedFile],
                              in store: borrowing DirectoryHandle) throws(InstallError) -> (name: [UInt8], bytes: Int64) {
        let partial = try root.makePartial()
        let name = Array(FileSystem.baseName(partial).utf8)
        do {
            let extractor = try SafeTarExtractor(root: partial, expected: expected)
            let bytes = try verified.readLayers(into: extractor, progress: progress)
            CrashPoint.extracted.reached()
            try DirectoryTree.makeReadOnly(name, in: store)
            try store.openDirectory(name).sync()
            return (name, bytes)
        } catch {
            // Nothing half-checked stays in the root.
            try? DirectoryTree.remove(name, in: store)
            throw InstallError.from(error)
        }
    }

    /// Replaces a stored tree that failed its check: a fresh extraction is
    /// made first, then the two are exchanged in one rename (renameat2
    /// RENAME_EXCHANGE), so at every instant the image's name holds the old
    /// tree or the new one, never nothing (a kill between two renames once
    /// left `current` dangling, and the next gc removed both trees). The
    /// old tree, now under the `.partial-*` name, is removed last; if that
    /// is interrupted, the next run removes it as a leftover.
    private func replaceStoredTree(_ name: [UInt8], in store: borrowing DirectoryHandle, with verified: VerifiedImage,
                                   expected: [SignedFile]) throws(InstallError) {
        let fresh = try extractFresh(verified, expected: expected, in: store)
        do { try store.exchange(fresh.name, with: name) } catch {
            try? DirectoryTree.remove(fresh.name, in: store)
            throw InstallError(store.childPath(name), "cannot exchange the damaged tree for a fresh one in one step (\(error.reason)); this file system must support renameat2 RENAME_EXCHANGE")
        }
        CrashPoint.exchanged.reached()
        try system { () throws(SystemError) in try store.sync() }
        CrashPoint.stored.reached()
        try system { () throws(SystemError) in
            try DirectoryTree.remove(fresh.name, in: store)
            try store.sync()
        }
    }
}
