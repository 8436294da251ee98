import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage

/// The one way the runtime, the server and the certifier get at an
/// installed image: opens `R/current`, checks the stored tree byte for byte
/// against its signed file list, checks that list is the one the installer
/// verified (its digest is recorded in `R/state.json`), and hands over the
/// paths and digests everything downstream needs.
///
/// The check runs every time an appliance is opened: a tree edited after
/// install (a rule quietly changed, the weights swapped) is refused with
/// the file and the reason, never served.
public struct InstalledAppliance: Sendable {
    /// The image manifest's digest ("sha256:…"): the image's identity.
    public let manifestDigest: String
    public let listing: SignedImageListing
    /// SHA-256 of `sovereign/image.json`.
    public let imageIndexSHA256: SHA256Digest
    /// The stored tree's absolute path (`R/store/<hex>`), resolved once so a
    /// concurrent install that moves `current` cannot change it under us.
    public let treePath: String

    public var name: String { listing.name }
    public var version: String { listing.version }
    public var sequence: Int64 { listing.sequence }
    public var modelPath: String { treePath + "/" + listing.model.path }
    public var modelSHA256: SHA256Digest { listing.model.sha256 }
    /// The constraint layer's folder: `reference/*.md`, `rules.json`.
    public var constraintLayerDirectory: String { treePath + "/" + ImageLayout.policyDirectory(listing.constraintLayer) }
    public var runtimePath: String { treePath + "/" + listing.runtime }
    public var auditSuiteDirectory: String { treePath + "/" + ImageLayout.attestationDirectory(listing.constraintLayer) }

    /// The constraint layer's digest: SHA-256 of the canonical JSON list of
    /// its files (reference documents, rules and runtime settings) with
    /// their digests, so it names the layer whichever image carries it.
    public var constraintLayerDigest: SHA256Digest { listing.constraintLayerDigest }

    /// Opens the image `current` points to in `root` (or `link`, e.g. "previous").
    public static func open(_ root: InstallRoot, link: String = "current") throws(InstallError) -> InstalledAppliance {
        try root.checkOwnership()
        guard let hex = try root.target(of: link), let digest = SHA256Digest(hex: hex), digest.hex == hex else {
            throw InstallError(root.path + "/" + link, "nothing is installed (no valid link to store/<digest>)")
        }
        let state = try root.readState()
        guard let record = state.images[digest.prefixed] else {
            throw InstallError(root.statePath, "does not record the installed image \(digest.prefixed)")
        }
        guard let recorded = record.imageIndexSHA256.flatMap(SHA256Digest.init(hex:)) else {
            throw InstallError(root.statePath, "records no image.json digest for \(digest.prefixed) (installed by an older version: install it again)")
        }
        let treePath = root.store + "/" + hex
        let indexPlace = treePath + "/" + ImageLayout.indexFile
        let store = try system { () throws(SystemError) in try DirectoryHandle.open(root.store) }
        let indexBytes = try readIndexFile(Array(hex.utf8), in: store)
        let indexDigest = SHA256.hash(indexBytes)
        guard indexDigest == recorded else {
            throw InstallError(indexPlace, "sha256 is \(indexDigest.hex), the installer verified \(recorded.hex)")
        }
        let listing: SignedImageListing
        do { listing = try SignedImageListing(json: indexBytes, source: indexPlace) } catch { throw InstallError.from(error) }
        try InstalledTree.check(Array(hex.utf8), in: store, expected: listing.signedFiles(indexFileBytes: indexBytes))
        return InstalledAppliance(manifestDigest: digest.prefixed, listing: listing, imageIndexSHA256: indexDigest, treePath: treePath)
    }

    /// The tree's `sovereign/image.json`, opened one component at a time
    /// beneath the store, never through a symlink, a regular file only.
    private static func readIndexFile(_ tree: [UInt8], in store: borrowing DirectoryHandle) throws(InstallError) -> [UInt8] {
        let components = ImageLayout.indexFile.utf8.split(separator: UInt8(ascii: "/")).map { Array($0) }
        guard let fileName = components.last else { throw InstallError(ImageLayout.indexFile, "is not a path") }
        var directory = try system { () throws(SystemError) in try store.openDirectory(tree) }
        for component in components.dropLast() {
            let next = try system { () throws(SystemError) in try directory.openDirectory(component) }
            directory = next
        }
        do { return try directory.readRegularFile(fileName, limit: 4 << 20) } catch { throw InstallError.from(error) }
    }
}
