import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignPolicy

/// The statements a build makes about its image (SLSA provenance, CycloneDX
/// BOM), each signed into a DSSE envelope, stored as an OCI 1.1 referrer of
/// the image manifest and exported as a plain file for auditors.
struct ImageAttestations {
    let spec: ImageSpec
    let layer: ConstraintLayer
    let created: String
    let files: [FileRecord]
    let modelRecord: FileRecord
    let specDirectory: String

    static let buildType = "https://sovereign.dev/build/v1"

    /// Writes every attestation; returns the referrer manifests' descriptors.
    func write(subject: OCIDescriptor, into layout: OCILayoutWriter, signingKeys: [Ed25519.PrivateKey],
               exports: inout [String]) throws(ImageError) -> [OCIDescriptor] {
        let subjectDescriptor = OCIDescriptor(mediaType: subject.mediaType, digest: subject.sha256!, size: subject.size)
        let statementSubject = InTotoStatement.Subject(name: spec.name, digest: ["sha256": subjectDescriptor.sha256!.hex])
        try layout.writeBlob(Array("{}".utf8), mediaType: OCIMediaType.empty)
        try OCILayoutWriter.makeDirectory(layout.root + "/" + ImageLayout.exportsDirectory)

        var referrers: [OCIDescriptor] = []
        for (kind, predicateType, predicate, exportName) in [
            ("provenance", "https://slsa.dev/provenance/v1", provenance(), "provenance.dsse.json"),
        ] {
            let statement: InTotoStatement
            do {
                statement = try InTotoStatement(subjects: [statementSubject], predicateType: predicateType, predicate: predicate)
            } catch { throw ImageError.from(error) }
            var envelope = DSSEEnvelope(payload: statement.canonicalBytes, payloadType: DSSEEnvelope.inTotoPayloadType)
            do { for key in signingKeys { try envelope.sign(with: key) } } catch { throw ImageError.from(error) }
            let envelopeBytes = try encode(envelope) + [0x0A]
            referrers.append(try writeReferrer(envelopeBytes, mediaType: OCIMediaType.dsseEnvelope, predicateType: predicateType,
                                               subject: subjectDescriptor, refName: "\(spec.version).\(kind)", into: layout))
            let exportPath = ImageLayout.exportsDirectory + "/" + exportName
            try layout.writeFile(exportPath, envelopeBytes)
            exports.append(exportPath)
        }
        return referrers
    }

    /// A referrer: an artifact manifest whose one layer is the signed blob
    /// and whose `subject` is the image manifest. In index.json it carries a
    /// ref name (`<version>.<kind>`) so tools that copy by name can reach it.
    func writeReferrer(_ blob: [UInt8], mediaType: String, predicateType: String?, subject: OCIDescriptor,
                       refName: String, into layout: OCILayoutWriter) throws(ImageError) -> OCIDescriptor {
        let blobDescriptor = try layout.writeBlob(blob, mediaType: mediaType)
        var annotations = [OCIAnnotation.created: created]
        if let predicateType { annotations[SovereignAnnotation.predicateType] = predicateType }
        let manifest = OCIManifest(config: .empty, layers: [blobDescriptor], artifactType: mediaType,
                                   subject: subject, annotations: annotations)
        var descriptor = try layout.writeBlob(try encode(manifest), mediaType: OCIMediaType.imageManifest,
                                              artifactType: mediaType, annotations: annotations)
        descriptor.annotations?[OCIAnnotation.refName] = refName
        return descriptor
    }

    /// SLSA provenance v1: what was built from which inputs, by what.
    /// No wall-clock time: the build is reproducible, so its provenance is too.
    func provenance() -> JSONValue {
        func dependency(_ name: String, _ digest: SHA256Digest) -> JSONValue {
            .object(["name": .string(name), "digest": .object(["sha256": .string(digest.hex)])])
        }
        var dependencies = [dependency("model/" + FileSystem.baseName(spec.model.path), modelRecord.sha256)]
        for file in files where file.layer != .model && file.layer != .index {
            dependencies.append(dependency(file.path, file.sha256))
        }
        var external: [String: JSONValue] = [
            "spec": .object(["path": .string(FileSystem.baseName(spec.specPath)), "sha256": .string(spec.specDigest.hex)]),
            "name": .string(spec.name), "version": .string(spec.version), "sequence": .integer(spec.sequence),
        ]
        if let source = spec.source { external["source"] = .string(source) }
        return .object([
            "buildDefinition": .object([
                "buildType": .string(Self.buildType),
                "externalParameters": .object(external),
                "internalParameters": .object(["created": .string(created)]),
                "resolvedDependencies": .array(dependencies),
            ]),
            "runDetails": .object([
                "builder": .object(["id": .string(ImageBuilder.builderID), "version": .object(["sovereign": .string(ImageBuilder.toolVersion)])]),
            ]),
        ])
    }
}
