// swift-tools-version:6.0
// Sovereign: signed, reproducible, offline model appliances.
// No SwiftPM package dependencies: system libraries come in through
// system-library targets only (libsodium, libarchive, OpenSSL libcrypto).
import PackageDescription

let package = Package(
    name: "Sovereign",
    products: [
        .executable(name: "sovereign", targets: ["sovereign"]),
    ],
    targets: [
        // System-library shims. Each exposes one C header and links one library.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),

        // Header-only shim for Linux system calls glibc's Swift module hides.
        .systemLibrary(name: "CLinux"),

        .target(name: "SovereignSystem", dependencies: ["CLinux"]),
        .target(name: "SovereignCrypto", dependencies: ["SovereignSystem", "CSodium", "CCrypto"]),
        .target(name: "SovereignFormats", dependencies: ["SovereignSystem", "SovereignCrypto"]),
        .target(name: "SovereignPolicy", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats"]),
        .target(name: "SovereignArchive", dependencies: ["SovereignSystem", "SovereignCrypto", "CArchive"]),
        .target(name: "SovereignImage", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats", "SovereignArchive", "SovereignPolicy", "SovereignTrust"]),
        .target(name: "SovereignTrust", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats", "SovereignPolicy"]),
        .target(name: "SovereignInstall", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats", "SovereignArchive", "SovereignImage", "SovereignTrust"]),
        .target(name: "SovereignCLI", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats", "SovereignImage", "SovereignTrust", "SovereignInstall", "SovereignInference", "SovereignLog", "SovereignSteering", "SovereignHTTP", "SovereignServe", "SovereignCertify"]),
        // The hot loops in C, with ggml's exact arithmetic (fused multiply-adds
        // in lanes); AVX2 chosen at run time, never -march. No contraction
        // beyond the fused operations written out.
        .target(name: "CInferenceKernels", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]),
        // Both optimised even in debug builds: unoptimised, the kernels run
        // ~1000x slower (0.14 tok/s measured) and the model tests would take hours.
        .target(name: "SovereignInference", dependencies: ["SovereignSystem", "CInferenceKernels"], swiftSettings: [.unsafeFlags(["-O"])]),
        // The audit log: RFC 6962 Merkle tree, C2SP signed checkpoints, proofs.
        .target(name: "SovereignLog", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats"]),
        // The steering runtime: normalised rule checks, detectors, BM25 retrieval, the control loop.
        // Optimised even in debug builds, like the engine it drives: the rule
        // automata run on every decoded token, and unoptimised they cost
        // more than the forward pass in the model tests.
        .target(name: "SovereignSteering", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats", "SovereignPolicy", "SovereignInference", "SovereignHTTP"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        // HTTP/1.1 on POSIX sockets: bounded parsing, keep-alive, streaming, limits and shutdown.
        .target(name: "SovereignHTTP", dependencies: ["SovereignSystem", "SovereignFormats", "CLinux"]),
        // `sovereign serve`: the OpenAI API over the steering runtime, continuous batching, metrics, the log.
        .target(name: "SovereignServe", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats", "SovereignPolicy", "SovereignInference", "SovereignSteering", "SovereignLog", "SovereignHTTP"]),
        // `sovereign certify`: audit suites replayed steered and bare, the load-bearing verdict, signed VSA and audit report.
        .target(name: "SovereignCertify", dependencies: ["SovereignSystem", "SovereignCrypto", "SovereignFormats", "SovereignTrust", "SovereignPolicy", "SovereignInference", "SovereignSteering"]),
        // Side-by-side inference benchmark driver (bench/inference/run).
        .executableTarget(name: "InferenceBench", dependencies: ["SovereignSystem", "SovereignInference"]),
        // bench/steering's driver: the layer's cost, corrections, log appends.
        .executableTarget(name: "SteeringBench", dependencies: ["SovereignSystem", "SovereignFormats", "SovereignPolicy", "SovereignInference", "SovereignSteering", "SovereignLog"]),
        .executableTarget(name: "sovereign", dependencies: ["SovereignCLI"]),

        // Helpers shared by the test targets (scratch dirs, processes, seeded bytes).
        .target(name: "SovereignTestSupport", path: "Tests/SovereignTestSupport"),
        .testTarget(name: "SovereignCryptoTests", dependencies: ["SovereignCrypto", "SovereignTestSupport"]),
        .testTarget(name: "SovereignFormatsTests", dependencies: ["SovereignFormats", "SovereignTestSupport"]),
        .testTarget(name: "SovereignArchiveTests", dependencies: ["SovereignArchive", "SovereignCrypto", "SovereignTestSupport"]),
        .testTarget(name: "SovereignPolicyTests", dependencies: ["SovereignPolicy", "SovereignFormats", "SovereignTestSupport"]),
        .testTarget(name: "SovereignTrustTests", dependencies: ["SovereignTrust", "SovereignCrypto", "SovereignFormats", "SovereignPolicy"]),
        .testTarget(name: "SovereignCLITests", dependencies: ["SovereignCLI", "sovereign", "SovereignTestSupport", "SovereignImage", "SovereignInstall", "SovereignSystem", "SovereignCrypto"]),
        .testTarget(name: "SovereignLogTests", dependencies: ["SovereignLog", "SovereignCrypto", "SovereignTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "SovereignSteeringTests", dependencies: ["SovereignSteering", "SovereignPolicy", "SovereignInference", "SovereignHTTP", "SovereignFormats", "SovereignTestSupport"]),
        .testTarget(name: "SovereignHTTPTests", dependencies: ["SovereignHTTP", "SovereignSystem", "SovereignFormats", "SovereignTestSupport"]),
        .testTarget(name: "SovereignServeTests", dependencies: ["SovereignServe", "SovereignHTTP", "SovereignLog", "SovereignSystem", "SovereignPolicy", "SovereignInference", "SovereignSteering", "SovereignTestSupport"]),
        .testTarget(name: "SovereignInferenceTests", dependencies: ["SovereignInference", "SovereignTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
