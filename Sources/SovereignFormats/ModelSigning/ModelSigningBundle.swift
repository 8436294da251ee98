import SovereignCrypto

/// OpenSSF model-signing v1.0 signatures made with a key (`model_signing
/// sign key` / `verify key`, model-signing 1.1.1): a Sigstore bundle v0.3
/// whose DSSE envelope carries an in-toto Statement over a file tree.
///
/// The statement (what model_signing's `signing.Payload` builds):
/// - one subject `{name: <model name>, digest: {sha256: ROOT}}`, ROOT being
///   SHA-256 of the raw file digests concatenated in resource order;
/// - predicate `serialization` `{method: "files", hash_type: "sha256",
///   allow_symlinks: false, ignore_paths: [...]}` (ignore_paths left out
///   when empty, as model_signing does) and `resources`, one
///   `{name, algorithm: "sha256", digest}` per file, ordered as
///   model_signing orders them (by path component, bytewise).
///
/// The bundle: `verificationMaterial.publicKey.hint` is the hex SHA-256 of
/// the public key's SubjectPublicKeyInfo PEM, `tlogEntries` is empty, and
/// the envelope has one signature (empty keyid): DER ECDSA P-256/SHA-256 over
/// DSSE's PAE. model_signing pretty-prints its JSON; ours is canonical
/// (RFC 8785) for both the payload and the bundle, which it reads the same.
public enum ModelSigningBundle {
    public static let mediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
    public static let predicateType = "https://model_signing/signature/v1.0"
    static let serializationMethod = "files"
    static let hashType = "sha256"

    /// The unauthenticated key hint model_signing writes and checks: lowercase
    /// hex SHA-256 of the key's PEM (`-----BEGIN PUBLIC KEY-----…\n`).
    public static func keyHint(for key: ECDSAP256.PublicKey) -> String {
        SHA256.hash(Array(key.pem.utf8)).hex
    }

    // MARK: - Signing

    /// Signs a file tree.
    ///
    /// - Parameters:
    ///   - modelName: the subject name; model_signing uses the tree's
    ///     directory name. Informative only: verifiers do not check it.
    ///   - files: every file of the tree, path relative to the tree root with
    ///     '/' separators, and its SHA-256. Files under `ignorePaths` are left
    ///     out, as model_signing's serializer leaves them out.
    ///   - ignorePaths: paths relative to the tree root (a directory covers
    ///     everything under it), recorded in the predicate so that verifiers
    ///     skip them too; e.g. the signature file itself when it sits in the tree.
    /// - Returns: the bundle, canonical JSON; the same inputs give the same bytes.
    public static func sign(modelName: String, files: [(path: String, digest: SHA256Digest)], ignorePaths: [String],
                            key: ECDSAP256.PrivateKey) throws(FormatsError) -> [UInt8] {
        func fail(_ reason: String) -> FormatsError { FormatsError(source: "model-signing bundle", reason: reason) }
        guard !modelName.isEmpty, !modelName.utf8.contains(0x2F), !modelName.utf8.contains(0) else {
            throw fail("model name '\(modelName)' must be a non-empty file name (no '/')")
        }
        var ignored: [String] = []
        for path in ignorePaths {
            guard let normalised = normalisedIgnorePath(path), isRelativePath(normalised) else {
                throw fail("ignore path '\(path)' must be a relative path inside the tree, without '..'")
            }
            if !ignored.contains(where: { $0.utf8.elementsEqual(normalised.utf8) }) { ignored.append(normalised) }
        }
        ignored.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }

        var seen = Set<[UInt8]>()
        var kept: [(path: String, digest: SHA256Digest)] = []
        for file in files {
            guard isRelativePath(file.path) else {
                throw fail("file path '\(file.path)' must be relative to the tree root, '/'-separated, without empty, '.' or '..' components")
            }
            guard seen.insert(Array(file.path.utf8)).inserted else { throw fail("file '\(file.path)' is listed twice") }
            if !isIgnored(file.path, by: ignored) { kept.append(file) }
        }
        kept.sort { manifestOrder($0.path, $1.path) }

