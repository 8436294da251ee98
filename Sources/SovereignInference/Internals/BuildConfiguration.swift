/// Facts about how this module was compiled.
enum BuildConfiguration {
    /// False in an unoptimised (-Onone) build, where the kernels run
    /// hundreds of times slower; tests that run a real model check it.
    static let isOptimized = !_isDebugAssertConfiguration()
}
