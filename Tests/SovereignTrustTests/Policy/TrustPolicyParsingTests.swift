import SovereignCrypto
import SovereignFormats
import Testing
@testable import SovereignTrust

@Suite struct TrustPolicyParsingTests {
    /// Two release keys (B is also a certifier), everything set.
    static func document() throws -> [String: JSONValue] {
        let a = try Fixture.key(1).publicKey, b = try Fixture.key(2).publicKey
        return [
            "schema": .string("sovereign.trust-policy/v1"),
            "comment": .string("test policy"),
            "keys": .array([
                .object(["keyid": .string(a.keyID), "publicKey": .string(Base64.encode(a.rawRepresentation)),
                         "roles": .array([.string("release")]), "comment": .string("release engineer A")]),
                .object(["keyid": .string(b.keyID), "publicKey": .string(Base64.encode(b.rawRepresentation)),
                         "roles": .array([.string("certifier"), .string("release")]), "expires": .string("2027-01-01T00:00:00Z")]),
            ]),
            "revokedKeys": .array([.string(SHA256.hash(Array("old key".utf8)).hex)]),
            "thresholds": .object(["release": .integer(2), "certifier": .integer(1)]),
            "minimumSequence": .integer(3),
            "allowedModels": .array([.string(Fixture.model.hex)]),
            "certificationEngines": .array([.string("embedded"), .string("openai:northmoor-8b")]),
            "requiredPredicates": .array([.string(Fixture.provenance), .string(Fixture.sbom)]),
            "expires": .string("2027-01-01T00:00:00Z"),
            "allowDowngrade": .bool(false),
        ]
    }

    static func parse(_ members: [String: JSONValue]) throws -> TrustPolicy {
        try TrustPolicy(parsing: CanonicalJSON.serialize(.object(members)), source: "policy.json")
    }

    /// The reason parsing gives, or nil if it parses.
    static func reason(_ edit: (inout [String: JSONValue]) throws -> Void) throws -> String? {
        var members = try document()
        try edit(&members)
        do throws(TrustError) {
            _ = try TrustPolicy(parsing: CanonicalJSON.serialize(.object(members)), source: "policy.json")
            return nil
        } catch {
            #expect(error.source == "policy.json")
            return error.reason
        }
    }

    /// Replaces field `field` of keys[index].
    static func editKey(_ members: inout [String: JSONValue], _ index: Int, _ field: String, _ value: JSONValue?) {
        guard case .array(var keys)? = members["keys"], case .object(var key) = keys[index] else { return }
        key[field] = value
        keys[index] = .object(key)
        members["keys"] = .array(keys)
    }

    // MARK: - Good

    @Test func readsEveryField() throws {
        let policy = try Self.parse(try Self.document())
        let a = try Fixture.key(1).publicKey, b = try Fixture.key(2).publicKey
        #expect(policy.keys.map(\.keyID) == [a.keyID, b.keyID])
        #expect(policy.keys[0].roles == [.release])
        #expect(policy.keys[0].comment == "release engineer A")
        #expect(policy.keys[0].expires == nil)
        #expect(policy.keys[1].roles == [.release, .certifier])
        #expect(policy.keys[1].expires == Fixture.nextNewYear)
        #expect(policy.thresholds == [.release: 2, .certifier: 1])
        #expect(policy.minimumSequence == 3)
        #expect(policy.allowedModels == [Fixture.model])
        #expect(policy.certificationEngines == ["embedded", "openai:northmoor-8b"])
        #expect(policy.requiredPredicates == [Fixture.provenance, Fixture.sbom])
        #expect(policy.expires == Fixture.nextNewYear)
        #expect(policy.allowDowngrade == false)
        #expect(policy.revokedKeys.count == 1)
        #expect(policy.comment == "test policy")
    }

