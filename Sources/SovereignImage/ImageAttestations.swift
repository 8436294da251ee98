import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignPolicy
import SovereignTrust

/// The statements a build makes about its image (SLSA provenance, CycloneDX
/// BOM), each signed into a DSSE envelope, stored as an OCI 1.1 referrer of
/// the image manifest and exported as a plain file for auditors; and the
/// policy authors' approvals of its constraint layer it was given, stored
/// and exported the same way, as signed (the release key does not sign them).
struct ImageAttestations {
    let spec: ImageSpec
    let layer: ConstraintLayer
    let created: String
    let files: [FileRecord]
    let modelRecord: FileRecord
    let modelDescription: ModelDescription
    let layerApprovals: [CarriedLayerApproval]

    static let buildType = "https://sovereign.dev/build/v1"

    /// Writes every attestation; returns the referrer manifests' descriptors.
    func write(subject: OCIDescriptor, into layout: OCILayoutWriter, signingKeys: [Ed25519.PrivateKey],
               modelSigningKey: ECDSAP256.PrivateKey?, exports: inout [String]) throws(ImageError) -> [OCIDescriptor] {
        guard let digest = subject.sha256 else { throw ImageError(subject.digest, "is not a sha256 digest") }
        let subjectDescriptor = OCIDescriptor(mediaType: subject.mediaType, digest: digest, size: subject.size)
        let statementSubject = InTotoStatement.Subject(name: spec.name, digest: ["sha256": digest.hex])
        try layout.writeBlob(Array("{}".utf8), mediaType: OCIMediaType.empty)
        try OCILayoutWriter.makeDirectory(layout.root + "/" + ImageLayout.exportsDirectory)

        var referrers: [OCIDescriptor] = []
        for export in ImageLayout.exports {
            let statement: InTotoStatement
            do {
                switch export.kind {
                case "provenance": statement = try provenance().statement(subjects: [statementSubject])
                default: statement = try bom().statement(subjects: [statementSubject])
                }
            } catch { throw ImageError.from(error) }
            var envelope = DSSEEnvelope(payload: statement.canonicalBytes, payloadType: DSSEEnvelope.inTotoPayloadType)
            do { for key in signingKeys { try envelope.sign(with: key) } } catch { throw ImageError.from(error) }
            let envelopeBytes = try encode(envelope) + [0x0A]
            referrers.append(try writeReferrer(envelopeBytes, mediaType: OCIMediaType.dsseEnvelope, predicateType: statement.predicateType,
                                               subject: subjectDescriptor, refName: "\(spec.version).\(export.kind)", into: layout))
            let exportPath = ImageLayout.exportsDirectory + "/" + export.file
            try layout.writeFile(exportPath, envelopeBytes)
            exports.append(exportPath)
        }
        if let modelSigningKey {
            referrers.append(try writeModelSignature(with: modelSigningKey, subject: subjectDescriptor, into: layout, exports: &exports))
        }
        for (position, approval) in layerApprovals.enumerated() {
            referrers.append(try writeReferrer(approval.bytes, mediaType: OCIMediaType.dsseEnvelope, predicateType: LayerApproval.predicateType,
                                               subject: subjectDescriptor, refName: nil, into: layout))
            let exportPath = ImageLayout.exportsDirectory + "/" + ImageLayout.layerApprovalFile(position + 1)
            try layout.writeFile(exportPath, approval.bytes)
            exports.append(exportPath)
        }
        return referrers
    }

    /// An OpenSSF model-signing v1.0 bundle over the unpacked `sovereign/`
    /// tree (paths relative to it), so `model_signing verify key` can check
    /// an unpacked or installed tree with no Sovereign tool at all.
    func writeModelSignature(with key: ECDSAP256.PrivateKey, subject: OCIDescriptor, into layout: OCILayoutWriter,
                             exports: inout [String]) throws(ImageError) -> OCIDescriptor {
        let prefix = ImageLayout.root + "/"
        let tree = files.map { (path: String($0.path.dropFirst(prefix.count)), digest: $0.sha256) }
        let bundle: [UInt8]
        do { bundle = try ModelSigningBundle.sign(modelName: ImageLayout.root, files: tree, ignorePaths: [], key: key) } catch {
            throw ImageError.from(error)
        }
        let descriptor = try writeReferrer(bundle, mediaType: ModelSigningBundle.mediaType, predicateType: ModelSigningBundle.predicateType,
                                           subject: subject, refName: "\(spec.version).model-signing", into: layout)
        let exportPath = ImageLayout.exportsDirectory + "/" + ImageLayout.modelSignatureFile
        try layout.writeFile(exportPath, bundle)
        exports.append(exportPath)
        return descriptor
    }

    func writeReferrer(_ blob: [UInt8], mediaType: String, predicateType: String?, subject: OCIDescriptor,
                       refName: String?, into layout: OCILayoutWriter) throws(ImageError) -> OCIDescriptor {
        try layout.writeReferrer(blob, mediaType: mediaType, predicateType: predicateType, subject: subject, created: created, refName: refName)
    }

    /// SLSA provenance v1: what was built from which inputs, by what.
    /// No wall-clock time: the build is reproducible, so its provenance is too.
    func provenance() -> SLSAProvenance {
        var dependencies = [ResourceDescriptor(name: "model/" + FileSystem.baseName(spec.model.path), uri: nil, sha256: modelRecord.sha256)]
        for file in files where file.layer != .model && file.layer != .index {
            dependencies.append(ResourceDescriptor(name: file.path, sha256: file.sha256))
        }
        var external: [String: JSONValue] = [
            "spec": .object(["path": .string(FileSystem.baseName(spec.specPath)), "sha256": .string(spec.specDigest.hex)]),
            "name": .string(spec.name), "version": .string(spec.version), "sequence": .integer(spec.sequence),
        ]
        if let source = spec.source { external["source"] = .string(source) }
        return SLSAProvenance(
            buildDefinition: .init(buildType: Self.buildType, externalParameters: external,
                                   internalParameters: ["created": .string(created)], resolvedDependencies: dependencies),
            runDetails: .init(builder: .init(id: ImageBuilder.builderID, version: ["sovereign": ImageBuilder.toolVersion])))
    }

    /// CycloneDX 1.6 BOM: the model (with its model card facts), every
    /// reference document, rule file, runtime setting and audit suite.
    func bom() -> ImageBOM {
        let model = ImageBOM.Model(
            name: spec.model.name, fileName: modelRecord.path, sha256: modelRecord.sha256, size: modelRecord.size,
            license: spec.model.license, source: spec.model.source,
            architecture: modelDescription.architecture, parameters: modelDescription.parameters)
        let bomFiles: [ImageBOM.File] = files.compactMap { file in
            let role: ImageBOM.File.Role
            switch file.layer {
            case .model: return nil
            case .runtime: role = .runtimeSettings
            case .attestation: role = .auditSuite
            case .index: role = .imageIndex
            case .policies: role = file.path.hasSuffix("/rules.json") ? .rules : .referenceDocument
            }
            return ImageBOM.File(path: file.path, sha256: file.sha256, size: file.size, role: role)
        }
        return ImageBOM(imageName: spec.name, imageVersion: spec.version, created: created, sequence: spec.sequence,
                        model: model, files: bomFiles, toolName: "sovereign", toolVersion: ImageBuilder.toolVersion)
    }
}
