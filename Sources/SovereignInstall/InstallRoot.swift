import Glibc
import SovereignSystem
import SovereignFormats

/// An appliance root:
///
///     R/store/<manifest-hex>/   complete, verified, read-only trees
///     R/store/.partial-*        extraction in progress (removed on the next run)
///     R/current -> store/<hex>  swapped by rename(2) of a fresh symlink
///     R/previous -> store/<hex>
///     R/state.json              anti-rollback mark, images, history
///     R/.lock                   flock: one installer at a time
///
/// Nothing in R is followed through a symlink: `.lock` and `state.json` are
/// opened with O_NOFOLLOW and must be regular files, and `current` and
/// `previous` must read exactly `store/<64 lowercase hex digits>`. R and
/// R/store must belong to this user (or root) and be writable by nobody
/// else, since whoever can write them can replace what is installed.
public struct InstallRoot: Sendable {
    public let path: String
    public var store: String { path + "/store" }
    public var statePath: String { path + "/state.json" }
    public var lockPath: String { path + "/.lock" }

    static let storeName = Array("store".utf8)
    static let stateName = Array("state.json".utf8)
    static let lockName = Array(".lock".utf8)
    static let linkPrefix = Array("store/".utf8)

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    // MARK: the root itself

    /// Creates R and R/store if missing. Returns R's identity when this
    /// process's mkdir made R (nobody else's root, then, unless they write into it).
    func prepare() throws(InstallError) -> FileIdentity? {
        var made: FileIdentity?
        if mkdir(path, 0o755) == 0 {
            var info = stat()
            if lstat(path, &info) == 0 { made = FileIdentity(info) }
        } else if errno != EEXIST {
            throw InstallError.from(SystemError(path: path, operation: "mkdir", errno: errno))
        }
        guard mkdir(store, 0o755) == 0 || errno == EEXIST else {
            let code = errno
            if made != nil { rmdir(path) }
            throw InstallError.from(SystemError(path: store, operation: "mkdir", errno: code))
        }
        return made
    }

    /// Opens R itself (never through a symlink as its last component).
    func openTop() throws(InstallError) -> DirectoryHandle {
        do { return try DirectoryHandle.open(path) } catch {
            if error.errno == ENOENT { throw InstallError(path, "no such appliance root") }
            if error.errno == ELOOP { throw InstallError(path, "is a symbolic link; give the appliance root's real path") }
            throw InstallError.from(error)
        }
    }

    func openStore(in top: borrowing DirectoryHandle) throws(InstallError) -> DirectoryHandle {
        do { return try top.openDirectory(Self.storeName) } catch {
            if error.errno == ENOENT { throw InstallError(store, "is missing: this is not an appliance root") }
            if error.errno == ELOOP { throw InstallError(store, "is a symbolic link; refusing to follow it") }
            throw InstallError.from(error)
        }
    }

    /// R and R/store: owned by this user (or root) and writable by nobody
    /// else. With `fixEmpty`, a directory of ours that is group- or
    /// world-writable but holds nothing yet (a fresh mount point, say) is
    /// made 0755 first: nothing can have been planted in it, and nothing
    /// can be once it is 0755 (its entries are checked after the chmod).
    func checkOwnership(fixEmpty: Bool = false) throws(InstallError) {
        let top = try openTop()
        try Self.checkDirectory(top, fixEmpty: fixEmpty, allowedWhenFixing: [Self.lockName, Self.storeName])
        let store = try openStore(in: top)
        try Self.checkDirectory(store, fixEmpty: fixEmpty, allowedWhenFixing: [])
    }

