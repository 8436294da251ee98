import SovereignCLI
import Glibc

exit(Sovereign.main(Array(CommandLine.arguments.dropFirst())))
