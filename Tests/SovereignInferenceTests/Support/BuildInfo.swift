import Testing
@testable import SovereignInference

/// Whether SovereignInference was compiled with optimisation. Unoptimised,
/// its kernels are some 500× slower: a test that runs the real model would
/// take hours, so such tests fail at once with this message instead.
enum BuildInfo {
    static let kernelsAreOptimized = SovereignInference.BuildConfiguration.isOptimized
    static let unoptimizedMessage: Comment = """
        SovereignInference is compiled without optimisation, so running the model would take hours. \
        Build it with -O (Package.swift: swiftSettings: [.unsafeFlags(["-O"])] on the target) \
        or run `swift test -c release`.
        """
}
