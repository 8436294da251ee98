import Foundation
import SovereignCrypto
import Testing
import SovereignTestSupport
@testable import SovereignFormats

@Suite struct ModelSigningBundleTests {
    // MARK: - Fixtures

    static func digest(_ text: String) -> SHA256Digest { SHA256.hash(Array(text.utf8)) }

    static let sampleFiles: [(path: String, digest: SHA256Digest)] = [
        ("weights/model.bin", digest("weights")),
        ("a-b", digest("a-b")),
        ("a/b", digest("a/b")),
        ("a.b", digest("a.b")),
        ("README.md", digest("readme")),
        ("empty", SHA256.hash([UInt8]())),
        ("model.sig", digest("old signature")),
        (".git/HEAD", digest("ref: refs/heads/main")),
    ]

    /// The RFC 6979 A.2.5 key, so bundles are reproducible across runs.
    static func fixedKey() throws -> ECDSAP256.PrivateKey {
        let scalar = try #require(Hex.decode("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"))
        let der: [UInt8] = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20] + scalar
            + [0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
        let body = Base64.encode(der)
        return try ECDSAP256.PrivateKey(pem: "-----BEGIN EC PRIVATE KEY-----\n\(body)\n-----END EC PRIVATE KEY-----\n",
                                        source: "rfc6979.pem")
    }

    static func parse(_ bytes: [UInt8]) throws -> JSONValue { try JSONParser.parse(bytes, source: "test") }

    /// The signed statement inside a bundle.
    static func statement(of bundle: [UInt8]) throws -> JSONValue {
        let encoded = try #require(try parse(bundle)["dsseEnvelope"]?["payload"]?.stringValue)
        let payload = try #require(Base64.decodeLenient(encoded))
        return try parse(payload)
    }

    /// A bundle around any statement, signed properly: for checks that sit
    /// behind the signature check.
    static func bundle(signing statement: JSONValue, with key: ECDSAP256.PrivateKey,
                       signatures count: Int = 1, hint: String? = nil) -> [UInt8] {
        let payload = CanonicalJSON.serialize(statement)
        let sig = key.signature(for: DSSEEnvelope.pae(payloadType: DSSEEnvelope.inTotoPayloadType, payload: payload))
        let signature = JSONValue.object(["sig": .string(Base64.encode(sig)), "keyid": .string("")])
        return CanonicalJSON.serialize(.object([
            "mediaType": .string(ModelSigningBundle.mediaType),
            "verificationMaterial": .object([
                "publicKey": .object(["hint": .string(hint ?? ModelSigningBundle.keyHint(for: key.publicKey))]),
                "tlogEntries": .array([]),
            ]),
            "dsseEnvelope": .object([
                "payload": .string(Base64.encode(payload)),
                "payloadType": .string(DSSEEnvelope.inTotoPayloadType),
                "signatures": .array(Array(repeating: signature, count: count)),
            ]),
        ]))
    }

    /// Replaces one member at a path of nested objects.
    static func replacing(_ value: JSONValue, at path: [String], with new: JSONValue?) -> JSONValue {
        guard let key = path.first, case .object(var members) = value else { return new ?? .null }
        if path.count == 1 {
            members[key] = new
        } else {
            members[key] = replacing(members[key] ?? .object([:]), at: Array(path.dropFirst()), with: new)
        }
        return .object(members)
    }

    // MARK: - Layout

