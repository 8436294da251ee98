import Glibc
import SovereignSystem
import SovereignCrypto
import SovereignFormats
import SovereignLog

/// `sovereign log verify|show|prove|consistency|purge|checkpoint|append`:
/// the appliance's tamper-evident log under <root>/log (docs/log.md).
enum LogCommands {
    static let spec = CommandSpec(
        name: "log",
        abstract: "Verify, inspect, prove and purge the appliance's tamper-evident log.",
        discussion: """
        The log lives in <root>/log: JSON lines in entries/, each signed as a C2SP \
        checkpoint of the RFC 6962 tree that ends with it; checkpoints every N entries in \
        checkpoint and checkpoints.jsonl; the appliance's verifier key in appliance.pub. \
        Pin that key once (copy it) and pass it with --pub: then a log rewritten by whoever \
        holds the files is caught. See docs/log.md.
        """,
        subcommands: [verify, show, prove, consistency, purge, checkpoint, append]
    )

    static let rootOption = OptionSpec.value("--root", "<dir>", "Appliance root; the log is <root>/log.", required: true)
    static let pubOption = OptionSpec.value("--pub", "<file>", "The appliance's verifier key as pinned (default: <root>/log/appliance.pub, which is then not pinned).")

    static let verify = CommandSpec(
        name: "verify",
        abstract: "Check every entry, checkpoint and purge; name the first tampering.",
        discussion: """
        Recomputes the tree entry by entry and checks each line's signature, root and content \
        digest, every checkpoint's signature and root and that each extends the one before, \
        and that removed content is covered by a purge. Fails naming the first edited, \
        inserted, deleted, reordered, truncated or torn entry, or a forged checkpoint. A torn \
        last line (an append a crash interrupted) is reported; opening the log for writing \
        (any append, 'sovereign log checkpoint') keeps its bytes in torn/ and records it.
        """,
        options: [rootOption, pubOption, CommonOptions.json],
        run: runVerify
    )

    static let show = CommandSpec(
        name: "show",
        abstract: "Show the log's state and last entries, or one entry in full.",
        arguments: [ArgumentSpec(name: "<n>", help: "The index of an entry to show in full.", isOptional: true)],
        options: [rootOption, .value("--last", "<count>", "How many of the last entries to list (default 10)."), CommonOptions.json],
        run: runShow
    )

    static let prove = CommandSpec(
        name: "prove",
        abstract: "Prove an entry is in the log's latest signed checkpoint.",
        discussion: """
        Verifies the log, then prints the RFC 6962 inclusion proof of entry <n> against the \
        latest checkpoint. With --tlog-proof, prints only the offline proof in the C2SP \
        tlog-proof@v1 form (the entry's leaf bytes as its extra data), which anyone holding \
        the appliance's verifier key can check with no access to the appliance.
        """,
        arguments: [ArgumentSpec(name: "<n>", help: "The index of the entry.")],
        options: [rootOption, pubOption, .flag("--tlog-proof", "Print the proof as a c2sp.org/tlog-proof@v1 bundle."), CommonOptions.json],
        run: runProve
    )

    static let consistency = CommandSpec(
        name: "consistency",
        abstract: "Prove today's log extends a checkpoint saved earlier.",
        discussion: """
        <checkpoint> is a signed checkpoint an auditor kept (a copy of <root>/log/checkpoint). \
        Checks its signature, that the log's first <size> entries still give its root, and \
        prints the RFC 6962 consistency proof from it to the latest checkpoint. Fails if the \
        history it signed was rewritten or cut.
        """,
        arguments: [ArgumentSpec(name: "<checkpoint>", help: "A signed checkpoint file saved earlier.")],
        options: [rootOption, pubOption, CommonOptions.json],
        run: runConsistency
    )

