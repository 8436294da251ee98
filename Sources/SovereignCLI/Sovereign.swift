import Glibc

/// The `sovereign` command line.
public enum Sovereign {
    public static let version = "0.1.0"

    static let root = CommandSpec(
        name: "sovereign",
        abstract: "Signed, reproducible, offline model appliances.",
        discussion: """
        Exit status: 0 on success, 1 when a command fails (one line on \
        stderr: 'sovereign: <thing>: <reason>'), 64 on a usage error.
        """,
        options: [.flag("--version", "Show the version.")],
        subcommands: [
            KeyCommands.spec,
            DigestCommand.spec,
            FileSignatureCommands.sign,
            FileSignatureCommands.verify,
            EnvelopeCommands.attest,
            EnvelopeCommands.verify,
            BuildCommand.spec,
            ImageCommands.inspect,
            ImageCommands.sign,
            ImageCommands.attach,
            PolicyCommands.spec,
            LayerCommands.spec,
            InstallCommands.verify,
            InstallCommands.install,
            InstallCommands.status,
            InstallCommands.rollback,
            InstallCommands.gc,
            ModelCommands.spec,
            LogCommands.spec,
            ChatCommand.spec,
            ServeCommand.spec,
            CertifyCommand.spec,
            VerifyAttestationCommand.spec,
        ]
    )

    /// Runs the CLI on `arguments` (without the program name); returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        if arguments == ["--version"] {
            Output.line(version)
            return ExitStatus.success
        }
        do {
            switch try ArgumentParser.parse(arguments, root: root) {
            case .help(let command, let path):
                Output.write(HelpFormatter.help(command, path: path), to: .standardOutput)
                return ExitStatus.success
            case .run(let command, let parsed):
                guard let run = command.run else { return ExitStatus.usage }
                return try run(parsed)
            }
        } catch {
            return report(CLIError.from(error))
        }
    }

    private static func report(_ error: CLIError) -> Int32 {
        switch error {
        case .usage(let message, let path):
            Output.error("Error: \(message)")
            if let command = find(path) {
                Output.error("Usage: \(HelpFormatter.usageLine(command, path: path))")
                Output.error("  See '\(path.joined(separator: " ")) --help' for more information.")
            }
            return ExitStatus.usage
        case .failure(let thing, let reason):
            Output.error("sovereign: \(thing): \(reason)")
            return ExitStatus.failure
        }
    }

    private static func find(_ path: [String]) -> CommandSpec? {
        var command = root
        for name in path.dropFirst() {
            guard let sub = command.subcommands.first(where: { $0.name == name }) else { return nil }
            command = sub
        }
        return command
    }
}