    @Test func bundleHasModelSigningLayout() throws {
        let key = try Self.fixedKey()
        let bytes = try ModelSigningBundle.sign(modelName: "tree", files: Self.sampleFiles,
                                                ignorePaths: ["model.sig", ".git/", "./.gitignore"], key: key)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"dsseEnvelope":{"payload":""#), "canonical JSON, keys sorted")
        #expect(try CanonicalJSON.canonicalize(bytes, source: "bundle") == bytes)

        let bundle = try Self.parse(bytes)
        #expect(bundle["mediaType"] == .string("application/vnd.dev.sigstore.bundle.v0.3+json"))
        let hint = SHA256.hash(Array(key.publicKey.pem.utf8)).hex
        #expect(bundle["verificationMaterial"] == .object(["publicKey": .object(["hint": .string(hint)]), "tlogEntries": .array([])]))
        #expect(bundle["dsseEnvelope"]?["payloadType"] == .string("application/vnd.in-toto+json"))
        let signatures = try #require(bundle["dsseEnvelope"]?["signatures"]?.arrayValue)
        #expect(signatures.count == 1)
        #expect(signatures.first?["keyid"] == .string(""))

        let statement = try Self.statement(of: bytes)
        #expect(statement["_type"] == .string("https://in-toto.io/Statement/v1"))
        #expect(statement["predicateType"] == .string("https://model_signing/signature/v1.0"))
        #expect(statement["predicate"]?["serialization"] == .object([
            "method": .string("files"), "hash_type": .string("sha256"), "allow_symlinks": .bool(false),
            "ignore_paths": .array([.string(".git"), .string(".gitignore"), .string("model.sig")]),
        ]))
        // Ignored files are left out; the rest ordered by path component.
        let resources = try #require(statement["predicate"]?["resources"]?.arrayValue)
        let names = resources.compactMap { $0["name"]?.stringValue }
        #expect(names == ["README.md", "a/b", "a-b", "a.b", "empty", "weights/model.bin"])
        #expect(resources.allSatisfy { $0["algorithm"] == .string("sha256") })
        var root = SHA256()
        for name in names {
            let file = try #require(Self.sampleFiles.first { $0.path == name })
            #expect(resources.contains { $0["name"] == .string(name) && $0["digest"] == .string(file.digest.hex) })
            root.update(file.digest.bytes)
        }
        #expect(statement["subject"] == .array([.object(["name": .string("tree"), "digest": .object(["sha256": .string(root.finalize().hex)])])]))
    }

    @Test func sameInputsGiveTheSameBytes() throws {
        let key = try Self.fixedKey()
        let first = try ModelSigningBundle.sign(modelName: "m", files: Self.sampleFiles, ignorePaths: ["model.sig"], key: key)
        let again = try ModelSigningBundle.sign(modelName: "m", files: Self.sampleFiles.reversed(), ignorePaths: ["model.sig", "model.sig"], key: key)
        #expect(first == again)
    }

    @Test func emptyIgnoreListIsLeftOutAsModelSigningDoes() throws {
        let bytes = try ModelSigningBundle.sign(modelName: "m", files: [], ignorePaths: [], key: try Self.fixedKey())
        let statement = try Self.statement(of: bytes)
        #expect(statement["predicate"]?["serialization"]?["ignore_paths"] == nil)
        #expect(statement["predicate"]?["resources"] == .array([]))
        #expect(statement["subject"]?.arrayValue?.first?["digest"]?["sha256"] == .string(SHA256.hash([UInt8]()).hex))
    }

    @Test func signRefusesPathsOutsideTheTree() throws {
        let key = try Self.fixedKey()
        let d = Self.digest("x")
        for path in ["", "/etc/passwd", "../x", "a/../b", "a//b", "a/", "./a", "a/./b"] {
            #expect(throws: FormatsError.self, "file '\(path)'") {
                try ModelSigningBundle.sign(modelName: "m", files: [(path, d)], ignorePaths: [], key: key)
            }
        }
        for ignore in ["", ".", "/", "/abs", "..", "a/../b"] {
            #expect(throws: FormatsError.self, "ignore '\(ignore)'") {
                try ModelSigningBundle.sign(modelName: "m", files: [("a", d)], ignorePaths: [ignore], key: key)
            }
        }
        #expect(throws: FormatsError.self) { try ModelSigningBundle.sign(modelName: "m", files: [("a", d), ("a", d)], ignorePaths: [], key: key) }
        #expect(throws: FormatsError.self) { try ModelSigningBundle.sign(modelName: "a/b", files: [], ignorePaths: [], key: key) }
        #expect(throws: FormatsError.self) { try ModelSigningBundle.sign(modelName: "", files: [], ignorePaths: [], key: key) }
    }

    // MARK: - Verification

    @Test func verifiesOwnBundleAndNamesTheFirstDifference() throws {
        let key = try Self.fixedKey()
        let files = Self.sampleFiles.filter { $0.path != ".git/HEAD" }
        let bundle = try ModelSigningBundle.sign(modelName: "m", files: files, ignorePaths: ["model.sig"], key: key)
        #expect(ModelSigningBundle.failureReason(bundle: bundle, publicKey: key.publicKey, files: files, source: "model.sig") == nil)
        // The ignored file may change freely.
        var resigned = files
        resigned[6] = ("model.sig", Self.digest("new signature"))
        #expect(ModelSigningBundle.failureReason(bundle: bundle, publicKey: key.publicKey, files: resigned, source: "model.sig") == nil)

        var changed = files
        changed[0].digest = Self.digest("tampered")
        #expect(ModelSigningBundle.failureReason(bundle: bundle, publicKey: key.publicKey, files: changed, source: "model.sig")
                == "model.sig: weights/model.bin: sha256 is \(Self.digest("tampered").hex), the bundle lists \(Self.digest("weights").hex)")
        changed[1].digest = Self.digest("tampered")
        #expect(ModelSigningBundle.failureReason(bundle: bundle, publicKey: key.publicKey, files: changed, source: "model.sig")?
            .hasSuffix("(and 1 more file differs)") == true)

        let missing = files.filter { $0.path != "a/b" }
        #expect(ModelSigningBundle.failureReason(bundle: bundle, publicKey: key.publicKey, files: missing, source: "model.sig")
                == "model.sig: a/b: listed in the bundle but missing from the tree")
        let extra = files + [("new.bin", Self.digest("new"))]
        #expect(ModelSigningBundle.failureReason(bundle: bundle, publicKey: key.publicKey, files: extra, source: "model.sig")
                == "model.sig: new.bin: in the tree but not in the bundle")
        // Git files are not skipped unless the bundle says so.
        #expect(ModelSigningBundle.failureReason(bundle: bundle, publicKey: key.publicKey, files: Self.sampleFiles, source: "model.sig")
                == "model.sig: .git/HEAD: in the tree but not in the bundle")
    }

    @Test func refusesOtherKeysAndAlteredBundles() throws {
        let key = try Self.fixedKey(), other = ECDSAP256.PrivateKey()
        let files = [(path: "f", digest: Self.digest("f"))]
        let bytes = try ModelSigningBundle.sign(modelName: "m", files: files, ignorePaths: [], key: key)
        let signer = key.publicKey
        func reason(_ bundle: [UInt8], key: ECDSAP256.PublicKey? = nil) -> String? {
            ModelSigningBundle.failureReason(bundle: bundle, publicKey: key ?? signer, files: files, source: "b")
        }
        #expect(reason(bytes, key: other.publicKey)?.hasPrefix("b: signed by another key: the bundle names key") == true)

        let bundle = try Self.parse(bytes)
        let noHint = CanonicalJSON.serialize(Self.replacing(bundle, at: ["verificationMaterial", "publicKey", "hint"], with: nil))
        #expect(reason(noHint) == nil, "the hint is optional")
        #expect(reason(noHint, key: other.publicKey)?.hasPrefix("b: signature does not verify") == true)

        // One flipped bit anywhere in the payload breaks the signature.
        let encodedPayload = try #require(bundle["dsseEnvelope"]?["payload"]?.stringValue)
        let payload = try #require(Base64.decodeLenient(encodedPayload))
        for index in stride(from: 0, to: payload.count, by: 7) {
            var altered = payload
            altered[index] ^= 0x01
            let tampered = Self.replacing(bundle, at: ["dsseEnvelope", "payload"], with: .string(Base64.encode(altered)))
            #expect(reason(CanonicalJSON.serialize(tampered))?.hasPrefix("b: signature does not verify") == true, "byte \(index)")
        }
        let retyped = Self.replacing(bundle, at: ["mediaType"], with: .string("application/vnd.dev.sigstore.bundle.v0.2+json"))
        #expect(reason(CanonicalJSON.serialize(retyped))?.hasPrefix("b: mediaType is") == true)
        let payloadType = Self.replacing(bundle, at: ["dsseEnvelope", "payloadType"], with: .string("application/json"))
        #expect(reason(CanonicalJSON.serialize(payloadType))?.hasPrefix("b: dsseEnvelope.payloadType is") == true)
        #expect(reason(Array("{".utf8))?.hasPrefix("b: not JSON") == true)
        #expect(reason(Array("[]".utf8)) == "b: bundle must be a JSON object, got array")
    }

    @Test func refusesWellSignedButWrongStatements() throws {
        let key = try Self.fixedKey()
        let files = [(path: "f", digest: Self.digest("f"))]
        let good = try Self.statement(of: try ModelSigningBundle.sign(modelName: "m", files: files, ignorePaths: [], key: key))
        func reason(_ statement: JSONValue, signatures: Int = 1) -> String? {
            ModelSigningBundle.failureReason(bundle: Self.bundle(signing: statement, with: key, signatures: signatures),
                                             publicKey: key.publicKey, files: files, source: "b")
        }
        #expect(reason(good) == nil)
        #expect(reason(good, signatures: 2) == "b: dsseEnvelope has 2 signatures; a model-signing bundle has exactly one")
        #expect(reason(Self.replacing(good, at: ["predicateType"], with: .string("https://model_signing/Digests/v0.1")))?
            .hasPrefix("b: predicateType is") == true)
        #expect(reason(Self.replacing(good, at: ["predicate", "serialization", "method"], with: .string("shards")))
                == "b: serialization method is 'shards'; only 'files' is supported")
        #expect(reason(Self.replacing(good, at: ["predicate", "serialization", "hash_type"], with: .string("blake2")))
                == "b: hash_type is 'blake2'; only 'sha256' is supported")
        #expect(reason(Self.replacing(good, at: ["predicate", "serialization", "ignore_paths"], with: .array([.string(".")])))
                == "b: ignore_paths entry '.' would leave the whole tree unchecked")
        // A resource list that does not hash to the subject digest.
        let wrongRoot = Self.replacing(good, at: ["subject"], with: .array([.object([
            "name": .string("m"), "digest": .object(["sha256": .string(Self.digest("other").hex)]),
        ])]))
        #expect(reason(wrongRoot)?.hasPrefix("b: manifest is inconsistent") == true)
        // An ignore path in the signed predicate hides a file from the check.
        let ignoring = Self.replacing(good, at: ["predicate", "serialization", "ignore_paths"], with: .array([.string("extra/")]))
        #expect(ModelSigningBundle.failureReason(bundle: Self.bundle(signing: ignoring, with: key), publicKey: key.publicKey,
                                                 files: files + [("extra/x", Self.digest("x"))], source: "b") == nil)
    }

    @Test func manifestOrderIsByPathComponent() {
        let names = ["b", "a.b", "a/b/c", "a-b", "a/b", "a", "A", "é", "a/b-c"]
        #expect(names.sorted(by: ModelSigningBundle.manifestOrder) == ["A", "a", "a/b", "a/b/c", "a/b-c", "a-b", "a.b", "b", "é"])
    }

    // MARK: - Interoperability with model_signing 1.1.1

    @Test func modelSigningVerifiesOurBundleAndRejectsAChangedByte() throws {
        let cli = try modelSigningExecutable()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tree = dir.path + "/tree"
        try makeTree(at: tree)
        let key = ECDSAP256.PrivateKey()
        try key.publicKey.pem.write(toFile: dir.path + "/pub.pem", atomically: true, encoding: .utf8)
        let files = try treeFiles(at: tree)
        #expect(files.count == 7)

        // Signature beside the tree.
        let outside = try ModelSigningBundle.sign(modelName: "tree", files: files, ignorePaths: [], key: key)
        try Data(outside).write(to: URL(fileURLWithPath: dir.path + "/model.sig"))
        let verified = try runProcess(cli, ["verify", "key", tree, "--signature", dir.path + "/model.sig", "--public_key", dir.path + "/pub.pem"])
        #expect(verified.status == 0, "model_signing refused our bundle: \(verified.stderr)")
        #expect(verified.stdout.contains("Verification succeeded"))

        // Signature inside the tree, listed in ignore_paths.
        let inside = try ModelSigningBundle.sign(modelName: "tree", files: files, ignorePaths: ["model.sig"], key: key)
        try Data(inside).write(to: URL(fileURLWithPath: tree + "/model.sig"))
        let verifiedInside = try runProcess(cli, ["verify", "key", tree, "--signature", tree + "/model.sig", "--public_key", dir.path + "/pub.pem"])
        #expect(verifiedInside.status == 0, "model_signing refused our in-tree bundle: \(verifiedInside.stderr)")
        #expect(ModelSigningBundle.failureReason(bundle: inside, publicKey: key.publicKey, files: try treeFiles(at: tree), source: "model.sig") == nil)

        // One byte changed in the 1 MiB file.
        try FileManager.default.removeItem(atPath: tree + "/model.sig")
        try flipByte(at: 512 * 1024 + 3, of: tree + "/weights/model.bin")
        let refused = try runProcess(cli, ["verify", "key", tree, "--signature", dir.path + "/model.sig", "--public_key", dir.path + "/pub.pem"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("Hash mismatch for 'weights/model.bin'"), "\(refused.stderr)")
        #expect(ModelSigningBundle.failureReason(bundle: outside, publicKey: key.publicKey, files: try treeFiles(at: tree), source: "model.sig")?
            .hasPrefix("model.sig: weights/model.bin: sha256 is") == true)

        // Another key's public key (the tree restored first).
        try ECDSAP256.PrivateKey().publicKey.pem.write(toFile: dir.path + "/other.pem", atomically: true, encoding: .utf8)
        try flipByte(at: 512 * 1024 + 3, of: tree + "/weights/model.bin")
        let otherKey = try runProcess(cli, ["verify", "key", tree, "--signature", dir.path + "/model.sig", "--public_key", dir.path + "/other.pem"])
        #expect(otherKey.status != 0)
        #expect(otherKey.stderr.contains("Key mismatch"), "\(otherKey.stderr)")
    }

    @Test func weVerifyModelSigningsBundleAndItsPayloadMatchesOurs() throws {
        let cli = try modelSigningExecutable()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let tree = dir.path + "/tree"
        try makeTree(at: tree)
        let generated = try runProcess("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                         "-out", dir.path + "/k.pem"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let signed = try runProcess(cli, ["sign", "key", tree, "--private_key", dir.path + "/k.pem", "--signature", dir.path + "/theirs.sig"])
        #expect(signed.status == 0, "model_signing sign failed: \(signed.stderr)")

        let key = try ECDSAP256.PrivateKey(pem: try String(contentsOfFile: dir.path + "/k.pem", encoding: .utf8), source: "k.pem")
        let theirs = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path + "/theirs.sig")))
        let files = try treeFiles(at: tree)
        #expect(ModelSigningBundle.failureReason(bundle: theirs, publicKey: key.publicKey, files: files, source: "theirs.sig") == nil)
        #expect(try Self.parse(theirs)["verificationMaterial"]?["publicKey"]?["hint"] == .string(ModelSigningBundle.keyHint(for: key.publicKey)))

        // Their statement is ours, up to JSON formatting and the order of
        // ignore_paths (a Python frozenset): the four git paths it skips by default.
        let ours = try ModelSigningBundle.sign(modelName: "tree", files: files,
                                               ignorePaths: [".git", ".gitattributes", ".github", ".gitignore"], key: key)
        var theirStatement = try Self.statement(of: theirs)
        let ignorePath = ["predicate", "serialization", "ignore_paths"]
        let ignored = try #require(theirStatement["predicate"]?["serialization"]?["ignore_paths"]?.arrayValue)
        let sortedIgnored = ignored.compactMap(\.stringValue).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        theirStatement = Self.replacing(theirStatement, at: ignorePath, with: .array(sortedIgnored.map { .string($0) }))
        #expect(CanonicalJSON.serialize(theirStatement) == CanonicalJSON.serialize(try Self.statement(of: ours)))

        // One byte changed: refused, naming the file.
        try flipByte(at: 0, of: tree + "/tokenizer/vocab/merges.txt")
        let reason = ModelSigningBundle.failureReason(bundle: theirs, publicKey: key.publicKey, files: try treeFiles(at: tree), source: "theirs.sig")
        #expect(reason?.hasPrefix("theirs.sig: tokenizer/vocab/merges.txt: sha256 is") == true, "\(reason ?? "accepted")")
    }
}