    private static func checkDirectory(_ directory: borrowing DirectoryHandle, fixEmpty: Bool, allowedWhenFixing: Set<[UInt8]>) throws(InstallError) {
        let info = try system { () throws(SystemError) in try directory.status() }
        let user = geteuid()
        guard info.st_uid == user || info.st_uid == 0 else {
            throw InstallError(directory.path, "is owned by uid \(info.st_uid), not by this user (uid \(user)) or root: its owner could replace what is installed")
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o022 != 0 else { return }
        let refusal = InstallError(directory.path, "is writable by its group or others (mode \(octal(mode))): anyone who can write it can replace what is installed; make it 0755 (chmod go-w)")
        guard fixEmpty, info.st_uid == user, try holdsOnlyOurOwn(directory, allowed: allowedWhenFixing) else { throw refusal }
        try system { () throws(SystemError) in try directory.setMode(0o755) }
        // Checked again now that nobody else can add anything.
        guard try holdsOnlyOurOwn(directory, allowed: allowedWhenFixing) else { throw refusal }
    }

    /// Whether every entry is one of `allowed` and this user's (what was
    /// put there while anyone could write: only our own lock file and store pass).
    private static func holdsOnlyOurOwn(_ directory: borrowing DirectoryHandle, allowed: Set<[UInt8]>) throws(InstallError) -> Bool {
        for name in try system({ () throws(SystemError) in try directory.entries() }) {
            guard allowed.contains(name), let entry = try system({ () throws(SystemError) in try directory.status(name) }),
                  entry.st_uid == geteuid() else { return false }
        }
        return true
    }

    // MARK: the lock

    /// Holds R/.lock exclusively until the returned lock is released.
    /// Waits for another installer, unless `wait` is false. With `create`,
    /// makes R and R/store first (and records whether this process made R).
    ///
    /// The lock file is opened beneath R with O_NOFOLLOW (a symlink there
    /// fails) and must be a regular file. After the flock, R/.lock must
    /// still be the file locked: a refused install that made R removes R
    /// while holding the lock, and whoever waited on the removed file then
    /// starts again instead of working in a root that is gone.
    func lock(wait: Bool, create: Bool = false) throws(InstallError) -> RootLock {
        for _ in 0..<100 {
            let made = create ? try prepare() : nil
            let top: DirectoryHandle
            do { top = try openTop() } catch {
                if create, !FileSystem.exists(path) { continue }  // removed since prepare: start again
                throw error
            }
            try checkOwnership(fixEmpty: create)
            let file: FileDescriptor
            do { file = try top.openOrCreateRegularFile(Self.lockName) } catch {
                if error.errno == ELOOP { throw InstallError(lockPath, "is a symbolic link; refusing to follow it") }
                if error.errno == EINVAL { throw InstallError(lockPath, "is not a regular file") }
                throw InstallError.from(error)
            }
            while flock(file.rawValue, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
                let code = errno
                if code == EINTR { continue }
                file.closeIgnoringErrors()
                if code == EWOULDBLOCK { throw InstallError(lockPath, "another installer holds the lock") }
                throw InstallError.from(SystemError(path: lockPath, operation: "flock", errno: code))
            }
            var named = stat()
            if let locked = try? file.status(), lstat(lockPath, &named) == 0, FileIdentity(named) == FileIdentity(locked) {
                return RootLock(descriptor: file.rawValue, createdRoot: made)
            }
            file.closeIgnoringErrors()
            if !create, !FileSystem.exists(path) { throw InstallError(path, "no such appliance root") }
        }
        throw InstallError(lockPath, "kept being replaced while this installer waited for it")
    }

    /// After a refused install: removes R if this process's mkdir made it
    /// (`made`: still the same directory) and nobody has written into it
    /// since: it holds only the lock file and an empty store. Called while
    /// holding the lock, so no installer can be working in it; one waiting
    /// for the lock sees its lock file gone and starts again. A root with
    /// a state.json, a link or a stored tree is someone else's install and
    /// is never removed. Best effort: a root it cannot remove is left.
    func removeIfUntouched(_ made: FileIdentity) {
        guard let top = try? DirectoryHandle.open(path), let info = try? top.status(), FileIdentity(info) == made,
              let names = try? top.entries(), Set(names).isSubset(of: [Self.lockName, Self.storeName]) else { return }
        if names.contains(Self.storeName) {
            guard let store = try? top.openDirectory(Self.storeName), let inside = try? store.entries(), inside.isEmpty,
                  (try? top.remove(Self.storeName, directory: true)) != nil else { return }
        }
        if names.contains(Self.lockName) {
            guard (try? top.remove(Self.lockName)) != nil else { return }
        }
        let base = Array(FileSystem.baseName(path).utf8)
        guard let parent = try? DirectoryHandle.open(FileSystem.directoryName(path)),
              let here = try? parent.status(base), FileIdentity(here) == made else { return }
        try? parent.remove(base, directory: true)
    }

    // MARK: links

    /// The store entry (hex digest) `link` points to, or nil if nothing is
    /// there. Anything else there (not a symlink, or a symlink that is not
    /// exactly `store/<64 lowercase hex digits>`: absolute, with a trailing
    /// slash, upper case, pointing elsewhere) is an error: guessing would
    /// let gc remove the live tree or rollback switch to a tree it did not mean.
    public func target(of link: String) throws(InstallError) -> String? {
        let top = try openTop()
        let name = Array(link.utf8)
        let place = path + "/" + link
        guard let info = try system({ () throws(SystemError) in try top.status(name) }) else { return nil }
        guard (info.st_mode & S_IFMT) == S_IFLNK else {
            throw InstallError(place, "is not a symbolic link (expected a link to store/<64 lowercase hex digits>)")
        }
        guard let text = try system({ () throws(SystemError) in try top.readLink(name) }) else { return nil }
        guard let hex = Self.storeHex(text) else {
            throw InstallError(place, "points to '\(String(decoding: text.prefix(200), as: UTF8.self))', expected exactly store/<64 lowercase hex digits>; refusing to guess which tree it means")
        }
        return hex
    }

    /// The hex digest of a link's text `store/<64 lowercase hex>`, else nil.
    static func storeHex(_ text: [UInt8]) -> String? {
        guard text.count == linkPrefix.count + 64, text.starts(with: linkPrefix) else { return nil }
        let hex = text.dropFirst(linkPrefix.count)
        guard hex.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return String(decoding: hex, as: UTF8.self)
    }

    /// Points `link` at store/<hex> atomically: a fresh symlink renamed over it.
    func point(_ link: String, at hex: String) throws(InstallError) {
        let fresh = path + "/." + link + ".new"
        unlink(fresh)
        guard symlink("store/" + hex, fresh) == 0 else { throw InstallError.from(SystemError(path: fresh, operation: "symlink", errno: errno)) }
        guard rename(fresh, path + "/" + link) == 0 else {
            let code = errno
            unlink(fresh)
            throw InstallError.from(SystemError(path: path + "/" + link, operation: "rename", errno: code))
        }
        do { try FileSystem.syncDirectory(path) } catch { throw InstallError.from(error) }
    }

    // MARK: state

    /// Reads R/state.json (a regular file, never through a symlink). A
    /// missing state.json means a fresh root only when nothing is
    /// installed: with a link or a stored tree present, the anti-rollback
    /// mark is missing, and reading it as fresh would let any older image in.
    func readState() throws(InstallError) -> InstallState {
        let top = try openTop()
        guard let info = try system({ () throws(SystemError) in try top.status(Self.stateName) }) else {
            if let installed = try installedEvidence(top) {
                throw InstallError(statePath, "is missing but \(installed) exists: the anti-rollback mark is missing, and this root is not fresh; restore state.json from a backup, or remove the root and install again to start over deliberately")
            }
            return InstallState()
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFLNK: throw InstallError(statePath, "is a symbolic link; refusing to follow it (the anti-rollback mark must be a regular file in the root)")
        default: throw InstallError(statePath, "is not a regular file")
        }
        let bytes: [UInt8]
        do { bytes = try top.readRegularFile(Self.stateName, limit: 64 << 20) } catch {
            if case .system(let failure) = error, failure.errno == ELOOP {
                throw InstallError(statePath, "is a symbolic link; refusing to follow it (the anti-rollback mark must be a regular file in the root)")
            }
            throw InstallError.from(error)
        }
        do { return try InstallState(json: bytes, source: statePath) } catch { throw InstallError.from(error) }
    }

    /// What shows that something was installed here (a link or a stored tree), if anything.
    private func installedEvidence(_ top: borrowing DirectoryHandle) throws(InstallError) -> String? {
        for link in ["current", "previous"] {
            if try system({ () throws(SystemError) in try top.status(Array(link.utf8)) }) != nil { return path + "/" + link }
        }
        guard try system({ () throws(SystemError) in try top.status(Self.storeName) }) != nil else { return nil }
        let store = try system { () throws(SystemError) in try top.openDirectory(Self.storeName) }
        let names = try system { () throws(SystemError) in try store.entries() }
        guard let tree = names.first(where: { $0.first != UInt8(ascii: ".") }) else { return nil }
        return store.childPath(tree)
    }

    /// Write temp, fsync, rename, fsync the directory.
    func writeState(_ state: InstallState) throws(InstallError) {
        do { try AtomicFileWriter.replace(CanonicalJSON.serialize(state.json) + [0x0A], at: statePath) } catch { throw InstallError.from(error) }
    }

    // MARK: the store

    /// Removes what an interrupted run left: partial trees, trees moved
    /// aside, fresh links, temporary state. A leftover that cannot be
    /// removed is an error: the root is not in a state to build on.
    func removeLeftovers() throws(InstallError) {
        try system { () throws(SystemError) in
            let store = try DirectoryHandle.open(self.store)
            for name in try store.entries() where name.starts(with: Array(".partial-".utf8)) || name.starts(with: Array(".trash-".utf8)) {
                try DirectoryTree.remove(name, in: store)
            }
            let top = try DirectoryHandle.open(path)
            for name in try top.entries() where name == Array(".current.new".utf8) || name == Array(".previous.new".utf8)
                || name.starts(with: Array("state.json.tmp-".utf8)) || name.starts(with: Array(".state.json.tmp-".utf8)) {
                try top.remove(name)
            }
        }
    }

    /// A fresh, empty `R/store/.partial-*` (mode 0755).
    func makePartial() throws(InstallError) -> String {
        var template = Array((store + "/.partial-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw InstallError.from(SystemError(path: store + "/.partial-XXXXXX", operation: "mkdtemp", errno: errno))
        }
        let path = String(cString: made)
        try system { () throws(SystemError) in try DirectoryHandle.open(path).setMode(0o755) }
        return path
    }

    /// Names of the stored trees (manifest hex digests), sorted.
    func storedTrees() throws(InstallError) -> [String] {
        try system { () throws(SystemError) in
            try DirectoryHandle.open(store).entries().filter { $0.first != UInt8(ascii: ".") }.map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

/// A directory entry's identity: device and inode.
struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// Octal text of a mode, for messages ("0644").
func octal(_ mode: mode_t) -> String {
    let digits = String(mode, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

/// An exclusive hold on R/.lock, released by `release()` or process exit.
public final class RootLock: @unchecked Sendable {
    private var descriptor: Int32
    /// R's identity when this process's mkdir made it (see `InstallRoot.removeIfUntouched`).
    let createdRoot: FileIdentity?
    init(descriptor: Int32, createdRoot: FileIdentity? = nil) {
        self.descriptor = descriptor
        self.createdRoot = createdRoot
    }
    public func release() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }
    deinit { release() }
}
