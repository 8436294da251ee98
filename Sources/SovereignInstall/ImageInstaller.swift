import Foundation
import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignArchive
import SovereignImage

/// Installs a verified image into an appliance root, atomically.
///
/// Order, chosen so that a crash (kill -9) anywhere leaves `current` on a
/// complete tree and the anti-rollback mark never behind what `current`
/// points to:
///  1. lock R/.lock; remove leftovers of an interrupted run;
///  2. read the image (every small blob checked), ask `decide` whether to
///     trust it (signatures, policy, sequence against the recorded mark);
///  3. extract every layer into R/store/.partial-*, each layer read once:
///     its blob digest computed on one core while the files are written and
///     hashed against the signed `sovereign/image.json` on the other;
///  4. fsync, make read-only, rename to R/store/<manifest-hex>;
///  5. write state.json with the new mark (before anything points at the tree);
///  6. point `previous` at the old current, then `current` at the new tree.
public struct ImageInstaller {
    /// The trust decision, made by the caller from the verified image and
    /// the recorded anti-rollback mark; throws to refuse.
    public typealias Decision = (VerifiedImage, _ installedSequence: Int64?) throws(InstallError) -> Void

    public struct Result: Sendable {
        public enum Outcome: String, Sendable { case installed, alreadyCurrent = "already-current", switched }
        public let outcome: Outcome
        public let digest: String
        public let name: String
        public let version: String
        public let sequence: Int64
        public let previous: String?
        public let bytesExtracted: Int64
    }

    public let root: InstallRoot
    public var waitForLock = true
    public var now: () -> Int64 = { Int64(time(nil)) }

    public init(root: InstallRoot) {
        self.root = root
    }

    public func install(_ image: String, decide: Decision) throws(InstallError) -> Result {
        // A refused install into a root that did not exist leaves no root behind.
        let rootExisted = FileSystem.exists(root.path)
        do {
            return try installLocked(image, decide: decide)
        } catch {
            if !rootExisted { InstallRoot.removeTree(root.path) }
            throw error
        }
    }

    private func installLocked(_ image: String, decide: Decision) throws(InstallError) -> Result {
        try root.prepare()
        let lock = try root.lock(wait: waitForLock)
        defer { lock.release() }
        CrashPoint.locked.reached()
        root.removeLeftovers()
        var state = try root.readState()

        // An archive is first unpacked (every blob checked by name) into a
        // scratch layout inside the store, so extraction can read layers by digest.
        var layoutDirectory = image
        var scratch: String?
        defer { if let scratch { InstallRoot.removeTree(scratch) } }
        if !FileSystem.isDirectory(image) {
            let directory = try makePartial()
            scratch = directory
            try ArchiveUnpacker.unpack(image, into: directory)
            layoutDirectory = directory
        }
        let verified: VerifiedImage
        do { verified = try ImageVerifier.verify(layoutDirectory, label: image, deferLayers: true) } catch { throw InstallError.from(error) }
        try decide(verified, state.highestSequence)

        guard let digest = verified.manifestDigest else { throw InstallError(image, "image manifest digest is not sha256") }
        let annotations = verified.annotations
        let sequence = Int64(annotations[SovereignAnnotation.sequence] ?? "") ?? 0
        let name = annotations[OCIAnnotation.title] ?? "", version = annotations[OCIAnnotation.version] ?? ""
        let oldCurrent = root.target(of: "current")
        if oldCurrent == digest.hex, FileSystem.isDirectory(root.store + "/" + digest.hex) {
            return Result(outcome: .alreadyCurrent, digest: digest.prefixed, name: name, version: version, sequence: sequence,
                          previous: root.target(of: "previous"), bytesExtracted: 0)
        }

        var extracted: Int64 = 0
        let destination = root.store + "/" + digest.hex
        if !FileSystem.isDirectory(destination) {
            let partial = try makePartial()
            do { extracted = try extract(verified, from: layoutDirectory, into: partial) } catch {
                // Nothing half-checked stays in the root.
                InstallRoot.removeTree(partial)
                throw error
            }
            CrashPoint.extracted.reached()
            InstallRoot.makeReadOnly(partial)
            do {
                try FileSystem.syncDirectory(partial)
                try FileSystem.renameNoReplace(partial, to: destination)
                try FileSystem.syncDirectory(root.store)
            } catch { throw InstallError.from(error) }
            CrashPoint.stored.reached()
        }

        state.highestSequence = max(state.highestSequence ?? sequence, sequence)
        state.images[digest.prefixed] = InstallState.Image(name: name, version: version, sequence: sequence)
        state.history.append(InstallState.Event(action: extracted > 0 ? "install" : "reinstall", digest: digest.prefixed,
                                                sequence: sequence, time: Timestamp.format(now())))
        try root.writeState(state)
        CrashPoint.stateWritten.reached()
        if let oldCurrent, oldCurrent != digest.hex {
            try root.point("previous", at: oldCurrent)
        }
        CrashPoint.previousSwapped.reached()
        try root.point("current", at: digest.hex)
        CrashPoint.currentSwapped.reached()
        return Result(outcome: extracted > 0 ? .installed : .switched, digest: digest.prefixed, name: name, version: version,
                      sequence: sequence, previous: root.target(of: "previous"), bytesExtracted: extracted)
    }

