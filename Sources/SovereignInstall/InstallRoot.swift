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
public struct InstallRoot: Sendable {
    public let path: String
    public var store: String { path + "/store" }
    public var statePath: String { path + "/state.json" }

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// Creates R and R/store if missing.
    func prepare() throws(InstallError) {
        for directory in [path, store] {
            guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
                throw InstallError.from(SystemError(path: directory, operation: "mkdir", errno: errno))
            }
        }
    }

    /// Holds R/.lock exclusively until the returned lock is released.
    /// Waits for another installer, unless `wait` is false.
    func lock(wait: Bool) throws(InstallError) -> RootLock {
        let lockPath = path + "/.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw InstallError.from(SystemError(path: lockPath, operation: "open", errno: errno)) }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            if code == EWOULDBLOCK { throw InstallError(lockPath, "another installer holds the lock") }
            throw InstallError.from(SystemError(path: lockPath, operation: "flock", errno: code))
        }
        return RootLock(descriptor: fd)
    }

    /// The store entry (hex digest) a link points to, if it does.
    public func target(of link: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path + "/" + link, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard text.hasPrefix("store/") else { return nil }
        return String(text.dropFirst("store/".count))
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

    func readState() throws(InstallError) -> InstallState {
        guard FileSystem.exists(statePath) else { return InstallState() }
        do { return try InstallState(json: try FileSystem.readFile(statePath), source: statePath) } catch {
            throw InstallError.from(error)
        }
    }

    /// Write temp, fsync, rename, fsync the directory.
    func writeState(_ state: InstallState) throws(InstallError) {
        let temporary = statePath + ".tmp-\(getpid())"
        unlink(temporary)
        do {
            try AtomicFileWriter.write(CanonicalJSON.serialize(state.json) + [0x0A], to: temporary)
            guard rename(temporary, statePath) == 0 else { throw SystemError(path: statePath, operation: "rename", errno: errno) }
            try FileSystem.syncDirectory(path)
        } catch {
            unlink(temporary)
            throw InstallError.from(error)
        }
    }

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
                || name.starts(with: Array("state.json.tmp-".utf8)) {
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

/// An exclusive hold on R/.lock, released by `release()` or process exit.
public final class RootLock: @unchecked Sendable {
    private var descriptor: Int32
    init(descriptor: Int32) { self.descriptor = descriptor }
    public func release() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }
    deinit { release() }
}
