import SovereignCrypto
import Testing
@testable import SovereignFormats

@Suite struct JSONObjectReaderTests {
    static let digest = String(repeating: "ab", count: 32)

    /// A schema of our own, read strictly: name, retries, files, labels.
    struct Spec: JSONObjectDecodable, Equatable {
        struct File: JSONObjectDecodable, Equatable {
            static let jsonReadingMode = JSONObjectReader.Mode.strict
            var path: String
            var sha256: SHA256Digest
            var size: Int64
            init(reading reader: inout JSONObjectReader) throws(FormatsError) {
                path = try reader.nonEmptyString("path")
                sha256 = try reader.sha256("sha256")
                size = try reader.integer("size", in: 0...Int64.max)
            }
        }

        static let jsonReadingMode = JSONObjectReader.Mode.strict
        var name: String
        var retries: Int64
        var verbose: Bool?
        var builderID: String
        var files: [File]
        var tags: [String]
        var labels: [String: String]

        init(reading reader: inout JSONObjectReader) throws(FormatsError) {
            name = try reader.nonEmptyString("name")
            retries = try reader.integer("retries", in: 1...16)
            verbose = try reader.optionalBool("verbose")
            builderID = try reader.object("runDetails") { run throws(FormatsError) in
                try run.object("builder") { builder throws(FormatsError) in try builder.nonEmptyString("id") }
            }
            files = try reader.decodeArray(File.self, "files")
            tags = try reader.optionalStrings("tags") ?? []
            labels = try reader.optionalStringMap("labels") ?? [:]
        }
    }

    /// The same schema with unknown fields ignored.
    struct LenientSpec: JSONObjectDecodable {
        static let jsonReadingMode = JSONObjectReader.Mode.ignoringUnknownFields
        var spec: Spec
        init(reading reader: inout JSONObjectReader) throws(FormatsError) { spec = try Spec(reading: &reader) }
    }

    static let good: JSONValue = .object([
        "name": .string("appliance"), "retries": .integer(3), "verbose": .bool(true),
        "runDetails": .object(["builder": .object(["id": .string("https://example.com/builder")])]),
        "files": .array((0..<4).map { index in
            .object(["path": .string("f\(index)"), "sha256": .string(digest), "size": .integer(Int64(index))])
        }),
        "tags": .array([.string("a"), .string("")]),
        "labels": .object(["team": .string("release")]),
    ])

    /// `good` with the value at `path` replaced (nil removes it).
    static func editing(_ path: [JSONStep], _ value: JSONValue?) -> [UInt8] {
        CanonicalJSON.serialize(good.setting(path, to: value))
    }

    static func reason(_ bytes: [UInt8]) -> String? {
        do { _ = try StrictJSON.decode(Spec.self, from: bytes, source: "s.json"); return nil } catch { return error.reason }
    }

    static func lenientReason(_ bytes: [UInt8]) -> String? {
        do { _ = try StrictJSON.decode(LenientSpec.self, from: bytes, source: "s.json"); return nil } catch { return error.reason }
    }

    // MARK: - Both modes

    @Test func readsEveryTypedField() throws {
        let spec = try StrictJSON.decode(Spec.self, from: CanonicalJSON.serialize(Self.good), source: "s.json")
        #expect(spec.name == "appliance")
        #expect(spec.retries == 3)
        #expect(spec.verbose == true)
        #expect(spec.builderID == "https://example.com/builder")
        #expect(spec.files.map(\.path) == ["f0", "f1", "f2", "f3"])
        #expect(spec.files[3].sha256.hex == Self.digest)
        #expect(spec.tags == ["a", ""])
        #expect(spec.labels == ["team": "release"])
        #expect(try StrictJSON.decode(LenientSpec.self, from: Self.good, source: "s.json").spec == spec)
    }