// MARK: - Helpers (private: other suites in this target may define their own)

/// The package root, from this file's real location (the test may be built
/// through a symlinked copy of the tree).
private let packageRoot: String = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

private struct MissingTool: Error, CustomStringConvertible { let description: String }

/// The model_signing CLI from the package's virtual environment. Missing is a
/// failure, not a skip: the interoperability check is the point of the test.
private func modelSigningExecutable() throws -> String {
    let path = packageRoot + "/.venv/bin/model_signing"
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw MissingTool(description: "model_signing not found at \(path) (model-signing 1.1.1 and pyopenssl in .venv): run scripts/setup")
    }
    return path
}

/// A small model tree: nested folders, an empty file, a 1 MiB file, and
/// names whose order differs by component and by string ("a/b" vs "a-b").
private func makeTree(at root: String) throws {
    var state: UInt64 = 0x5EED
    var big = [UInt8]()
    big.reserveCapacity(1 << 20)
    while big.count < 1 << 20 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        withUnsafeBytes(of: state) { big.append(contentsOf: $0) }
    }
    let files: [(String, [UInt8])] = [
        ("config.json", Array(#"{"architectures":["LlamaForCausalLM"]}"#.utf8)),
        ("weights/model.bin", big),
        ("weights/empty", []),
        ("tokenizer/vocab/merges.txt", Array("a b\nab c\n".utf8)),
        ("docs/a/b.txt", Array("component order\n".utf8)),
        ("docs/a-b.txt", Array("string order\n".utf8)),
        ("README.md", Array("# tree\n".utf8)),
    ]
    for (path, bytes) in files {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }
}

/// Every regular file under `root`: path relative to it and SHA-256.
private func treeFiles(at root: String) throws -> [(path: String, digest: SHA256Digest)] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { throw POSIXError(.ENOENT) }
    var files: [(path: String, digest: SHA256Digest)] = []
    for case let relative as String in walker {
        let full = root + "/" + relative
        let attributes = try FileManager.default.attributesOfItem(atPath: full)
        guard attributes[.type] as? FileAttributeType == .typeRegular else { continue }
        files.append((relative, SHA256.hash([UInt8](try Data(contentsOf: URL(fileURLWithPath: full))))))
    }
    return files
}

private func flipByte(at offset: Int, of path: String) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[offset] ^= 0x01
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
