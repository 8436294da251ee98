import SovereignCrypto
import Testing
@testable import SovereignFormats

@Suite struct OCIJSONTests {
    static let layer = OCIDescriptor(mediaType: OCIMediaType.layerTar, bytes: Array("layer".utf8),
                                     annotations: [OCIAnnotation.title: "model"])
    static let config = OCIDescriptor(mediaType: OCIMediaType.imageConfig, bytes: Array("{}".utf8))
    static let manifest = OCIManifest(config: config, layers: [layer], artifactType: "application/x",
                                      subject: OCIDescriptor.empty, annotations: [OCIAnnotation.version: "1.0.0"])

    /// The bytes the builder writes, pinned: reading was rewritten, writing
    /// must not move by a byte (image digests depend on it).
    @Test func writesTheSameCanonicalBytesAsBefore() throws {
        let bytes = String(decoding: try CanonicalJSON.encode(Self.manifest), as: UTF8.self)
        let config = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        let layer = "sha256:" + SHA256.hash(Array("layer".utf8)).hex
        #expect(bytes == #"{"annotations":{"org.opencontainers.image.version":"1.0.0"},"artifactType":"application/x","config":{"digest":"\#(config)","mediaType":"application/vnd.oci.image.config.v1+json","size":2},"layers":[{"annotations":{"org.opencontainers.image.title":"model"},"digest":"\#(layer)","mediaType":"application/vnd.oci.image.layer.v1.tar","size":5}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2,"subject":{"digest":"\#(config)","mediaType":"application/vnd.oci.empty.v1+json","size":2}}"#)
    }

    @Test func readsBackWhatItWritesByteForByte() throws {
        let manifestBytes = try CanonicalJSON.encode(Self.manifest)
        let manifest = try StrictJSON.decode(OCIManifest.self, from: manifestBytes, source: "m")
        #expect(manifest == Self.manifest)
        #expect(try CanonicalJSON.encode(manifest) == manifestBytes)

        let index = OCIIndex(manifests: [OCIDescriptor(mediaType: OCIMediaType.imageManifest, bytes: manifestBytes,
                                                       annotations: [OCIAnnotation.refName: "1.0.0"])])
        let indexBytes = try CanonicalJSON.encode(index)
        #expect(try StrictJSON.decode(OCIIndex.self, from: indexBytes, source: "i") == index)

        let imageConfig = OCIImageConfig(created: "2026-01-01T00:00:00Z", platform: OCIPlatform(architecture: "amd64", os: "linux"),
                                         labels: ["a": "b"], diffIDs: [Self.layer.digest],
                                         history: [.init(created: nil, createdBy: "sovereign build", comment: "model")])
        let configBytes = try CanonicalJSON.encode(imageConfig)
        let readConfig = try StrictJSON.decode(OCIImageConfig.self, from: configBytes, source: "c")
        #expect(readConfig == imageConfig)
        #expect(try CanonicalJSON.encode(readConfig) == configBytes)

        #expect(try StrictJSON.decode(OCILayoutMarker.self, from: try CanonicalJSON.encode(OCILayoutMarker()), source: "l")
                == OCILayoutMarker())
    }

    /// The image-spec tells consumers to ignore unknown fields, and Go writes
    /// `null` for empty optional ones; the `Codable` decoding accepted both.
    @Test func ignoresUnknownFieldsAndReadsNullAsAbsent() throws {
        let manifest = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":null,"subject":null,"future":{"x":1},"config":{"mediaType":"c","digest":"sha256:00","size":2,"urls":["https://example.com"],"data":"e30="},"layers":[{"mediaType":"l","digest":"sha256:01","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#
        let read = try StrictJSON.decode(OCIManifest.self, from: Array(manifest.utf8), source: "m")
        #expect(read.annotations == nil)
        #expect(read.subject == nil)
        #expect(read.layers.first?.platform == OCIPlatform(architecture: "arm64", os: "linux"))

        let config = #"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Labels":null},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"x","empty_layer":true}]}"#
        let readConfig = try StrictJSON.decode(OCIImageConfig.self, from: Array(config.utf8), source: "c")
        #expect(readConfig.config == OCIImageConfig.Config(labels: nil))
        #expect(readConfig.history == [.init(created: nil, createdBy: "x", comment: nil)])
    }

    @Test(arguments: [
        (#"{"schemaVersion":2,"mediaType":"m","config":{"mediaType":"c","digest":"d","size":2},"layers":[{"mediaType":"l","size":1}]}"#,
         "missing field 'layers[0].digest'"),
        (#"{"schemaVersion":2,"mediaType":"m","config":{"mediaType":"c","digest":"d","size":"2"},"layers":[]}"#,
         "config.size: must be an integer, got string"),
        (#"{"schemaVersion":2,"config":{"mediaType":"c","digest":"d","size":2},"layers":[]}"#, "missing field 'mediaType'"),
        (#"{"schemaVersion":2,"mediaType":"m","config":{"mediaType":"c","digest":"d","size":2},"layers":null}"#,
         "layers: must be an array, got null"),
        (#"{"schemaVersion":2,"mediaType":"m","config":{"mediaType":"c","digest":"d","size":2},"layers":[],"annotations":{"a":1}}"#,
         "annotations.a: must be a string, got number"),
    ])
    func namesTheFieldOfAMalformedManifest(text: String, reason: String) {
        #expect(throws: FormatsError(source: "m", reason: reason)) {
            try StrictJSON.decode(OCIManifest.self, from: Array(text.utf8), source: "m")
        }
    }
}
