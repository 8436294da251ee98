import Foundation
import SovereignSystem
import SovereignCrypto
import SovereignFormats

/// An image spec (`Image/*.image.json`, schema `sovereign.image-spec/v1`):
/// what goes into an appliance image. Paths are relative to the spec file.
/// Unknown fields are errors.
public struct ImageSpec: Sendable {
    public static let schema = "sovereign.image-spec/v1"

    public struct Model: Sendable {
        public let name: String
        /// Absolute (resolved) path of the GGUF file.
        public let path: String
        public let sha256: SHA256Digest
        public let license: String
        public let source: String
    }

    public let specPath: String
    public let specDigest: SHA256Digest
    public let name: String
    public let version: String
    /// Monotonic release number: installers refuse to go below it.
    public let sequence: Int64
    public let source: String?
    public let revision: String?
    /// The image's time, if the spec fixes it (else SOURCE_DATE_EPOCH, else 0).
    public let created: Int64?
    public let platform: OCIPlatform
    public let model: Model
    /// Absolute path of the constraint layer folder.
    public let constraintLayer: String
    /// Absolute path of the audit suites folder.
    public let auditSuites: String
    /// Absolute paths of policy authors' signed approvals of the constraint
    /// layer (`sovereign layer sign`), carried in the image.
    public let layerApprovals: [String]

    public init(path: String) throws(ImageError) {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readFile(path, limit: 1 << 20) } catch { throw ImageError.from(error) }
        specPath = path
        specDigest = SHA256.hash(bytes)
        let base = FileSystem.directoryName(path)
        func resolve(_ relative: String) -> String {
            relative.hasPrefix("/") ? relative : URL(fileURLWithPath: base + "/" + relative).standardizedFileURL.path
        }
        do {
            var root = try JSONObjectReader(parsing: bytes, source: path, mode: .strict)
            let schema = try root.string("schema")
            guard schema == Self.schema else { throw root.error("schema", "is '\(schema)', expected '\(Self.schema)'") }
            name = try root.nonEmptyString("name")
            guard Self.isValidName(name) else {
                throw root.error("name", "'\(name)' must be lowercase letters, digits, '.', '_' or '-' (an OCI repository component)")
            }
            version = try root.nonEmptyString("version")
            guard version.utf8.count <= 128, version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                throw root.error("version", "'\(version)' must be an OCI tag: letters, digits, '.', '_' or '-', at most 128")
            }
            sequence = try root.integer("sequence", in: 0...(1 << 53))
            source = try root.optionalString("source")
            revision = try root.optionalString("revision")
            if let createdText = try root.optionalString("created") {
                guard let seconds = Timestamp.parse(createdText), seconds >= 0 else {
                    throw root.error("created", "'\(createdText)' is not an RFC 3339 UTC time like 2026-01-01T00:00:00Z")
                }
                created = seconds
            } else {
                created = nil
            }
            if var platformReader = try root.optionalObject("platform") {
                platform = OCIPlatform(architecture: try platformReader.nonEmptyString("architecture"), os: try platformReader.nonEmptyString("os"))
                try platformReader.finish()
            } else {
                platform = OCIPlatform(architecture: "amd64", os: "linux")
            }
            var modelReader = try root.object("model")
            let modelPath = resolve(try modelReader.nonEmptyString("path"))
            let digestText = try modelReader.string("sha256")
            guard let digest = SHA256Digest(hex: digestText) else {
                throw modelReader.error("sha256", "must be 64 lowercase hex characters, got '\(digestText)'")
            }
            let modelName = try modelReader.optionalString("name") ?? FileSystem.baseName(modelPath)
            model = Model(name: modelName, path: modelPath, sha256: digest,
                          license: try modelReader.nonEmptyString("license"), source: try modelReader.nonEmptyString("source"))
            try modelReader.finish()
            guard modelPath.hasSuffix(".gguf") else { throw root.error("model.path", "must name a .gguf file") }
            constraintLayer = resolve(try root.nonEmptyString("constraintLayer"))
            auditSuites = resolve(try root.nonEmptyString("auditSuites"))
            layerApprovals = try (root.optionalStrings("layerApprovals") ?? []).map(resolve)
            try root.finish()
        } catch {
            throw ImageError.from(error)
        }
    }

    /// The image time: the spec's, else SOURCE_DATE_EPOCH, else the Unix epoch.
    public func resolvedCreated(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ImageError) -> Int64 {
        if let created { return created }
        if let text = environment["SOURCE_DATE_EPOCH"] {
            guard let seconds = Int64(text), seconds >= 0, seconds < 253_402_300_800 else {
                throw ImageError("SOURCE_DATE_EPOCH", "'\(text)' is not a number of seconds since 1970")
            }
            return seconds
        }
        return 0
    }

    static func isValidName(_ name: String) -> Bool {
        name.utf8.count <= 128 && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-"
        } && name.unicodeScalars.first.map { ("a"..."z").contains($0) || ("0"..."9").contains($0) } == true
    }
}
