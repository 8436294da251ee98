import SovereignCrypto
import SovereignFormats
import SovereignPolicy

/// A policy author's approval of one version of a constraint layer
/// (`https://sovereign.dev/layer-approval/v1`), signed apart from the
/// release engineer who packages it: an in-toto Statement whose first
/// subject is the layer's digest (`constraint-layer`) and whose other
/// subjects are each of its files (`<layer>/<path>`), so an approval names
/// exactly the bytes approved. Several authors co-sign one approval's
/// envelope; `previous` chains a version to the one approved before it.
///
/// The one writer and reader of approvals: `sovereign layer sign` writes
/// them, the builder checks them against the layer it packages, and the
/// policy-author threshold counts signatures only on one that approves the
/// image's own layer.
public struct LayerApproval: Sendable, Equatable {
    public static let predicateType = "https://sovereign.dev/layer-approval/v1"
    /// More file subjects than any layer has (ours: a handful of documents).
    public static let maximumFiles = 4096

    /// The layer's name (its folder's).
    public let layer: String
    public let version: String
    /// Who approves, as free text: a role or an office.
    public let approver: String
    /// RFC 3339 UTC.
    public let approvedOn: String
    /// The digest of the layer version approved before this one, if any.
    public let previous: SHA256Digest?
    /// The files approved, sorted by path bytes.
    public let files: [ConstraintLayerDigest.Entry]

    /// The digest of the layer approved.
    public var layerDigest: SHA256Digest { ConstraintLayerDigest.of(files) }

    public init(layer: String, version: String, approver: String, approvedOn: String, previous: SHA256Digest?,
                files: [ConstraintLayerDigest.Entry], source: String = "layer approval") throws(TrustError) {
        for (field, value) in [("layer", layer), ("version", version), ("approver.role", approver)] {
            guard !value.isEmpty, value.utf8.count <= 256, value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) }) else {
                throw TrustError(source: source, reason: "\(field) must be 1 to 256 bytes of text without control characters")
            }
        }
        guard !layer.utf8.contains(UInt8(ascii: "/")) else { throw TrustError(source: source, reason: "layer must be one name, without '/'") }
        guard Timestamp.parse(approvedOn) != nil else {
            throw TrustError(source: source, reason: "approvedOn '\(approvedOn)' is not an RFC 3339 UTC time like 2026-01-02T03:04:05Z")
        }
        guard !files.isEmpty, files.count <= Self.maximumFiles else {
            throw TrustError(source: source, reason: "must approve 1 to \(Self.maximumFiles) files, not \(files.count)")
        }
        let sorted = ConstraintLayerDigest.sorted(files)
        for (previousEntry, entry) in zip(sorted, sorted.dropFirst()) where previousEntry.path.utf8.elementsEqual(entry.path.utf8) {
            throw TrustError(source: source, reason: "names the file '\(entry.path)' twice")
        }
        for entry in sorted where entry.path.isEmpty || entry.path.utf8.count > 1024 {
            throw TrustError(source: source, reason: "a file path must be 1 to 1024 bytes")
        }
        self.layer = layer
        self.version = version
        self.approver = approver
        self.approvedOn = approvedOn
        self.previous = previous
        self.files = sorted
    }

    /// The statement to sign.
    public func statement() throws(TrustError) -> InTotoStatement {
        var predicate: [String: JSONValue] = [
            "layer": .string(layer), "version": .string(version), "approver": .object(["role": .string(approver)]),
            "approvedOn": .string(approvedOn),
        ]
        if let previous { predicate["previous"] = .object(["sha256": .string(previous.hex)]) }
        let subjects = [InTotoStatement.Subject(name: ConstraintLayerDigest.subjectName, digest: ["sha256": layerDigest.hex])]
            + files.map { InTotoStatement.Subject(name: layer + "/" + $0.path, digest: ["sha256": $0.sha256.hex]) }
        do { return try InTotoStatement(subjects: subjects, predicateType: Self.predicateType, predicate: .object(predicate)) } catch {
            throw TrustError(error)
        }
    }

    /// Reads an approval strictly: its predicate's fields and nothing else,
    /// a first subject `constraint-layer`, every other subject a file of the
    /// named layer, and the files hashing to the first subject's digest (an
    /// approval that contradicts itself approves nothing).
    public init(statement: InTotoStatement, source: String) throws(TrustError) {
        guard statement.predicateType == Self.predicateType else {
            throw TrustError(source: source, reason: "predicateType is '\(statement.predicateType)', expected '\(Self.predicateType)'")
        }
        guard let predicate = statement.predicate else { throw TrustError(source: source, reason: "missing field 'predicate'") }
        let fields: (layer: String, version: String, approver: String, approvedOn: String, previous: SHA256Digest?)
        do throws(FormatsError) {
            var reader = try JSONObjectReader(predicate, source: source, path: "predicate", mode: .strict)
            let layer = try reader.string("layer"), version = try reader.string("version")
            let approver = try reader.object("approver") { (approver) throws(FormatsError) in try approver.string("role") }
            let approvedOn = try reader.string("approvedOn")
            let previous = try reader.optionalObject("previous") { (previous) throws(FormatsError) in try previous.sha256("sha256") }
            try reader.finish()
            fields = (layer, version, approver, approvedOn, previous)
        } catch {
            throw TrustError(error)
        }
        let subjects = statement.subjects
        guard let first = subjects.first, first.name == ConstraintLayerDigest.subjectName,
              let digest = first.digest["sha256"].flatMap(SHA256Digest.init(hex:)) else {
            throw TrustError(source: source, reason: "its first subject must be '\(ConstraintLayerDigest.subjectName)' with a sha256 digest")
        }
        guard subjects.count - 1 <= Self.maximumFiles else {
            throw TrustError(source: source, reason: "names \(subjects.count - 1) files, more than \(Self.maximumFiles)")
        }
        let prefix = Array((fields.layer + "/").utf8)
        var files: [ConstraintLayerDigest.Entry] = []
        for (i, subject) in subjects.enumerated().dropFirst() {
            guard let name = subject.name, Array(name.utf8).starts(with: prefix),
                  let sha256 = subject.digest["sha256"].flatMap(SHA256Digest.init(hex:)) else {
                throw TrustError(source: source, reason: "subject[\(i)] must be a file of layer '\(fields.layer)' ('\(fields.layer)/<path>') with a sha256 digest")
            }
            files.append(.init(path: String(decoding: name.utf8.dropFirst(prefix.count), as: UTF8.self), sha256: sha256))
        }
        try self.init(layer: fields.layer, version: fields.version, approver: fields.approver, approvedOn: fields.approvedOn,
                      previous: fields.previous, files: files, source: source)
        guard layerDigest == digest else {
            throw TrustError(source: source, reason: "its files hash to \(layerDigest.prefixed), not the \(digest.prefixed) its '\(ConstraintLayerDigest.subjectName)' subject names")
        }
    }

    /// Why this approval does not approve the layer `constraintLayer`
    /// (named `name`, when known); nil when it does. Names compare as bytes.
    public func problem(constraintLayer: SHA256Digest, name: String? = nil) -> String? {
        if layerDigest != constraintLayer {
            return "approves constraint layer '\(layer)' version \(version) (\(layerDigest.prefixed)), but the image carries \(constraintLayer.prefixed)"
        }
        if let name, !layer.utf8.elementsEqual(name.utf8) {
            return "approves constraint layer '\(layer)' version \(version), but the image's layer is named '\(name)'"
        }
        return nil
    }
}
