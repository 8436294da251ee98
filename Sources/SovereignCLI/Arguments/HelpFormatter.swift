/// Renders help the way swift-argument-parser does, so it reads familiar.
enum HelpFormatter {
    static func usageLine(_ command: CommandSpec, path: [String]) -> String {
        var parts = [path.joined(separator: " ")]
        if !command.subcommands.isEmpty {
            parts.append("<subcommand>")
        } else {
            parts += command.arguments.map(\.usage)
            for option in command.options {
                parts.append(option.isRequired ? option.usage : "[\(option.usage)]")
            }
        }
        return parts.joined(separator: " ")
    }

    static func help(_ command: CommandSpec, path: [String]) -> String {
        var out = "OVERVIEW: \(command.abstract)\n"
        if let discussion = command.discussion { out += "\n\(discussion)\n" }
        out += "\nUSAGE: \(usageLine(command, path: path))\n"
        if !command.arguments.isEmpty {
            out += "\nARGUMENTS:\n"
            for argument in command.arguments { out += row(argument.name, argument.help) }
        }
        out += "\nOPTIONS:\n"
        for option in command.options { out += row(option.usage, option.help) }
        out += row("-h, --help", "Show help information.")
        if !command.subcommands.isEmpty {
            out += "\nSUBCOMMANDS:\n"
            for sub in command.subcommands { out += row(sub.name, sub.abstract) }
            out += "\n  See '\(path.first ?? "sovereign") help <subcommand>' for detailed help.\n"
        }
        return out
    }

    private static func row(_ left: String, _ right: String) -> String {
        let padded = left.count < 24 ? left + String(repeating: " ", count: 24 - left.count) : left + "\n" + String(repeating: " ", count: 26)
        return "  \(padded)\(right)\n"
    }
}
