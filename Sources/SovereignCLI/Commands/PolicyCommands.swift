import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignTrust

/// `sovereign policy init`: writes a trust policy for `verify` and `install`.
enum PolicyCommands {
    static let spec = CommandSpec(
        name: "policy",
        abstract: "Write trust policies: which keys release images, and what an image must be.",
        subcommands: [initialize]
    )

    static let defaultPredicate = TrustPolicy.defaultRequiredPredicates.joined(separator: ", ")

    static let initialize = CommandSpec(
        name: "init",
        abstract: "Write a new trust policy (sovereign.trust-policy/v1).",
        discussion: """
        Lists the given public keys (each under its key id, the SHA-256 of \
        the raw key) with their roles, and sets the thresholds, minimum \
        sequence, allowed models, required predicate types and expiry. A key \
        given for several roles (release, certifier, policy author) is listed \
        once with each of them; a key given twice counts once. With \
        --author-key, an image is accepted only when that many policy authors \
        approved the very constraint layer it carries, apart from its release \
        engineer. The file is JSON with \
        sorted keys and two-space indentation, meant to be read and edited \
        by hand (see Policies/trust-policy.example.json); it is checked as \
        'sovereign verify' will read it. Refuses to overwrite <file>.
        """,
        options: [
            .value("--release-key", "<public-key>",
                   "A release key: PEM or minisign public key file. Repeat for several.", required: true, repeatable: true),
            .value("--threshold", "<n>",
                   "Distinct release keys that must sign every required attestation (1 to the number of release keys).", required: true),
            .value("--certifier-key", "<public-key>",
                   "A certifier key (PEM or minisign); repeat for several. Needs --certifier-threshold.", repeatable: true),
            .value("--certifier-threshold", "<n>",
                   "Distinct certifier keys that must sign a PASSED verification summary (SLSA VSA) of the image."),
            .value("--certified-engine", "<engine>",
                   "Count only certifications made on this engine: 'embedded' (the image's own model, bit-exact replay) or "
                   + "'openai:<model id>' (a remote engine reporting that model); repeat for several. Needs --certifier-key. Default: any.",
                   repeatable: true),
            .value("--author-key", "<public-key>",
                   "A policy author's key (PEM or minisign), who approves constraint layers ('sovereign layer sign'); repeat for several. Needs --author-threshold.",
                   repeatable: true),
            .value("--author-threshold", "<n>",
                   "Distinct policy-author keys that must have approved the very constraint layer the image carries."),
            .value("--minimum-sequence", "<n>", "Refuse images whose sequence is lower (default 0)."),
            .value("--allow-model", "<sha256>",
                   "Accept only this model file digest (64 hex, 'sha256:' optional); repeat for several. Default: any model.",
                   repeatable: true),
            .value("--require-predicate", "<uri>",
                   "An in-toto predicate type that must be attested about the image and signed by the release keys; repeat for several. Default: \(defaultPredicate).",
                   repeatable: true),
            .value("--expires", "<time>", "When the policy stops being accepted: RFC 3339 UTC, e.g. 2027-01-01T00:00:00Z. Default: never."),
            .flag("--allow-downgrade", "Accept images older than the one installed (off by default: no rollback)."),
            .value("--out", "<file>", "Where to write the policy.", required: true),
            CommonOptions.json,
        ],
        run: runInit
    )

    /// A role beside release: its keys and its threshold, both or neither.
    private static func optionalRole(_ arguments: ParsedArguments, keys: String, threshold: String) throws -> ([String], Int?) {
        let paths = arguments.allValues(keys)
        var k: Int?
        if arguments.value(threshold) != nil { k = try arguments.positiveInteger(threshold, default: 1) }
        switch (paths.isEmpty, k) {
        case (false, nil): throw CLIError.usage("Missing expected argument '\(threshold) <n>' (needed with '\(keys)')", command: arguments.command)
        case (true, .some): throw CLIError.usage("'\(threshold)' needs at least one '\(keys)'", command: arguments.command)
        default: return (paths, k)
        }
    }

    /// One key of the policy being written, with the files it came from.
    private struct KeyEntry {
        let key: Ed25519.PublicKey
        var roles: Set<TrustPolicy.Role>
        var files: [String]
    }

