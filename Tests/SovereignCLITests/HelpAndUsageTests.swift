import Testing
import SovereignTestSupport

@Suite struct HelpAndUsageTests {
    static let commands: [[String]] = [
        [], ["key"], ["key", "generate"], ["key", "show"], ["digest"], ["sign-file"], ["verify-file"],
        ["attest"], ["verify-envelope"], ["build"], ["inspect"], ["sign"], ["policy"], ["policy", "init"],
        ["verify"], ["install"], ["status"], ["rollback"], ["gc"],
        ["model"], ["model", "info"], ["model", "tokenize"], ["model", "generate"],
        ["chat"], ["serve"], ["certify"], ["verify-attestation"], ["attach"], ["layer"], ["layer", "digest"], ["layer", "sign"],
    ]

    @Test(arguments: commands)
    func everyCommandHasHelp(command: [String]) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for form in [command + ["--help"], command + ["-h"], ["help"] + command] {
            let result = try CLI.run(form, in: directory.path)
            #expect(result.status == 0, "\(form)")
            #expect(result.stdout.hasPrefix("OVERVIEW: "), "\(form)")
            #expect(result.stdout.contains("\nUSAGE: sovereign"), "\(form)")
            #expect(result.stdout.contains("-h, --help"), "\(form)")
            #expect(result.stderr.isEmpty)
        }
    }

    @Test func rootHelpListsSubcommands() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let help = try CLI.run(["--help"], in: directory.path).stdout
        for name in ["key", "digest", "sign-file", "verify-file", "attest", "verify-envelope", "build", "inspect", "sign",
                     "policy", "verify", "install", "status", "rollback", "gc", "chat", "serve", "certify", "verify-attestation", "attach", "layer"] {
            #expect(help.contains("\n  \(name) "), "\(name)")
        }
        #expect(help.contains("See 'sovereign help <subcommand>' for detailed help."))
    }

    /// Usage errors: exit 64, the message, then the usage line.
    @Test(arguments: [
        (["frobnicate"], "Error: Unknown subcommand 'frobnicate'"),
        (["digest"], "Error: Missing expected argument '<file>'"),
        (["digest", "a", "--colour"], "Error: Unknown option '--colour'"),
        (["verify-envelope", "e.json"], "Error: Missing expected argument '--pub <public-key>'"),
        (["verify-envelope", "e.json", "--pub", "k.pub", "--threshold", "zero"], "Error: The value 'zero' is invalid for '--threshold'"),
        (["verify-envelope", "e.json", "--pub", "k.pub", "--threshold", "0"], "Error: The value '0' is invalid for '--threshold'"),
        (["key", "generate", "--out", "a", "--out", "b"], "Error: The option '--out' was given more than once"),
        (["key", "generate", "--out", "k", "--strength", "huge"], "Error: The value 'huge' is invalid for '--strength'"),
        (["key", "show", "a", "b"], "Error: Unexpected argument 'b'"),
        (["sign-file", "f", "--key"], "Error: Missing value for '--key <key>'"),
        (["digest", "f", "--json=yes"], "Error: The flag '--json' does not take a value"),
        (["attest", "--key", "k.key", "--out", "e.json"], "Error: Give exactly one of '--statement' or '--envelope'"),
        (["build", "spec.json", "--key", "k.key"], "Error: Missing expected argument '--out <dir>'"),
        (["install", "image"], "Error: Missing expected argument '--policy <policy.json>'"),
        (["verify", "image", "--policy", "p.json", "--vsa-key", "k.key"], "Error: Give '--vsa-key' and '--vsa-out' together"),
        (["status"], "Error: Missing expected argument '--root <dir>'"),
        (["verify-attestation", "vsa.json", "--root", "r"], "Error: Give exactly one of '--policy' or '--pub'"),
        (["verify-attestation", "vsa.json", "--pub", "k.pub", "--image", "i", "--replay"], "Error: '--replay' needs '--root' (the suites replay on an installed appliance)"),
        (["verify-attestation", "vsa.json", "--policy", "p.json", "--threshold", "2", "--root", "r"], "Error: '--threshold' goes with '--pub'; with '--policy' the policy's certifier threshold counts"),
        (["verify-attestation", "vsa.json", "--pub", "k.pub", "--root", "r", "--threads", "2"], "Error: '--threads' goes with '--replay'"),
        (["attach", "vsa.json"], "Error: Missing expected argument '--image <dir>'"),
        (["serve", "--root", "r", "--engine-model", "m"], "Error: '--engine-model' needs '--engine'"),
        (["serve", "--root", "r", "--engine", "openai:http://127.0.0.1:1/v1", "--engine-token-file", "a", "--engine-token-file", "b"],
         "Error: '--engine-token-file' is given 2 times for 1 engine; give it once, or once per '--engine'"),
        (["serve", "--root", "r", "--engine", "openai:http://127.0.0.1:1/v1", "--engine-timeout", "0"], "Error: The value '0' is invalid for '--engine-timeout'"),
        (["certify", "--root", "r", "--key", "k.key", "--out", "o", "--engine", "openai:http://127.0.0.1:1/v1", "--engine", "openai:http://127.0.0.1:2/v1"],
         "Error: The option '--engine' was given more than once"),
        (["policy", "init", "--release-key", "r.pub", "--threshold", "1", "--certified-engine", "embedded", "--out", "p.json"],
         "Error: '--certified-engine' needs at least one '--certifier-key'"),
        (["policy", "init", "--release-key", "r.pub", "--threshold", "1", "--author-key", "a.pub", "--out", "p.json"],
         "Error: Missing expected argument '--author-threshold <n>' (needed with '--author-key')"),
        (["policy", "init", "--release-key", "r.pub", "--threshold", "1", "--author-threshold", "1", "--out", "p.json"],
         "Error: '--author-threshold' needs at least one '--author-key'"),
        (["sign-file", "f", "--key", "k.key", "--passphrase-env", "A", "--passphrase-file", "B"],
         "Error: Give either '--passphrase-env' or '--passphrase-file', not both"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let w = try Workspace(keys: [])
        defer { w.remove() }
        w.write("f", "")
        let result = try w.run(arguments)
        #expect(result.status == 64)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first == message)
        #expect(lines.dropFirst().first?.hasPrefix("Usage: sovereign") == true)
        #expect(result.stdout.isEmpty)
    }

    @Test func version() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let result = try CLI.run(["--version"], in: directory.path)
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: ".").count == 3)
    }
}