    /// The lenient reader ignores them, except inside `File`, a type that
    /// reads itself strictly wherever it appears.
    @Test(arguments: [
        ([JSONStep.key("nmae")], "unknown field 'nmae'", nil),
        ([.key("runDetails"), .key("builder"), .key("idd")], "unknown field 'runDetails.builder.idd'", nil),
        ([.key("runDetails"), .key("metadata")], "unknown field 'runDetails.metadata'", nil),
        ([.key("files"), .index(3), .key("sha265")], "unknown field 'files[3].sha265'", "unknown field 'files[3].sha265'"),
    ] as [([JSONStep], String, String?)])
    func strictModeRefusesAnUnknownFieldByItsPath(path: [JSONStep], reason: String, lenientReason: String?) {
        let bytes = Self.editing(path, .string("x"))
        #expect(Self.reason(bytes) == reason)
        #expect(Self.lenientReason(bytes) == lenientReason)
    }

    @Test func reportsTheFirstUnknownFieldInKeyOrder() {
        let bytes = CanonicalJSON.serialize(Self.good.setting(["zeta"], to: .null).setting(["alpha"], to: .null))
        #expect(Self.reason(bytes) == "unknown field 'alpha'")
    }

    @Test(arguments: [
        ([JSONStep.key("name")], "missing field 'name'"),
        ([.key("runDetails"), .key("builder"), .key("id")], "missing field 'runDetails.builder.id'"),
        ([.key("files"), .index(3), .key("sha256")], "missing field 'files[3].sha256'"),
        ([.key("files")], "missing field 'files'"),
    ])
    func namesAMissingFieldByItsFullPath(path: [JSONStep], reason: String) {
        let bytes = Self.editing(path, nil)
        #expect(Self.reason(bytes) == reason)
        #expect(Self.lenientReason(bytes) == reason, "required in both modes")
    }

    @Test(arguments: [
        ([JSONStep.key("name")], JSONValue.integer(7), "name: must be a string, got number"),
        ([.key("name")], .string(""), "name: must not be empty"),
        ([.key("retries")], .number(1.5), "retries: must be an integer, got number"),
        ([.key("retries")], .string("3"), "retries: must be an integer, got string"),
        ([.key("verbose")], .string("yes"), "verbose: must be true or false, got string"),
        ([.key("runDetails")], .array([]), "runDetails: must be an object, got array"),
        ([.key("runDetails"), .key("builder")], .string("b"), "runDetails.builder: must be an object, got string"),
        ([.key("files")], .object([:]), "files: must be an array, got object"),
        ([.key("files"), .index(1)], .string("f"), "files[1]: must be an object, got string"),
        ([.key("files"), .index(2), .key("sha256")], .string(String(repeating: "AB", count: 32)),
         "files[2].sha256: must be a SHA-256 digest (64 lowercase hex characters), got '\(String(repeating: "AB", count: 32))'"),
        ([.key("tags"), .index(1)], .integer(2), "tags[1]: must be a string, got number"),
        ([.key("labels"), .key("team")], .bool(true), "labels.team: must be a string, got boolean"),
    ])
    func refusesAValueOfTheWrongTypeByItsPath(path: [JSONStep], value: JSONValue, reason: String) {
        let bytes = Self.editing(path, value)
        #expect(Self.reason(bytes) == reason)
        #expect(Self.lenientReason(bytes) == reason, "types are checked in both modes")
    }

    @Test(arguments: [
        (Int64(0), "retries: must be between 1 and 16, got 0"),
        (17, "retries: must be between 1 and 16, got 17"),
        (-9_223_372_036_854_775_808, "retries: must be between 1 and 16, got -9223372036854775808"),
    ])
    func refusesAnIntegerOutsideItsRange(value: Int64, reason: String) {
        #expect(Self.reason(Self.editing([.key("retries")], .integer(value))) == reason)
    }