    private func makePartial() throws(InstallError) -> String {
        var template = Array((root.store + "/.partial-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw InstallError.from(SystemError(path: root.store + "/.partial-XXXXXX", operation: "mkdtemp", errno: errno))
        }
        let path = String(cString: made)
        chmod(path, 0o755)
        return path
    }

    /// Extracts every layer, checking each layer's digest and every file
    /// against image.json; returns the layer bytes read.
    private func extract(_ verified: VerifiedImage, from layout: String, into partial: String) throws(InstallError) -> Int64 {
        let source = "\(verified.source): \(ImageLayout.indexFile)"
        let listing: SignedListing
        do { listing = try SignedListing(json: verified.imageIndexFile, source: source) } catch { throw InstallError.from(error) }
        guard listing.modelSHA256 == verified.annotations[SovereignAnnotation.modelSHA256] else {
            throw InstallError(source, "model sha256 \(listing.modelSHA256) differs from the manifest's \(verified.annotations[SovereignAnnotation.modelSHA256] ?? "(none)")")
        }
        let expected = listing.files + [SignedFile(path: ImageLayout.indexFile, size: Int64(verified.imageIndexFile.count),
                                                   sha256: SHA256.hash(verified.imageIndexFile))]
        var total: Int64 = 0
        do {
            let extractor = try SafeTarExtractor(root: partial, expected: expected)
            for layer in verified.manifest.layers {
                guard let digest = layer.sha256 else { throw InstallError("\(verified.source): layer \(layer.digest)", "is not a sha256 digest") }
                let (actual, size) = try extractor.extractLayer(fromFile: layout + "/blobs/sha256/" + digest.hex, label: "layer \(layer.digest)")
                guard actual == digest, size == layer.size else {
                    throw InstallError("\(verified.source): blob \(layer.digest)", "content does not match its digest (sha256 is \(actual.hex))")
                }
                total += size
            }
            try extractor.finish()
        } catch {
            throw InstallError.from(error)
        }
        return total
    }
}

/// The file list of `sovereign/image.json`, as the installer needs it.
struct SignedListing {
    let files: [SignedFile]
    let modelSHA256: String

    init(json bytes: [UInt8], source: String) throws(FormatsError) {
        let value = try JSONParser.parse(bytes, source: source)
        guard let fileValues = value["files"]?.arrayValue else { throw FormatsError(source: source, reason: "has no 'files' list") }
        var files: [SignedFile] = []
        for (i, entry) in fileValues.enumerated() {
            guard let path = entry["path"]?.stringValue, case .integer(let size)? = entry["size"],
                  let hex = entry["sha256"]?.stringValue, let digest = SHA256Digest(hex: hex) else {
                throw FormatsError(source: source, reason: "files[\(i)] needs a path, a size and a sha256")
            }
            files.append(SignedFile(path: path, size: size, sha256: digest))
        }
        guard let model = value["model"]?["sha256"]?.stringValue else { throw FormatsError(source: source, reason: "has no model.sha256") }
        self.files = files
        modelSHA256 = model
    }
}