    static let purge = CommandSpec(
        name: "purge",
        abstract: "Delete the content of entries older than a date; every proof still verifies.",
        discussion: """
        Deletes the content (prompts, answers) and its salt from every entry before <date>, and \
        the torn bytes of crashes before it, after recording a purge entry. Leaves commit only \
        to salted digests of the content, so the tree, the checkpoints and every proof stay \
        valid. Needs the log's writer lock: a running appliance purges through its runtime.
        """,
        options: [.value("--before", "<date>", "YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ.", required: true),
                  rootOption, CommonOptions.json],
        run: runPurge
    )

    static let checkpoint = CommandSpec(
        name: "checkpoint",
        abstract: "Write a checkpoint of the log now and print it.",
        discussion: """
        Opens the log for writing (creating it, and the appliance key, on first use; recording \
        an interrupted append if one is found), writes a checkpoint unless the last one is \
        current, and prints it: save it, and 'sovereign log consistency' proves later logs \
        extend it.
        """,
        options: [rootOption, CommonOptions.json],
        run: runCheckpoint
    )

    static let append = CommandSpec(
        name: "append",
        abstract: "Record an operator's entry in the log; print its index once it is durable.",
        discussion: """
        Metadata stays for good; content can be purged. For crash tests, \
        SOVEREIGN_LOG_CRASH_AT=<step>[:<skip>] makes it kill itself at a named step \
        (before-write, mid-line, before-sync, after-sync, mid-checkpoint, mid-recovery).
        """,
        options: [rootOption, .value("--metadata", "<json>", "A JSON object kept for good.", required: true),
                  .value("--content", "<json>", "A JSON object that purge may delete (default {})."), CommonOptions.json],
        run: runAppend
    )

    // MARK: - Shared

    static func logDirectory(_ arguments: ParsedArguments) throws -> String {
        let root = try arguments.required("--root")
        return (root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root) + "/log"
    }

    static func pinnedKey(_ arguments: ParsedArguments) throws -> NoteVerifierKey? {
        try arguments.value("--pub").map { (path) throws -> NoteVerifierKey in try ApplianceKey.readVerifierKey(path: path) }
    }

