import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignPolicy

/// The audit suites a certification replays: read from files, a layer pin
/// (when present) checked against the installed constraint layer, with the
/// digest of its bytes for the VSA's policy.
///
/// A suite may name rules the layer lacks (an auditor's own suite against a
/// layer whose rules were emptied): that is not an error but a finding, and
/// those rules are reported as not load-bearing.
public struct CertificationSuites: Sendable {
    public let suites: [AuditSuite]
    /// File name → SHA-256 of its bytes, in the order given.
    public let files: [(name: String, sha256: SHA256Digest)]

    public init(paths: [String], layerDigest: SHA256Digest) throws(CertificationError) {
        var suites: [AuditSuite] = []
        var files: [(name: String, sha256: SHA256Digest)] = []
        do {
            for path in paths {
                let bytes = try FileSystem.readFile(path, limit: 16 << 20)
                let suite = try AuditSuite(json: bytes, source: path)
                if let pinned = suite.constraintLayer, pinned != layerDigest.prefixed {
                    throw CertificationError(path, "targets constraint layer \(pinned), but the installed layer is \(layerDigest.prefixed)")
                }
                suites.append(suite)
                files.append((FileSystem.baseName(path), SHA256.hash(bytes)))
            }
        } catch let error as CertificationError {
            throw error
        } catch let error as any SovereignError {
            throw CertificationError(error.thing, error.reason)
        } catch {
            throw CertificationError("audit suites", "\(error)")
        }
        self.suites = suites
        self.files = files
    }

    /// The suites an installed image carries (`*.suite.json` in its
    /// attestation folder), in name order.
    public static func installedPaths(in directory: String) throws(CertificationError) -> [String] {
        let names: [String]
        do { names = try ConstraintLayer.listFiles(directory, suffix: ".suite.json") } catch {
            throw CertificationError(error.source, error.reason)
        }
        guard !names.isEmpty else { throw CertificationError(directory, "holds no audit suites") }
        return names.map { directory + "/" + $0 }
    }
}
