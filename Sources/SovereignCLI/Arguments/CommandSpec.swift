/// A command-line option: `--name <value>` or a flag `--name`.
struct OptionSpec: Sendable {
    let name: String
    /// `<value>` placeholder; nil for a flag.
    let valueName: String?
    let help: String
    var isRequired = false
    var isRepeatable = false

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, valueName: nil, help: help)
    }

    static func value(_ name: String, _ valueName: String, _ help: String,
                      required: Bool = false, repeatable: Bool = false) -> OptionSpec {
        OptionSpec(name: name, valueName: valueName, help: help, isRequired: required, isRepeatable: repeatable)
    }

    var usage: String { valueName.map { "\(name) \($0)" } ?? name }
}

/// A positional argument: `<file>`, optionally variadic (`<file> ...`).
struct ArgumentSpec: Sendable {
    let name: String
    let help: String
    var isVariadic = false
    var isOptional = false

    var usage: String {
        let base = isVariadic ? "\(name) ..." : name
        return isOptional ? "[\(base)]" : base
    }
}

/// A command: either a group of subcommands or a leaf that runs.
struct CommandSpec: Sendable {
    let name: String
    let abstract: String
    var discussion: String? = nil
    var arguments: [ArgumentSpec] = []
    var options: [OptionSpec] = []
    var subcommands: [CommandSpec] = []
    /// Runs the command; returns the exit status. Nil for groups.
    var run: (@Sendable (ParsedArguments) throws -> Int32)? = nil
}

/// Options that every command shares, declared once.
enum CommonOptions {
    static let json = OptionSpec.flag("--json", "Print the result as JSON.")
    static let passphraseEnv = OptionSpec.value("--passphrase-env", "<var>", "Read the key's passphrase from this environment variable.")
    static let passphraseFile = OptionSpec.value("--passphrase-file", "<file>", "Read the key's passphrase from this file (one trailing newline is ignored).")
    static let passphrase = [passphraseEnv, passphraseFile]
}