    @Sendable static func runInit(_ arguments: ParsedArguments) throws -> Int32 {
        let output = try arguments.required("--out")
        let command = arguments.command
        let threshold = try arguments.positiveInteger("--threshold", default: 1)
        let (certifierPaths, certifierThreshold) = try optionalRole(arguments, keys: "--certifier-key", threshold: "--certifier-threshold")
        let (authorPaths, authorThreshold) = try optionalRole(arguments, keys: "--author-key", threshold: "--author-threshold")
        var engines: [String] = []
        for engine in arguments.allValues("--certified-engine") where !engines.contains(engine) { engines.append(engine) }
        if !engines.isEmpty, certifierPaths.isEmpty {
            throw CLIError.usage("'--certified-engine' needs at least one '--certifier-key'", command: command)
        }

        var minimumSequence: Int64 = 0
        if let text = arguments.value("--minimum-sequence") {
            guard let number = Int64(text), number >= 0 else {
                throw CLIError.usage("The value '\(text)' is invalid for '--minimum-sequence'", command: command)
            }
            minimumSequence = number
        }

        var allowedModels: [SHA256Digest] = []
        for text in arguments.allValues("--allow-model") {
            let hex = text.hasPrefix("sha256:") ? String(text.dropFirst("sha256:".count)) : text
            guard let digest = SHA256Digest(hex: hex) else {
                throw CLIError.usage("The value '\(text)' is invalid for '--allow-model'", command: command)
            }
            if !allowedModels.contains(digest) { allowedModels.append(digest) }
        }

        var predicates: [String] = []
        for uri in arguments.allValues("--require-predicate") where !predicates.contains(uri) {
            guard !uri.isEmpty, !uri.contains(where: { $0.isWhitespace }) else {
                throw CLIError.usage("The value '\(uri)' is invalid for '--require-predicate'", command: command)
            }
            predicates.append(uri)
        }

        var expires: Int64?
        if let text = arguments.value("--expires") {
            guard let seconds = Timestamp.parse(text) else {
                throw CLIError.usage("The value '\(text)' is invalid for '--expires' (expected RFC 3339 UTC like 2027-01-01T00:00:00Z)", command: command)
            }
            guard seconds > Int64(time(nil)) else {
                throw CLIError.usage("'--expires \(text)' is already past: the policy would refuse every image", command: command)
            }
            expires = seconds
        }

        if FileSystem.exists(output) { throw CLIError.failure(thing: output, reason: "already exists; refusing to overwrite") }

        // Keys in the order given; one entry per distinct key.
        var entries: [KeyEntry] = []
        func add(_ path: String, role: TrustPolicy.Role) throws(CLIError) {
            let key = try KeyLoading.publicKey(at: path).key
            if let index = entries.firstIndex(where: { $0.key == key }) {
                entries[index].roles.insert(role)
                if !entries[index].files.contains(path) { entries[index].files.append(path) }
            } else {
                entries.append(KeyEntry(key: key, roles: [role], files: [path]))
            }
        }
        for path in arguments.allValues("--release-key") { try add(path, role: .release) }
        for path in certifierPaths { try add(path, role: .certifier) }
        for path in authorPaths { try add(path, role: .policyAuthor) }

        let roleThresholds: [(TrustPolicy.Role, Int?, String)] = [
            (.release, threshold, "--threshold"), (.certifier, certifierThreshold, "--certifier-threshold"),
            (.policyAuthor, authorThreshold, "--author-threshold"),
        ]
        for (role, k, option) in roleThresholds {
            guard let k else { continue }
            let count = entries.filter { $0.roles.contains(role) }.count
            if k > count {
                throw CLIError.usage("'\(option) \(k)' is more than the \(count) distinct \(role.displayName) key\(count == 1 ? "" : "s") given", command: command)
            }
        }

        var thresholds: [TrustPolicy.Role: Int] = [:]
        for case let (role, k?, _) in roleThresholds { thresholds[role] = k }
        let policy: TrustPolicy
        do {
            policy = try TrustPolicy(
                keys: entries.map { entry in
                    TrustPolicy.TrustedKey(publicKey: entry.key, roles: entry.roles,
                                           comment: entry.files.map(FileSystem.baseName).joined(separator: ", "))
                },
                thresholds: thresholds, minimumSequence: minimumSequence,
                allowedModels: allowedModels.isEmpty ? nil : allowedModels,
                requiredPredicates: predicates.isEmpty ? TrustPolicy.defaultRequiredPredicates : predicates,
                certificationEngines: engines.isEmpty ? nil : engines, expires: expires, allowDowngrade: arguments.flag("--allow-downgrade"), source: output)
        } catch {
            throw CLIError.failure(thing: error.source, reason: error.reason)
        }
        let bytes = policy.fileBytes()
        try writeNewFiles([(output, bytes, 0o644)])
        let digest = SHA256.hash(bytes)

        if arguments.flag("--json") {
            Output.json(.object([
                "policy": .string(output),
                "sha256": .string(digest.hex),
                "keys": .array(entries.map { entry in
                    .object([
                        "keyid": .string(entry.key.keyID),
                        "roles": .array(entry.roles.sorted().map { .string($0.rawValue) }),
                        "files": .array(entry.files.map { .string($0) }),
                    ])
                }),
                "thresholds": .object(Dictionary(uniqueKeysWithValues: thresholds.map { ($0.key.rawValue, JSONValue.integer(Int64($0.value))) })),
            ]))
        } else {
            Output.line("wrote \(output) (sha256 \(digest.hex))")
            for role in TrustPolicy.Role.allCases {
                guard let k = thresholds[role] else { continue }
                let keys = entries.filter { $0.roles.contains(role) }
                Output.line("  \(role.displayName): \(k) of \(keys.count) key\(keys.count == 1 ? "" : "s")")
                for entry in keys { Output.line("    \(entry.key.keyID) (\(entry.files.joined(separator: ", ")))") }
            }
            Output.line("  minimum sequence \(minimumSequence), downgrades \(policy.allowDowngrade ? "allowed" : "refused")")
            Output.line("  models: \(policy.allowedModels.map { $0.map(\.hex).joined(separator: ", ") } ?? "any")")
            Output.line("  required predicates: \(policy.requiredPredicates.joined(separator: ", "))")
            Output.line("  expires: \(policy.expires.map(Timestamp.format) ?? "never")")
        }
        return ExitStatus.success
    }
}