    static func index(_ text: String, _ arguments: ParsedArguments) throws -> UInt64 {
        guard let value = UInt64(text), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw CLIError.usage("The value '\(text)' is invalid for '<n>'", command: arguments.command)
        }
        return value
    }

    /// Opens the log for writing, honouring SOVEREIGN_LOG_CRASH_AT.
    static func openForWriting(_ directory: String) throws -> AuditLog {
        var options = AuditLogOptions()
        if let text = getenv("SOVEREIGN_LOG_CRASH_AT").map({ String(cString: $0) }) {
            guard let crash = LogCrashInjection(parsing: text, killsProcess: true) else {
                throw CLIError.failure(thing: "SOVEREIGN_LOG_CRASH_AT", reason: "'\(text)' is not <step>[:<skip>]")
            }
            options.crash = crash
        }
        return try AuditLog.open(directory: directory, options: options)
    }

    /// What a command prints: one value, as text lines or as JSON.
    struct Result {
        var json: JSONValue
        var text: [String]
    }

    static func render(_ result: Result, _ arguments: ParsedArguments) {
        if arguments.flag("--json") { Output.json(result.json) } else { result.text.forEach { Output.line($0) } }
    }

    static func b64(_ digest: SHA256Digest) -> String { Base64.encode(digest.bytes) }

    static func indented(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            .map { $0.isEmpty ? "" : "    " + $0 }
    }

    static func checkpointJSON(_ signed: SignedCheckpoint) -> JSONValue {
        .object(["origin": .string(signed.checkpoint.origin), "size": .integer(Int64(signed.checkpoint.size)),
                 "root": .string(b64(signed.checkpoint.root)), "note": .string(String(decoding: signed.bytes, as: UTF8.self))])
    }

    // MARK: - verify

    @Sendable static func runVerify(_ arguments: ParsedArguments) throws -> Int32 {
        let directory = try logDirectory(arguments)
        let report = try LogVerifier.verify(directory: directory, trusting: try pinnedKey(arguments))
        var object: [String: JSONValue] = [
            "directory": .string(directory), "intact": .bool(report.isIntact), "entries": .integer(Int64(report.entryCount)),
            "checkpoints": .integer(Int64(report.checkpointCount)), "key": .string(report.key.encoded),
            "keySource": .string(report.keySource), "findings": .array(report.findings.map(\.json)),
            "notes": .array(report.notes.map(JSONValue.string)), "purgedEntries": .integer(Int64(report.purgedEntries)),
            "recoveries": .array(report.recoveries.map { .integer(Int64($0)) }),
        ]
        if let latest = report.latest { object["latest"] = checkpointJSON(latest) }
        var text = ["\(directory): \(report.entryCount) entries verified, \(report.checkpointCount) checkpoints; latest size \(report.latest?.checkpoint.size ?? 0)"]
        if let latest = report.latest { text.append("  root  \(b64(latest.checkpoint.root))") }
        text.append("  key   \(report.key.encoded) (\(report.keySource == "pinned" ? "pinned" : "from \(report.keySource), not pinned"))")
        if report.purgedEntries > 0 { text.append("  content purged from \(report.purgedEntries) entries") }
        if !report.recoveries.isEmpty { text.append("  recovered interrupted appends, recorded by entries \(report.recoveries.map(String.init).joined(separator: ", "))") }
        if arguments.flag("--json") { Output.json(.object(object)) }
        if let first = report.findings.first { throw CLIError.failure(thing: first.location, reason: first.message) }
        if !arguments.flag("--json") { text.forEach { Output.line($0) } }
        return ExitStatus.success
    }

    // MARK: - show

    @Sendable static func runShow(_ arguments: ParsedArguments) throws -> Int32 {
        let directory = try logDirectory(arguments)
        let n = try arguments.positionals.first.map { (text) throws -> UInt64 in try index(text, arguments) }
        let last = UInt64(try arguments.positiveInteger("--last", default: 10))
        let key = try LogReader.publishedKey(directory: directory)
        if let n {
            let (record, location) = try LogReader.record(at: n, directory: directory)
            render(entry(record, location: location, key: key), arguments)
            return ExitStatus.success
        }
        let lines = try LogReader.lineCount(directory: directory)
        let latest = try? SignedCheckpoint.open(FileSystem.readFile(directory + "/" + LogLayout.checkpointFile, limit: SignedNote.maxBytes),
                                                source: "checkpoint", trusting: key)
        let listed = try LogReader.records(lines - min(last, lines)..<lines, directory: directory)
        var rows: [JSONValue] = []
        var text = ["\(directory): \(lines) lines; origin \(key.name)", "  key         \(key.encoded)"]
        if let latest {
            text.append("  checkpoint  size \(latest.checkpoint.size), root \(b64(latest.checkpoint.root))")
        } else {
            text.append("  checkpoint  none that verifies")
        }
        for (location, result) in listed {
            switch result {
            case .success(let record):
                let metadata = String(decoding: CanonicalJSON.serialize(.object(record.entry.metadata)), as: UTF8.self)
                let shown = metadata.count > 96 ? String(metadata.prefix(95)) + "…" : metadata
                let purged = record.purgedBy.map { "  [content purged by #\($0)]" } ?? ""
                text.append("  #\(record.entry.index)  \(Timestamp.format(record.entry.time))  \(record.entry.kind.rawValue)  \(shown)\(purged)")
                rows.append(.object(["index": .integer(Int64(record.entry.index)), "location": .string(location),
                                     "entry": record.entry.json, "purged": .bool(record.isPurged)]))
            case .failure(let error):
                text.append("  \(location): \(error.reason)")
                rows.append(.object(["location": .string(location), "error": .string(error.reason)]))
            }
        }
        var object: [String: JSONValue] = ["directory": .string(directory), "lines": .integer(Int64(lines)),
                                           "key": .string(key.encoded), "last": .array(rows)]
        if let latest { object["checkpoint"] = checkpointJSON(latest) }
        render(Result(json: .object(object), text: text), arguments)
        return ExitStatus.success
    }

    static func entry(_ record: LogRecord, location: String, key: NoteVerifierKey) -> Result {
        let signed = record.isSigned(by: key)
        var object: [String: JSONValue] = [
            "index": .integer(Int64(record.entry.index)), "location": .string(location), "entry": record.entry.json,
            "leafHash": .string(record.entry.leafHash.hex), "root": .string(b64(record.root)), "signatureValid": .bool(signed),
        ]
        object["content"] = record.content.map { .object($0) } ?? .null
        if let by = record.purgedBy { object["purgedBy"] = .integer(Int64(by)) }
        var text = ["entry \(record.entry.index) (\(location))",
                    "  time       \(Timestamp.format(record.entry.time))",
                    "  type       \(record.entry.kind.rawValue)",
                    "  leaf hash  \(record.entry.leafHash.hex)",
                    "  root       \(b64(record.root)) (tree of \(record.entry.index + 1))",
                    "  signature  \(signed ? "valid" : "INVALID"), by \(key.name)+\(key.keyIDHex)",
                    "  metadata"]
        text += indented(PrettyJSON.serialize(.object(record.entry.metadata)) + [0x0A])
        if let content = record.content {
            text.append("  content")
            text += indented(PrettyJSON.serialize(.object(content)) + [0x0A])
        } else if let by = record.purgedBy {
            text.append("  content    purged by entry \(by)")
        }
        return Result(json: .object(object), text: text)
    }

    // MARK: - prove

    @Sendable static func runProve(_ arguments: ParsedArguments) throws -> Int32 {
        let directory = try logDirectory(arguments)
        let n = try index(arguments.positionals[0], arguments)
        let report = try LogVerifier.verify(directory: directory, trusting: try pinnedKey(arguments))
        let proof = try report.inclusionProof(for: n)
        let leaf = try LogReader.record(at: n, directory: directory).record.entry.leafBytes
        let bundle = proof.bundle(leaf: leaf)
        if arguments.flag("--tlog-proof") && !arguments.flag("--json") {
            Output.write(String(decoding: bundle.bytes, as: UTF8.self), to: .standardOutput)
            return ExitStatus.success
        }
        let tree = proof.checkpoint.checkpoint
        let object: JSONValue = .object([
            "index": .integer(Int64(n)), "treeSize": .integer(Int64(tree.size)), "leafHash": .string(proof.leafHash.hex),
            "leaf": .string(String(decoding: leaf, as: UTF8.self)), "proof": .array(proof.path.map { .string(b64($0)) }),
            "root": .string(b64(tree.root)), "checkpoint": checkpointJSON(proof.checkpoint),
            "tlogProof": .string(String(decoding: bundle.bytes, as: UTF8.self)),
        ])
        var text = ["entry \(n) is in the log's checkpoint of size \(tree.size)",
                    "  leaf hash  \(proof.leafHash.hex)",
                    "  root       \(b64(tree.root))",
                    "  proof      \(proof.path.count) hashes, the leaf's sibling first"]
        text += proof.path.map { "    \(b64($0))" }
        text.append("  checkpoint")
        text += indented(proof.checkpoint.bytes)
        render(Result(json: object, text: text), arguments)
        return ExitStatus.success
    }

    // MARK: - consistency

    @Sendable static func runConsistency(_ arguments: ParsedArguments) throws -> Int32 {
        let directory = try logDirectory(arguments)
        let oldPath = arguments.positionals[0]
        let report = try LogVerifier.verify(directory: directory, trusting: try pinnedKey(arguments))
        if let first = report.findings.first { throw CLIError.failure(thing: first.location, reason: first.message) }
        let old = try SignedCheckpoint.open(try FileSystem.readFile(oldPath, limit: SignedNote.maxBytes), source: oldPath, trusting: report.key)
        let proof: LogConsistencyProof
        do { proof = try report.consistencyProof(from: old) } catch {
            throw CLIError.failure(thing: oldPath, reason: error.reason)
        }
        let object: JSONValue = .object([
            "consistent": .bool(true), "old": checkpointJSON(proof.old), "new": checkpointJSON(proof.new),
            "proof": .array(proof.path.map { .string(b64($0)) }),
        ])
        var text = ["\(directory) extends \(oldPath): size \(proof.old.checkpoint.size) → \(proof.new.checkpoint.size)",
                    "  old root  \(b64(proof.old.checkpoint.root))",
                    "  new root  \(b64(proof.new.checkpoint.root))",
                    "  proof     \(proof.path.count) hashes"]
        text += proof.path.map { "    \(b64($0))" }
        text.append("  checkpoint")
        text += indented(proof.new.bytes)
        render(Result(json: object, text: text), arguments)
        return ExitStatus.success
    }

    // MARK: - purge, checkpoint, append

    /// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`.
    static func date(_ text: String, _ arguments: ParsedArguments) throws -> Int64 {
        if let seconds = Timestamp.parse(text) ?? (text.utf8.count == 10 ? Timestamp.parse(text + "T00:00:00Z") : nil) { return seconds }
        throw CLIError.usage("The value '\(text)' is invalid for '--before'", command: arguments.command)
    }

    @Sendable static func runPurge(_ arguments: ParsedArguments) throws -> Int32 {
        let cutoff = try date(try arguments.required("--before"), arguments)
        let directory = try logDirectory(arguments)
        let log = try openForWriting(directory)
        let purge = try log.purge(before: cutoff)
        try log.close()
        var object: [String: JSONValue] = ["before": .string(Timestamp.format(cutoff)), "purgedEntries": .integer(Int64(purge.purgedEntries)),
                                           "removedFragments": .integer(Int64(purge.removedFragments))]
        object["purgeEntry"] = purge.purgeEntry.map { .integer(Int64($0)) } ?? .null
        let text = purge.purgeEntry.map {
            ["\(directory): deleted the content of \(purge.purgedEntries) entries from before \(Timestamp.format(cutoff)) (recorded as entry \($0)); removed \(purge.removedFragments) torn fragments"]
        } ?? ["\(directory): nothing from before \(Timestamp.format(cutoff)) to purge"]
        render(Result(json: .object(object), text: text), arguments)
        return ExitStatus.success
    }

    @Sendable static func runCheckpoint(_ arguments: ParsedArguments) throws -> Int32 {
        let directory = try logDirectory(arguments)
        let log = try openForWriting(directory)
        let signed = try log.checkpoint()
        let recovery = log.recovery
        try log.close()
        if let recovery, !arguments.flag("--json") {
            Output.error("\(directory): an interrupted append was recovered: entry \(recovery.entryIndex) records \(recovery.fragments.map(\.savedAs).joined(separator: ", "))")
        }
        var object: [String: JSONValue] = ["checkpoint": checkpointJSON(signed), "key": .string(log.verifierKey.encoded)]
        if let recovery {
            object["recovery"] = .object(["entry": .integer(Int64(recovery.entryIndex)),
                                          "fragments": .array(recovery.fragments.map { .string($0.savedAs) })])
        }
        if arguments.flag("--json") { Output.json(.object(object)) } else { Output.write(String(decoding: signed.bytes, as: UTF8.self), to: .standardOutput) }
        return ExitStatus.success
    }

    @Sendable static func runAppend(_ arguments: ParsedArguments) throws -> Int32 {
        func object(_ name: String, _ text: String) throws -> [String: JSONValue] {
            guard case .object(let members) = try JSONParser.parse(Array(text.utf8), source: name) else {
                throw CLIError.failure(thing: name, reason: "must be a JSON object")
            }
            return members
        }
        let metadata = try object("--metadata", try arguments.required("--metadata"))
        let content = try object("--content", arguments.value("--content") ?? "{}")
        let log = try openForWriting(try logDirectory(arguments))
        let index = try log.append(metadata: metadata, content: content)
        try log.close()
        render(Result(json: .object(["index": .integer(Int64(index))]), text: ["\(index)"]), arguments)
        return ExitStatus.success
    }
}