    @Test func appliesDefaultsToOmittedFields() throws {
        var members = try Self.document()
        for field in ["comment", "revokedKeys", "minimumSequence", "allowedModels", "certificationEngines", "requiredPredicates", "expires",
                      "allowDowngrade"] {
            members[field] = nil
        }
        let policy = try Self.parse(members)
        #expect(policy.revokedKeys == [])
        #expect(policy.minimumSequence == 0)
        #expect(policy.allowedModels == nil)
        #expect(policy.certificationEngines == nil)
        #expect(policy.requiredPredicates == ["https://slsa.dev/provenance/v1"])
        #expect(policy.expires == nil)
        #expect(policy.allowDowngrade == false)
        #expect(policy.comment == nil)
    }

    @Test func roundTripsThroughItsFileForm() throws {
        let policy = try Self.parse(try Self.document())
        let bytes = policy.fileBytes()
        let reread = try TrustPolicy(parsing: bytes, source: "written.json")
        #expect(reread == policy)
        #expect(reread.fileBytes() == bytes)
        #expect(reread.fileDigest == SHA256.hash(bytes))
        #expect(bytes.last == 0x0A)
        // Human-edited form: indented, sorted, schema spelled out.
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\n  \"allowDowngrade\": false,\n  \"allowedModels\": [\n    \""))
        #expect(text.contains("\n  \"schema\": \"sovereign.trust-policy/v1\",\n"))
    }

    @Test func roundTripsAPolicyBuiltInCode() throws {
        let policy = try TrustPolicy(keys: [Fixture.trusted(try Fixture.key(7), [.release, .certifier], expires: Fixture.nextNewYear)],
                                     thresholds: [.release: 1, .certifier: 1])
        #expect(try TrustPolicy(parsing: policy.fileBytes(), source: "p") == policy)
        #expect(policy.json()["allowedModels"] == nil)
        #expect(policy.json()["revokedKeys"] == .array([]))
        #expect(policy.json()["keys"]?.arrayValue?.first?["roles"] == .array([.string("release"), .string("certifier")]))
    }

    // MARK: - Malformed, each with its message

    @Test func refusesAnUnknownField() throws {
        #expect(try Self.reason { $0["threshold"] = .integer(1) } == "unknown field 'threshold'")
    }

    @Test func refusesAnUnknownFieldInAKey() throws {
        #expect(try Self.reason { Self.editKey(&$0, 1, "role", .string("release")) } == "unknown field 'keys[1].role'")
    }

    @Test func refusesAnUnknownRoleInThresholds() throws {
        #expect(try Self.reason { $0["thresholds"] = .object(["release": .integer(1), "admin": .integer(1)]) }
                == "unknown field 'thresholds.admin'")
    }

    @Test func refusesAKeyIDThatIsNotTheKeys() throws {
        let a = try Fixture.key(1).publicKey, b = try Fixture.key(2).publicKey
        #expect(try Self.reason { Self.editKey(&$0, 0, "keyid", .string(b.keyID)) }
                == "keys[0].keyid: is \(b.keyID), but the public key's key id is \(a.keyID)")
    }

    @Test func refusesAThresholdAboveTheNumberOfKeys() throws {
        #expect(try Self.reason { $0["thresholds"] = .object(["release": .integer(3)]) }
                == "thresholds.release: 3 is more than the 2 unrevoked keys with role 'release'")
        #expect(try Self.reason { $0["thresholds"] = .object(["release": .integer(1), "certifier": .integer(2)]) }
                == "thresholds.certifier: 2 is more than the 1 unrevoked key with role 'certifier'")
    }

    @Test func countsOnlyUnrevokedKeysTowardsAThreshold() throws {
        let a = try Fixture.key(1).publicKey
        #expect(try Self.reason { $0["revokedKeys"] = .array([.string(a.keyID)]) }
                == "thresholds.release: 2 is more than the 1 unrevoked key with role 'release'")
    }

    static let malformed: [(String, @Sendable (inout [String: JSONValue]) throws -> Void, String)] = [
        ("wrong schema", { $0["schema"] = .string("sovereign.trust-policy/v2") },
         "schema: is 'sovereign.trust-policy/v2', expected 'sovereign.trust-policy/v1'"),
        ("no schema", { $0["schema"] = nil }, "missing field 'schema'"),
        ("no keys", { $0["keys"] = nil }, "missing field 'keys'"),
        ("empty keys", { $0["keys"] = .array([]) }, "keys: must list at least one key"),
        ("keys not an array", { $0["keys"] = .object([:]) }, "keys: must be an array, got object"),
        ("key not an object", { $0["keys"] = .array([.string("x")]) }, "keys[0]: must be an object, got string"),
        ("uppercase keyid", { TrustPolicyParsingTests.editKey(&$0, 0, "keyid", .string(String(repeating: "A", count: 64))) },
         "keys[0].keyid: must be 64 lowercase hex characters (the SHA-256 of the raw public key), got '\(String(repeating: "A", count: 64))'"),
        ("no keyid", { TrustPolicyParsingTests.editKey(&$0, 0, "keyid", nil) }, "missing field 'keys[0].keyid'"),
        ("short public key", { TrustPolicyParsingTests.editKey(&$0, 0, "publicKey", .string(Base64.encode([UInt8](repeating: 1, count: 31)))) },
         "keys[0].publicKey: must be a raw 32-byte Ed25519 public key in standard padded base64 (44 characters)"),
        ("PEM public key", { TrustPolicyParsingTests.editKey(&$0, 0, "publicKey", .string(PublicKeyFile.pem(try Fixture.key(1).publicKey))) },
         "keys[0].publicKey: must be a raw 32-byte Ed25519 public key in standard padded base64 (44 characters) (PEM is not accepted here: 'sovereign key show' prints the base64 form as publicKey)"),
        ("no roles", { TrustPolicyParsingTests.editKey(&$0, 0, "roles", nil) }, "missing field 'keys[0].roles'"),
        ("empty roles", { TrustPolicyParsingTests.editKey(&$0, 0, "roles", .array([])) },
         "keys[0].roles: must list at least one role ('release', 'certifier', 'policyAuthor')"),
        ("unknown role", { TrustPolicyParsingTests.editKey(&$0, 0, "roles", .array([.string("admin")])) },
         "keys[0].roles[0]: must be 'release', 'certifier' or 'policyAuthor', got 'admin'"),
        ("role twice", { TrustPolicyParsingTests.editKey(&$0, 1, "roles", .array([.string("release"), .string("release")])) },
         "keys[1].roles[1]: 'release' is listed twice"),
        ("bad key expiry", { TrustPolicyParsingTests.editKey(&$0, 1, "expires", .string("2026-13-01T00:00:00Z")) },
         "keys[1].expires: must be an RFC 3339 UTC time like 2026-01-02T03:04:05Z, got '2026-13-01T00:00:00Z'"),
        ("comment not a string", { TrustPolicyParsingTests.editKey(&$0, 0, "comment", .integer(1)) },
         "keys[0].comment: must be a string, got number"),
        ("same key twice", { members in
            guard case .array(let keys)? = members["keys"] else { return }
            members["keys"] = .array(keys + [keys[0]])
         }, "keys[2]: key \(Fixture.publicKeyID(1)) is already listed as keys[0]"),
        ("no thresholds", { $0["thresholds"] = nil }, "missing field 'thresholds'"),
        ("no release threshold", { $0["thresholds"] = .object(["certifier": .integer(1)]) },
         "thresholds.release: missing (how many distinct release keys must sign an image)"),
        ("zero threshold", { $0["thresholds"] = .object(["release": .integer(0)]) }, "thresholds.release: must be at least 1, got 0"),
        ("threshold as text", { $0["thresholds"] = .object(["release": .string("2")]) }, "thresholds.release: must be an integer, got string"),
        ("revoked key id not hex", { $0["revokedKeys"] = .array([.string("nope")]) },
         "revokedKeys[0]: must be a key id (64 lowercase hex characters), got 'nope'"),
        ("revoked twice", { $0["revokedKeys"] = .array([.string(Fixture.model.hex), .string(Fixture.model.hex)]) },
         "revokedKeys[1]: key \(Fixture.model.hex) is listed twice"),
        ("negative minimum sequence", { $0["minimumSequence"] = .integer(-1) }, "minimumSequence: must be 0 or more, got -1"),
        ("fractional minimum sequence", { $0["minimumSequence"] = .number(1.5) }, "minimumSequence: must be an integer, got number"),
        ("empty allowed models", { $0["allowedModels"] = .array([]) },
         "allowedModels: must list at least one model digest (leave the field out to allow any model)"),
        ("prefixed model digest", { $0["allowedModels"] = .array([.string(Fixture.model.prefixed)]) },
         "allowedModels[0]: must be a SHA-256 digest (64 lowercase hex characters), got '\(Fixture.model.prefixed)'"),
        ("model listed twice", { $0["allowedModels"] = .array([.string(Fixture.model.hex), .string(Fixture.model.hex)]) },
         "allowedModels[1]: \(Fixture.model.hex) is listed twice"),
        ("no required predicates", { $0["requiredPredicates"] = .array([]) },
         "requiredPredicates: must list at least one predicate type (the release signatures are counted on these attestations)"),
        ("predicate twice", { $0["requiredPredicates"] = .array([.string(Fixture.sbom), .string(Fixture.sbom)]) },
         "requiredPredicates[1]: '\(Fixture.sbom)' is listed twice"),
        ("predicate with a space", { $0["requiredPredicates"] = .array([.string("slsa provenance")]) },
         "requiredPredicates[0]: must be a predicate type URI without spaces, got 'slsa provenance'"),
        ("date without time", { $0["expires"] = .string("2027-01-01") },
         "expires: must be an RFC 3339 UTC time like 2026-01-02T03:04:05Z, got '2027-01-01'"),
        ("downgrade as text", { $0["allowDowngrade"] = .string("no") }, "allowDowngrade: must be true or false, got string"),
        ("no certification engines", { $0["certificationEngines"] = .array([]) },
         "certificationEngines: must list at least one engine (leave the field out to accept any)"),
        ("unknown engine kind", { $0["certificationEngines"] = .array([.string("vllm:x")]) },
         "certificationEngines[0]: must be 'embedded' or 'openai:<model id>' (printable ASCII, no spaces), got 'vllm:x'"),
        ("remote engine without a model", { $0["certificationEngines"] = .array([.string("openai:")]) },
         "certificationEngines[0]: must be 'embedded' or 'openai:<model id>' (printable ASCII, no spaces), got 'openai:'"),
        ("engine twice", { $0["certificationEngines"] = .array([.string("embedded"), .string("embedded")]) },
         "certificationEngines[1]: 'embedded' is listed twice"),
        ("engines without certifiers", {
            $0["certificationEngines"] = .array([.string("embedded")])
            $0["thresholds"] = .object(["release": .integer(2)])
        }, "certificationEngines: needs thresholds.certifier (without certifiers there is no certification to restrict)"),
    ]

    @Test(arguments: malformed.indices)
    func refusesMalformedPolicy(case index: Int) throws {
        let (name, edit, expected) = Self.malformed[index]
        #expect(try Self.reason(edit) == expected, "\(name)")
    }

    @Test func refusesADocumentThatIsNotAnObject() {
        #expect(throws: TrustError(source: "p", reason: "a trust policy must be a JSON object, got array")) {
            try TrustPolicy(parsing: Array("[]".utf8), source: "p")
        }
    }

    @Test func refusesInvalidJSON() {
        #expect(throws: TrustError.self) { try TrustPolicy(parsing: Array("{\"schema\":".utf8), source: "p") }
    }

    @Test func refusesAnExpiryItCannotWrite() throws {
        #expect(throws: TrustError(source: "trust policy", reason: "expires: 253402300800 is outside the years 0000–9999")) {
            try TrustPolicy(keys: [Fixture.trusted(try Fixture.key(1))], thresholds: [.release: 1], expires: 253_402_300_800)
        }
    }
}

extension Fixture {
    static func publicKeyID(_ n: UInt8) -> String {
        (try? key(n).publicKey.keyID) ?? "?"
    }
}
