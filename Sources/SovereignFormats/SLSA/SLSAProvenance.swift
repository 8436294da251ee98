/// A SLSA provenance v1 predicate (slsa.dev/spec/v1.x/provenance): how an
/// artifact was built — the build type and its parameters, the inputs with
/// their digests, and who built it.
///
/// Reproducible by construction: no field is filled in from the clock or a
/// random source. `runDetails.metadata` (invocation id, start and finish
/// times) stays empty unless the caller supplies it, and empty optional
/// parts are left out rather than written as `{}` or `[]`.
public struct SLSAProvenance: Sendable, Equatable, InTotoPredicate {
    public static let predicateType = "https://slsa.dev/provenance/v1"

    public struct BuildDefinition: Sendable, Equatable {
        /// A URI naming the template the build followed (how to read the parameters).
        public var buildType: String
        /// The parameters under the control of whoever started the build.
        public var externalParameters: [String: JSONValue]
        /// Parameters the builder chose itself; nil leaves the field out.
        public var internalParameters: [String: JSONValue]?
        /// The inputs, in the order given (callers pass a stable order).
        public var resolvedDependencies: [ResourceDescriptor]

        public init(buildType: String, externalParameters: [String: JSONValue],
                    internalParameters: [String: JSONValue]? = nil, resolvedDependencies: [ResourceDescriptor] = []) {
            self.buildType = buildType
            self.externalParameters = externalParameters
            self.internalParameters = internalParameters
            self.resolvedDependencies = resolvedDependencies
        }
    }

    public struct Builder: Sendable, Equatable {
        /// A URI naming the builder (the trust boundary consumers pin).
        public var id: String
        /// Component name → version; empty leaves the field out.
        public var version: [String: String]
        public var builderDependencies: [ResourceDescriptor]

        public init(id: String, version: [String: String] = [:], builderDependencies: [ResourceDescriptor] = []) {
            self.id = id
            self.version = version
            self.builderDependencies = builderDependencies
        }
    }

    /// Run metadata. All optional and empty by default: times and an
    /// invocation id differ on every run, so a reproducible build omits them.
    public struct BuildMetadata: Sendable, Equatable {
        public var invocationId: String?
        /// RFC 3339 UTC.
        public var startedOn: String?
        /// RFC 3339 UTC.
        public var finishedOn: String?

        public init(invocationId: String? = nil, startedOn: String? = nil, finishedOn: String? = nil) {
            self.invocationId = invocationId
            self.startedOn = startedOn
            self.finishedOn = finishedOn
        }

        public var isEmpty: Bool { invocationId == nil && startedOn == nil && finishedOn == nil }
    }

    public struct RunDetails: Sendable, Equatable {
        public var builder: Builder
        public var metadata: BuildMetadata
        public var byproducts: [ResourceDescriptor]

        public init(builder: Builder, metadata: BuildMetadata = BuildMetadata(), byproducts: [ResourceDescriptor] = []) {
            self.builder = builder
            self.metadata = metadata
            self.byproducts = byproducts
        }
    }

    public var buildDefinition: BuildDefinition
    public var runDetails: RunDetails

    public init(buildDefinition: BuildDefinition, runDetails: RunDetails) {
        self.buildDefinition = buildDefinition
        self.runDetails = runDetails
    }

    /// The predicate as JSON (the signer canonicalises it).
    public func json() -> JSONValue {
        var definition: [String: JSONValue] = [
            "buildType": .string(buildDefinition.buildType),
            "externalParameters": .object(buildDefinition.externalParameters),
        ]
        if let internalParameters = buildDefinition.internalParameters {
            definition["internalParameters"] = .object(internalParameters)
        }
        if !buildDefinition.resolvedDependencies.isEmpty {
            definition["resolvedDependencies"] = .array(buildDefinition.resolvedDependencies.map { $0.json() })
        }
        var builder: [String: JSONValue] = ["id": .string(runDetails.builder.id)]
        if !runDetails.builder.version.isEmpty {
            builder["version"] = .object(runDetails.builder.version.mapValues { .string($0) })
        }
        if !runDetails.builder.builderDependencies.isEmpty {
            builder["builderDependencies"] = .array(runDetails.builder.builderDependencies.map { $0.json() })
        }
        var run: [String: JSONValue] = ["builder": .object(builder)]
        let metadata = runDetails.metadata
        if !metadata.isEmpty {
            var members: [String: JSONValue] = [:]
            if let invocationId = metadata.invocationId { members["invocationId"] = .string(invocationId) }
            if let startedOn = metadata.startedOn { members["startedOn"] = .string(startedOn) }
            if let finishedOn = metadata.finishedOn { members["finishedOn"] = .string(finishedOn) }
            run["metadata"] = .object(members)
        }
        if !runDetails.byproducts.isEmpty {
            run["byproducts"] = .array(runDetails.byproducts.map { $0.json() })
        }
        return .object(["buildDefinition": .object(definition), "runDetails": .object(run)])
    }

    /// Parses and validates a predicate.
    public init(json: JSONValue, source: String) throws(FormatsError) {
        self = try JSONObjectReader.read(json, source: source, mode: Self.jsonReadingMode,
                                         what: "a SLSA provenance predicate") { root throws(FormatsError) in
            try Self(reading: &root)
        }
    }

    public static let defaultSource = "provenance"
}

extension SLSAProvenance: JSONObjectDecodable {
    /// Fields this version does not know are ignored (in-toto parsing rules).
    public static let jsonReadingMode = JSONObjectReader.Mode.ignoringUnknownFields

    public init(reading root: inout JSONObjectReader) throws(FormatsError) {
        buildDefinition = try root.object("buildDefinition") { definition throws(FormatsError) in
            BuildDefinition(
                buildType: try definition.nonEmptyString("buildType"),
                externalParameters: try definition.rawObject("externalParameters"),
                internalParameters: try definition.optionalRawObject("internalParameters"),
                resolvedDependencies: try definition.decodeArrayIfPresent(ResourceDescriptor.self, "resolvedDependencies") ?? [])
        }
        runDetails = try root.object("runDetails") { run throws(FormatsError) in
            let builder = try run.object("builder") { builder throws(FormatsError) in
                Builder(id: try builder.nonEmptyString("id"),
                        version: try builder.optionalStringMap("version") ?? [:],
                        builderDependencies: try builder.decodeArrayIfPresent(ResourceDescriptor.self, "builderDependencies") ?? [])
            }
            let metadata = try run.optionalObject("metadata") { metadata throws(FormatsError) in
                BuildMetadata(invocationId: try metadata.optionalNonEmptyString("invocationId"),
                              startedOn: try metadata.optionalTimestamp("startedOn"),
                              finishedOn: try metadata.optionalTimestamp("finishedOn"))
            }
            return RunDetails(builder: builder, metadata: metadata ?? BuildMetadata(),
                              byproducts: try run.decodeArrayIfPresent(ResourceDescriptor.self, "byproducts") ?? [])
        }
    }
}
