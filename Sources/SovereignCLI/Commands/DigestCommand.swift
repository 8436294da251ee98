import SovereignCrypto
import SovereignFormats

/// `sovereign digest`: SHA-256 of files, sha256sum-compatible.
enum DigestCommand {
    static let spec = CommandSpec(
        name: "digest",
        abstract: "Print the SHA-256 digest of files.",
        discussion: "The text output has sha256sum's form ('<hex>  <file>'), so `sha256sum -c` can check it.",
        arguments: [ArgumentSpec(name: "<file>", help: "Files to hash.", isVariadic: true)],
        options: [CommonOptions.json],
        run: run
    )

    @Sendable static func run(_ arguments: ParsedArguments) throws -> Int32 {
        var results: [JSONValue] = []
        for path in arguments.positionals {
            let progress = Progress(label: path, total: nil)
            let (digest, size) = try FileHashing.sha256(ofFile: path, progress: progress.update)
            progress.finish()
            if arguments.flag("--json") {
                results.append(.object(["path": .string(path), "sha256": .string(digest.hex), "size": .integer(size)]))
            } else {
                Output.line("\(digest.hex)  \(path)")
            }
        }
        if arguments.flag("--json") { Output.json(.array(results)) }
        return ExitStatus.success
    }
}
