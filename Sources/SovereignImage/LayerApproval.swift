import SovereignCrypto
import SovereignFormats

/// A policy author's approval of one version of a constraint layer
/// (`https://sovereign.dev/layer-approval/v1`), signed apart from the
/// release engineer who packages it: an in-toto Statement whose first
/// subject is the layer's digest (`constraint-layer`) and whose other
/// subjects are each of its files, so an approval names exactly the bytes
/// approved. Several authors co-sign one approval's envelope; `previous`
/// chains a version to the one approved before it.
public struct LayerApproval: Sendable, Equatable {
    public static let predicateType = "https://sovereign.dev/layer-approval/v1"
    /// The first subject's name: the digest of the layer as a whole.
    public static let layerSubject = "constraint-layer"

    /// The layer's name (its folder's).
    public let layer: String
    public let version: String
    /// Who approves, as free text: a role or an office.
    public let approver: String
    /// RFC 3339 UTC.
    public let approvedOn: String
    /// The digest of the layer version approved before this one, if any.
    public let previous: SHA256Digest?

    public init(layer: String, version: String, approver: String, approvedOn: String, previous: SHA256Digest?) throws(ImageError) {
        for (field, value) in [("layer", layer), ("version", version), ("approver", approver)] {
            guard !value.isEmpty, value.utf8.count <= 256, value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw ImageError("layer approval", "\(field) must be 1 to 256 bytes of text without control characters")
            }
        }
        guard Timestamp.parse(approvedOn) != nil else {
            throw ImageError("layer approval", "approvedOn '\(approvedOn)' is not an RFC 3339 UTC time like 2026-01-02T03:04:05Z")
        }
        self.layer = layer
        self.version = version
        self.approver = approver
        self.approvedOn = approvedOn
        self.previous = previous
    }

    /// The statement approving the layer whose files are `entries`.
    public func statement(for entries: [ConstraintLayerDigest.Entry]) throws(ImageError) -> InTotoStatement {
        var predicate: [String: JSONValue] = [
            "layer": .string(layer), "version": .string(version), "approver": .object(["role": .string(approver)]),
            "approvedOn": .string(approvedOn),
        ]
        if let previous { predicate["previous"] = .object(["sha256": .string(previous.hex)]) }
        let subjects = [InTotoStatement.Subject(name: Self.layerSubject, digest: ["sha256": ConstraintLayerDigest.of(entries).hex])]
            + entries.map { InTotoStatement.Subject(name: layer + "/" + $0.path, digest: ["sha256": $0.sha256.hex]) }
        do { return try InTotoStatement(subjects: subjects, predicateType: Self.predicateType, predicate: .object(predicate)) } catch {
            throw ImageError.from(error)
        }
    }
}