    @Test func acceptsTheBoundsOfARange() throws {
        for value: Int64 in [1, 16] {
            #expect(Self.reason(Self.editing([.key("retries")], .integer(value))) == nil)
        }
        #expect(Self.reason(Self.editing([.key("files"), .index(0), .key("size")], .integer(-1)))
                == "files[0].size: must be 0 or more, got -1")
        #expect(Self.reason(Self.editing([.key("files"), .index(0), .key("size")], .integer(.max))) == nil)
    }

    @Test func refusesAnIntegerTooLargeForInt64() {
        // The parser keeps it as a double, so it is not an integer.
        #expect(throws: FormatsError(source: "n", reason: "retries: must be an integer, got number")) {
            try JSONObjectReader.read(parsing: Array(#"{"retries": 9223372036854775808}"#.utf8), source: "n", mode: .strict) {
                r throws(FormatsError) in try r.integer("retries")
            }
        }
    }

    @Test func duplicateKeysAreRefusedByTheParser() {
        let text = #"{"name":"a","retries":3,"name":"b"}"#
        #expect(throws: FormatsError(source: "s.json", reason: "invalid JSON at line 1, column 25: duplicate key 'name'")) {
            try StrictJSON.decode(Spec.self, from: Array(text.utf8), source: "s.json")
        }
        #expect(throws: FormatsError(source: "s.json", reason: "invalid JSON at line 1, column 25: duplicate key 'name'")) {
            try StrictJSON.decode(LenientSpec.self, from: Array(text.utf8), source: "s.json")
        }
    }

    @Test func refusesARootThatIsNotAnObject() {
        #expect(Self.reason(Array("[1]".utf8)) == "the document must be a JSON object, got array")
        #expect(throws: FormatsError(source: "p", reason: "a trust policy must be a JSON object, got string")) {
            try JSONObjectReader.read(.string("x"), source: "p", mode: .strict, what: "a trust policy") { _ throws(FormatsError) in 0 }
        }
        #expect(throws: FormatsError(source: "p", reason: "images.sha256:ab: must be an object, got null")) {
            try JSONObjectReader(.null, source: "p", path: "images.sha256:ab")
        }
    }

    // MARK: - null

    @Test func nullIsAValueOfTheWrongTypeUnlessTheModeReadsItAsAbsent() throws {
        let bytes = Self.editing([.key("verbose")], .null)
        #expect(Self.reason(bytes) == "verbose: must be true or false, got null")
        #expect(Self.lenientReason(bytes) == "verbose: must be true or false, got null")

        let document: JSONValue = .object(["a": .null, "b": .null, "c": .null, "d": .null, "e": .null, "f": .null])
        let absent = try JSONObjectReader.read(document, source: "n", mode: .ignoringUnknownFields.readingNullAsAbsent) { r throws(FormatsError) in
            [try r.optionalString("a") == nil, try r.optionalInteger("b") == nil, try r.optionalStringMap("c") == nil,
             try r.optionalStrings("d") == nil, try r.optionalObject("e") { _ throws(FormatsError) in 1 } == nil, !r.has("f")]
        }
        #expect(absent == [true, true, true, true, true, true])
        #expect(throws: FormatsError(source: "n", reason: "a: must be a string, got null"), "a required field is never null") {
            try JSONObjectReader.read(document, source: "n", mode: .strict.readingNullAsAbsent) { r throws(FormatsError) in
                try r.string("a")
            }
        }
    }

    // MARK: - The unknown-field check cannot be forgotten

    @Test func everyClosureEntryPointFinishes() {
        let document: JSONValue = .object(["known": .integer(1), "extra": .integer(2),
                                           "inner": .object(["known": .integer(1), "extra": .integer(2)])])
        #expect(throws: FormatsError(source: "d", reason: "unknown field 'extra'")) {
            try JSONObjectReader.read(document, source: "d", mode: .strict) { r throws(FormatsError) in
                _ = try r.object("inner") { inner throws(FormatsError) in (try inner.integer("known"), inner.optionalValue("extra")) }
                return try r.integer("known")
            }
        }
        #expect(throws: FormatsError(source: "d", reason: "unknown field 'inner.extra'")) {
            try JSONObjectReader.read(document, source: "d", mode: .strict) { r throws(FormatsError) in
                _ = r.optionalValue("extra")
                _ = try r.object("inner") { inner throws(FormatsError) in try inner.integer("known") }
                return try r.integer("known")
            }
        }
        // An error the body raises comes before the unknown-field check.
        #expect(throws: FormatsError(source: "d", reason: "known: too small")) {
            try JSONObjectReader.read(document, source: "d", mode: .strict) { r throws(FormatsError) in
                throw r.error("known", "too small")
            }
        }
    }

    @Test func aReaderMadeByHandIsCheckedWhenFinished() throws {
        var reader = try JSONObjectReader(parsing: Array(#"{"schema":"s","extra":1}"#.utf8), source: "h")
        #expect(reader.mode == .strict, "strict unless asked otherwise")
        #expect(try reader.string("schema") == "s")
        #expect(throws: FormatsError(source: "h", reason: "unknown field 'extra'")) { try reader.finish() }
        _ = reader.allMembers()
        try reader.finish()
    }

    @Test func aNestedTypeIsReadInItsOwnModeAndAClosureInItsParents() throws {
        struct Outer: JSONObjectDecodable {
            static let jsonReadingMode = JSONObjectReader.Mode.strict
            var platform: OCIPlatform
            var note: Int64?
            init(reading reader: inout JSONObjectReader) throws(FormatsError) {
                platform = try reader.decode(OCIPlatform.self, "platform")
                note = try reader.optionalObject("note") { note throws(FormatsError) in try note.optionalInteger("n") } ?? nil
            }
        }
        // OCIPlatform ignores `variant` inside a strict document...
        let outer = try StrictJSON.decode(Outer.self, from: Array(#"{"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}"#.utf8),
                                          source: "o")
        #expect(outer.platform == OCIPlatform(architecture: "arm64", os: "linux"))
        // ...while an object read by closure inherits the strict mode.
        #expect(throws: FormatsError(source: "o", reason: "unknown field 'note.m'")) {
            try StrictJSON.decode(Outer.self, from: Array(#"{"platform":{"os":"linux","architecture":"arm64"},"note":{"m":1}}"#.utf8),
                                  source: "o")
        }
    }

    // MARK: - Digests and maps

    @Test func readsAnInTotoDigestSetAndNamesTheObjectHoldingIt() throws {
        let reader = { (digest: JSONValue) throws(FormatsError) -> [String: String] in
            try JSONObjectReader.read(.object(["digest": digest]), source: "d", path: "subject[0]", mode: .strict) { r throws(FormatsError) in
                try r.digestSet()
            }
        }
        #expect(try reader(.object(["sha256": .string(Self.digest)])) == ["sha256": Self.digest])
        #expect(throws: FormatsError(source: "d", reason: "subject[0]: digest 'sha256' must be 64 lowercase hex characters, got 'AB'")) {
            try reader(.object(["sha256": .string("AB")]))
        }
        #expect(throws: FormatsError(source: "d", reason: "subject[0]: digest is empty")) { try reader(.object([:])) }
        #expect(throws: FormatsError(source: "d", reason: "subject[0].digest.sha256: must be a string, got number")) {
            try reader(.object(["sha256": .integer(1)]))
        }
    }

    @Test func listsTheKeysOfAMapInByteOrderWithoutMarkingThemRead() throws {
        let document: JSONValue = .object(["b": .integer(2), "a": .integer(1), "B": .integer(3)])
        #expect(throws: FormatsError(source: "m", reason: "unknown field 'B'")) {
            try JSONObjectReader.read(document, source: "m", mode: .strict) { r throws(FormatsError) in
                #expect(r.keys == ["B", "a", "b"])
                return try r.integer("a") + r.integer("b")
            }
        }
    }

    // MARK: - Typed entry point

    @Test func ociTypesReadThroughTheReader() throws {
        let platform = try StrictJSON.decode(OCIPlatform.self, from: Array(#"{"architecture":"amd64","os":"linux","os.version":"6"}"#.utf8), source: "g")
        #expect(platform == OCIPlatform(architecture: "amd64", os: "linux"))
        #expect(throws: FormatsError(source: "g", reason: "layers[1]: must be an object, got number")) {
            try StrictJSON.decode(OCIManifest.self, from: Array(#"{"schemaVersion":2,"mediaType":"m","config":{"mediaType":"c","digest":"d","size":2},"layers":[{"mediaType":"l","digest":"d","size":1},7]}"#.utf8), source: "g")
        }
    }
}
