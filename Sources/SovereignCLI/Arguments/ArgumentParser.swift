/// What the user typed, sorted into positionals, option values and flags.
struct ParsedArguments: Sendable {
    let command: [String]
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []

    func value(_ name: String) -> String? { values[name]?.last }
    func allValues(_ name: String) -> [String] { values[name] ?? [] }
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value of a required option (presence checked by the parser).
    func required(_ name: String) throws(CLIError) -> String {
        guard let value = value(name) else { throw .usage("Missing expected argument '\(name)'", command: command) }
        return value
    }

    /// An option's value as a positive integer, or a usage error.
    func positiveInteger(_ name: String, default defaultValue: Int) throws(CLIError) -> Int {
        guard let text = value(name) else { return defaultValue }
        guard let number = Int(text), number > 0 else {
            throw .usage("The value '\(text)' is invalid for '\(name)'", command: command)
        }
        return number
    }
}

/// Parses argv against the command tree, swift-argument-parser style.
enum ArgumentParser {
    enum Outcome {
        case run(CommandSpec, ParsedArguments)
        case help(CommandSpec, path: [String])
    }

    static func parse(_ arguments: [String], root: CommandSpec) throws(CLIError) -> Outcome {
        var command = root
        var path = [root.name]
        var rest = arguments[...]

        // Walk down the subcommands; `help a b` means `a b --help`.
        if rest.first == "help" {
            rest = rest.dropFirst()
            for word in rest {
                guard let sub = command.subcommands.first(where: { $0.name == word }) else {
                    throw .usage("Unknown subcommand '\(word)'", command: path)
                }
                command = sub
                path.append(word)
            }
            return .help(command, path: path)
        }
        while !command.subcommands.isEmpty {
            guard let word = rest.first else { return .help(command, path: path) }
            if word == "-h" || word == "--help" { return .help(command, path: path) }
            guard let sub = command.subcommands.first(where: { $0.name == word }) else {
                if word.hasPrefix("-") { throw .usage("Unknown option '\(word)'", command: path) }
                throw .usage("Unknown subcommand '\(word)'", command: path)
            }
            command = sub
            path.append(word)
            rest = rest.dropFirst()
        }

        var parsed = ParsedArguments(command: path)
        var onlyPositionals = false
        while let word = rest.first {
            rest = rest.dropFirst()
            if onlyPositionals || !word.hasPrefix("-") || word == "-" {
                parsed.positionals.append(word)
                continue
            }
            if word == "--" { onlyPositionals = true; continue }
            if word == "-h" || word == "--help" { return .help(command, path: path) }
            var name = word
            var inlineValue: String?
            if let equals = word.firstIndex(of: "=") {
                name = String(word[..<equals])
                inlineValue = String(word[word.index(after: equals)...])
            }
            guard let option = command.options.first(where: { $0.name == name }) else {
                throw .usage("Unknown option '\(name)'", command: path)
            }
            if option.valueName == nil {
                guard inlineValue == nil else { throw .usage("The flag '\(name)' does not take a value", command: path) }
                parsed.flags.insert(name)
                continue
            }
            guard let value = inlineValue ?? rest.first else {
                throw .usage("Missing value for '\(option.usage)'", command: path)
            }
            if inlineValue == nil { rest = rest.dropFirst() }
            if !option.isRepeatable, parsed.values[name] != nil {
                throw .usage("The option '\(name)' was given more than once", command: path)
            }
            parsed.values[name, default: []].append(value)
        }

        for option in command.options where option.isRequired && parsed.values[option.name] == nil {
            throw .usage("Missing expected argument '\(option.usage)'", command: path)
        }
        let required = command.arguments.filter { !$0.isOptional }
        if parsed.positionals.count < required.count {
            throw .usage("Missing expected argument '\(required[parsed.positionals.count].name)'", command: path)
        }
        if !command.arguments.contains(where: \.isVariadic), parsed.positionals.count > command.arguments.count {
            throw .usage("Unexpected argument '\(parsed.positionals[command.arguments.count])'", command: path)
        }
        return .run(command, parsed)
    }
}