        var root = SHA256()
        for file in kept { root.update(file.digest.bytes) }
        let resources: [JSONValue] = kept.map { file in
            .object(["name": .string(file.path), "algorithm": .string(hashType), "digest": .string(file.digest.hex)])
        }
        var serialization: [String: JSONValue] = [
            "method": .string(serializationMethod), "hash_type": .string(hashType), "allow_symlinks": .bool(false),
        ]
        if !ignored.isEmpty { serialization["ignore_paths"] = .array(ignored.map { .string($0) }) }
        let statement = try InTotoStatement(
            subjects: [.init(name: modelName, digest: [hashType: root.finalize().hex])],
            predicateType: predicateType,
            predicate: .object(["serialization": .object(serialization), "resources": .array(resources)]))

        let payload = statement.canonicalBytes
        let signature = key.signature(for: DSSEEnvelope.pae(payloadType: DSSEEnvelope.inTotoPayloadType, payload: payload))
        let bundle = JSONValue.object([
            "mediaType": .string(mediaType),
            "verificationMaterial": .object([
                "publicKey": .object(["hint": .string(keyHint(for: key.publicKey))]),
                "tlogEntries": .array([]),
            ]),
            "dsseEnvelope": .object([
                "payload": .string(Base64.encode(payload)),
                "payloadType": .string(DSSEEnvelope.inTotoPayloadType),
                "signatures": .array([.object(["sig": .string(Base64.encode(signature)), "keyid": .string("")])]),
            ]),
        ])
        return CanonicalJSON.serialize(bundle)
    }

    // MARK: - Verification

    /// Verifies a bundle against a key and the tree's file digests; returns nil if valid, else the reason.
    ///
    /// Checks what `model_signing verify key` checks, more strictly where it
    /// is lax: media type; the key hint when present; exactly one signature,
    /// valid over PAE(payload); an in-toto Statement with the v1.0 predicate,
    /// one subject whose digest is the root of the listed resources; `files`
    /// serialization with SHA-256; then the listed resources against `files`
    /// (less those under the bundle's `ignore_paths`): same names, same
    /// digests, nothing missing, nothing extra. Unlike model_signing's CLI,
    /// git files (.git, .gitignore, …) are not skipped unless the bundle
    /// lists them: leave them out of `files` if the tree may have them.
    public static func failureReason(bundle: [UInt8], publicKey: ECDSAP256.PublicKey,
                                     files: [(path: String, digest: SHA256Digest)], source: String) -> String? {
        do {
            try check(bundle: bundle, publicKey: publicKey, files: files, source: source)
            return nil
        } catch {
            return "\(source): \(error.reason)"
        }
    }

    /// The Sigstore bundle is protobuf JSON: unknown fields are ignored and
    /// an optional `null` is absent, as protobuf's JSON mapping reads them.
    static let bundleMode = JSONObjectReader.Mode.ignoringUnknownFields.readingNullAsAbsent

    private static func check(bundle: [UInt8], publicKey: ECDSAP256.PublicKey,
                              files: [(path: String, digest: SHA256Digest)], source: String) throws(FormatsError) {
        func fail(_ reason: String) -> FormatsError { FormatsError(source: source, reason: reason) }

        // The Sigstore bundle, its DSSE envelope and the envelope's one signature.
        let document: JSONValue
        do { document = try JSONParser.parse(bundle, source: source) } catch { throw fail("not JSON: \(error.reason)") }
        let (payloadType, payload, signature) = try JSONObjectReader.read(document, source: source, mode: bundleMode,
                                                                          what: "bundle") { top throws(FormatsError) in
            let type = try top.string("mediaType")
            guard type == mediaType else { throw fail("mediaType is '\(type)', expected '\(mediaType)'") }
            try top.object("verificationMaterial") { material throws(FormatsError) in
                try material.object("publicKey") { keyIdentifier throws(FormatsError) in
                    guard let hint = try keyIdentifier.optionalString("hint") else { return }
                    let expected = keyHint(for: publicKey)
                    guard hint.isEmpty || hint == expected else {
                        throw fail("signed by another key: the bundle names key \(hint), the given public key is \(expected)")
                    }
                }
            }
            return try top.object("dsseEnvelope") { envelope throws(FormatsError) in
                let payloadType = try envelope.string("payloadType")
                guard payloadType == DSSEEnvelope.inTotoPayloadType else {
                    throw fail("dsseEnvelope.payloadType is '\(payloadType)', expected '\(DSSEEnvelope.inTotoPayloadType)'")
                }
                guard let payload = Base64.decodeLenient(try envelope.string("payload")) else {
                    throw envelope.error("payload", "is not base64")
                }
                let signatures = try envelope.objects("signatures") { signature throws(FormatsError) in
                    guard let sig = Base64.decodeLenient(try signature.string("sig")) else { throw signature.error("sig", "is not base64") }
                    return sig
                }
                guard signatures.count == 1, let signature = signatures.first else {
                    throw fail("dsseEnvelope has \(signatures.count) signatures; a model-signing bundle has exactly one")
                }
                return (payloadType, payload, signature)
            }
        }
        let pae = DSSEEnvelope.pae(payloadType: payloadType, payload: payload)
        guard publicKey.isValidSignature(signature, for: pae) else {
            throw fail("signature does not verify with the given public key (bundle altered, or signed by another key)")
        }

        // The signed statement.
        let statement: InTotoStatement
        do { statement = try InTotoStatement(parsing: payload, source: "payload") } catch {
            throw fail("signed payload: \(error.reason)")
        }
        guard statement.predicateType == predicateType else {
            throw fail("predicateType is '\(statement.predicateType)', expected '\(predicateType)'")
        }
        guard statement.subjects.count == 1, let rootHex = statement.subjects[0].digest[hashType] else {
            throw fail("the statement must have exactly one subject with a sha256 digest")
        }
        // The predicate, read as the in-toto rules say: unknown fields ignored.
        let (ignored, resources) = try JSONObjectReader.read(statement.predicate ?? .null, source: source, path: "predicate",
                                                             mode: .ignoringUnknownFields) { predicate throws(FormatsError) in
            let ignored = try predicate.object("serialization") { serialization throws(FormatsError) in
                let method = try serialization.string("method")
                guard method == serializationMethod else {
                    throw fail("serialization method is '\(method)'; only '\(serializationMethod)' is supported")
                }
                let hash = try serialization.string("hash_type")
                guard hash == hashType else { throw fail("hash_type is '\(hash)'; only '\(hashType)' is supported") }
                _ = try serialization.bool("allow_symlinks")
                var ignored: [String] = []
                for path in try serialization.optionalStrings("ignore_paths") ?? [] {
                    // model_signing skips entries outside the tree (absolute ones).
                    if path.hasPrefix("/") { continue }
                    guard let normalised = normalisedIgnorePath(path) else {
                        throw fail("ignore_paths entry '\(path)' would leave the whole tree unchecked")
                    }
                    ignored.append(normalised)
                }
                return ignored
            }
            let resources = try predicate.objects("resources") { resource throws(FormatsError) in
                let name = try resource.string("name")
                let algorithm = try resource.string("algorithm")
                guard algorithm == hashType else { throw resource.error("algorithm", "is '\(algorithm)', expected '\(hashType)'") }
                return (path: name, digest: try resource.sha256("digest"))
            }
            return (ignored, resources)
        }

        // The manifest: resources in order, and their root.
        var expected: [[UInt8]: (path: String, digest: SHA256Digest)] = [:]
        var root = SHA256()
        for resource in resources {
            guard expected.updateValue(resource, forKey: Array(resource.path.utf8)) == nil else {
                throw fail("resource '\(resource.path)' is listed twice")
            }
            root.update(resource.digest.bytes)
        }
        let computedRoot = root.finalize().hex
        guard computedRoot == rootHex else {
            throw fail("manifest is inconsistent: the subject digest is \(rootHex), the listed resources hash to \(computedRoot)")
        }

        // The tree against the manifest.
        var actual: [[UInt8]: (path: String, digest: SHA256Digest)] = [:]
        for file in files where !isIgnored(file.path, by: ignored) {
            guard actual.updateValue(file, forKey: Array(file.path.utf8)) == nil else {
                throw fail("the tree's file list names '\(file.path)' twice")
            }
        }
        let differing = expected.values.filter { entry in
            actual[Array(entry.path.utf8)].map { $0.digest != entry.digest } ?? false
        }.sorted { manifestOrder($0.path, $1.path) }
        if let first = differing.first, let found = actual[Array(first.path.utf8)] {
            throw fail("\(first.path): sha256 is \(found.digest.hex), the bundle lists \(first.digest.hex)"
                + more(differing.count - 1, "file differs", "files differ"))
        }
        let missing = expected.values.filter { actual[Array($0.path.utf8)] == nil }.map(\.path).sorted(by: manifestOrder)
        if let first = missing.first {
            throw fail("\(first): listed in the bundle but missing from the tree" + more(missing.count - 1, "file is missing", "files are missing"))
        }
        let extra = actual.values.filter { expected[Array($0.path.utf8)] == nil }.map(\.path).sorted(by: manifestOrder)
        if let first = extra.first {
            throw fail("\(first): in the tree but not in the bundle" + more(extra.count - 1, "file is unsigned", "files are unsigned"))
        }
    }

    private static func more(_ count: Int, _ singular: String, _ plural: String) -> String {
        count == 0 ? "" : " (and \(count) more \(count == 1 ? singular : plural))"
    }

    // MARK: - Paths

    /// model_signing sorts resources by `PurePosixPath`: component by
    /// component, each compared by code point (the same as by UTF-8 bytes).
    /// Mapping '/' to 0x00 gives that order with one byte comparison, since
    /// names hold no NUL and no empty components: "a/b" < "a-b" < "a.b".
    static func manifestOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lazy.map { $0 == 0x2F ? 0 : $0 }.lexicographicallyPrecedes(b.utf8.lazy.map { $0 == 0x2F ? 0 : $0 })
    }

    /// A path's components split on the byte 0x2F, never on Swift
    /// Characters: "/" followed by a combining mark is one Character, so a
    /// Character split would hide a ".." component from this check.
    static func byteComponents(_ path: String) -> [[UInt8]] {
        Array(path.utf8).split(separator: 0x2F, omittingEmptySubsequences: false).map(Array.init)
    }

    /// A tree-relative path as model_signing writes it: no leading '/', no
    /// empty, '.' or '..' component, no NUL.
    static func isRelativePath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.utf8.contains(0) else { return false }
        return byteComponents(path).allSatisfy { !$0.isEmpty && $0 != [0x2E] && $0 != [0x2E, 0x2E] }
    }

    /// An ignore path as `pathlib` reads it ("./a//b/" is "a/b"); nil when
    /// absolute or when nothing is left (it would cover the whole tree).
    static func normalisedIgnorePath(_ path: String) -> String? {
        guard path.utf8.first != 0x2F else { return nil }
        let components = byteComponents(path).filter { !$0.isEmpty && $0 != [0x2E] }
        return components.isEmpty ? nil : String(decoding: Array(components.joined(separator: [0x2F])), as: UTF8.self)
    }

    /// Whether `path` is `prefix` or lies under it, compared bytewise.
    static func isIgnored(_ path: String, by prefixes: [String]) -> Bool {
        let bytes = Array(path.utf8)
        return prefixes.contains { prefix in
            let p = Array(prefix.utf8)
            return bytes == p || (bytes.count > p.count && bytes.starts(with: p) && bytes[p.count] == 0x2F)
        }
    }
}
