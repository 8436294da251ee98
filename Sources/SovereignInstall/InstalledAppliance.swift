import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignImage
import SovereignTrust

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
    /// The image manifest's digest: the image's identity.
    public let manifestSHA256: SHA256Digest
    /// `manifestSHA256` as "sha256:…".
    public var manifestDigest: String { manifestSHA256.prefixed }
    public let listing: SignedImageListing
    /// SHA-256 of `sovereign/image.json`.
    public let imageIndexSHA256: SHA256Digest
    /// The policy and evidence the installer accepted the image on; nil
    /// for an image installed before they were recorded.
    public let recordedTrust: RecordedTrust?
    /// `R/state.json`, where `recordedTrust` is kept (for messages).
    let statePath: String
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

    /// The policy authors' approvals of the layer, as the installer
    /// recorded them with the rest of the image's evidence (the trust check
    /// refuses an image carrying an approval of any other layer).
    public func layerApprovals() throws(InstallError) -> [CarriedLayerApproval] {
        let envelopes = (recordedTrust?.attestations ?? []).enumerated().map { ($1.envelope, "\(statePath): attestations[\($0)]") }
        do { return try CarriedLayerApproval.approvals(among: envelopes) } catch { throw InstallError(error.thing, error.reason) }
    }

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
        return InstalledAppliance(manifestSHA256: digest, listing: listing, imageIndexSHA256: indexDigest, recordedTrust: record.trust, statePath: root.statePath, treePath: treePath)
    }

    /// Opens `current` to run or certify it: the tree checked byte for byte
    /// (`open`), then its trust decided again at `now` (`recheckTrust`).
    public static func openTrusted(_ root: InstallRoot, now: Int64) throws(InstallError) -> (InstalledAppliance, TrustDecision) {
        let appliance = try open(root)
        return (appliance, try appliance.recheckTrust(now: now))
    }

    /// Decides the image's trust again, at `now`, under the policy it was
    /// installed with: its signatures still verify, its keys are still
    /// neither expired nor revoked, the policy has not expired, and a
    /// required certification is still there. Throws naming the reason
    /// when it no longer holds, or when nothing was recorded.
    public func recheckTrust(now: Int64) throws(InstallError) -> TrustDecision {
        let place = "\(statePath): images.\(manifestDigest).trust"
        guard let recordedTrust else {
            throw InstallError(place, "is missing: the image was installed by an older version, so its trust cannot be checked again (install it again)")
        }
        let decision = try recordedTrust.decide(manifestDigest: manifestSHA256, constraintLayer: constraintLayerDigest,
                                                constraintLayerName: listing.constraintLayer, now: now, source: place)
        if let failure = decision.firstFailure {
            throw InstallError(place, "the installed image no longer meets the trust policy it was installed with: \(failure.failureReason ?? failure.name)")
        }
        return decision
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
