import CInferenceKernels

/// Which machine code runs the C kernels (`CInferenceKernels`): the fastest
/// this CPU has (AVX2 with FMA and F16C on x86-64, where present) or the
/// portable C. Both give bit-identical results, so a model's output does
/// not depend on the machine; `portable` exists so tests can prove it.
public enum KernelSelection: String, Sendable, CaseIterable {
    case automatic
    case portable

    /// What runs on this machine: "avx2" or "portable".
    public var instructionSet: String { String(cString: sov_kernels_name(c)) }

    var c: sov_kernels { self == .portable ? SOV_KERNELS_PORTABLE : SOV_KERNELS_AUTOMATIC }
}
