/// Names and places inside a Sovereign image, shared by build, inspect and install.
public enum ImageLayout {
    /// Root of the unpacked tree.
    public static let root = "sovereign"
    /// The signed list of every file (path, size, sha256).
    public static let indexFile = "sovereign/image.json"
    public static let indexSchema = "sovereign.image/v1"
    public static let runtimeFile = "sovereign/runtime/runtime.json"
    public static func modelPath(_ fileName: String) -> String { "sovereign/model/\(fileName)" }
    public static func policyDirectory(_ layer: String) -> String { "sovereign/policies/\(layer)" }
    public static func attestationDirectory(_ layer: String) -> String { "sovereign/attestation/\(layer)" }

    /// Layers, ordered from the one that changes least to the one that
    /// changes most, so registries and caches share the big ones.
    public enum Layer: String, CaseIterable, Sendable {
        case model, runtime, policies, attestation, index
    }

    /// Folder, beside the OCI layout's blobs, where signatures and
    /// attestations are exported as plain files for auditors.
    public static let exportsDirectory = "attestations"

    /// The exported file for each signed statement, by predicate type.
    public static let exports: [(kind: String, predicateType: String, file: String)] = [
        ("provenance", "https://slsa.dev/provenance/v1", "provenance.dsse.json"),
        ("sbom", "https://cyclonedx.org/bom", "sbom.cdx.dsse.json"),
    ]

    /// The OpenSSF model-signing bundle over the `sovereign/` tree.
    public static let modelSignatureFile = "model.sig"

    /// The most layer approvals one image carries.
    public static let maximumLayerApprovals = 16

    /// The exported copy of the `number`th (from 1) layer approval a build carries.
    public static func layerApprovalFile(_ number: Int) -> String { "layer-approval.\(number).dsse.json" }

    /// Whether `name` is an exported layer approval's (1 to `maximumLayerApprovals`).
    public static func isLayerApprovalFile(_ name: String) -> Bool {
        (1...maximumLayerApprovals).contains { layerApprovalFile($0) == name }
    }

    /// The kind in a referrer's ref name (`<version>.<kind>`), by predicate type.
    public static func referrerKind(forPredicateType type: String?) -> String? {
        if type == modelSigningPredicateType { return "model-signing" }
        return exports.first { $0.predicateType == type }?.kind
    }

    static let modelSigningPredicateType = "https://model_signing/signature/v1.0"

    public static func exportName(forPredicateType type: String?) -> String? {
        exports.first { $0.predicateType == type }?.file
    }
}

/// Annotation keys of our own.
public enum SovereignAnnotation {
    /// Monotonic release number (anti-rollback).
    public static let sequence = "dev.sovereign.sequence"
    public static let modelSHA256 = "dev.sovereign.model.sha256"
    /// On referrer manifests: the in-toto predicate type of the statement inside.
    public static let predicateType = "in-toto.io/predicate-type"
}
