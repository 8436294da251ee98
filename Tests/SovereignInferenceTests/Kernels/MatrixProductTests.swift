import Testing
@testable import SovereignInference

/// Every weight type's matrix product: kernel against its scalar twin
/// (ggml's test-quantize-fns: deterministic data, per-type error limits),
/// against the dot product of the decoded weights, and independent of how
/// many activation rows share a call or how many threads run it.
@Suite struct MatrixProductTests {
    static let rows = 37, columns = 576, tokens = 6

    struct Fixture {
        let weights: OwnedMatrix
        let input: [Float]
    }

    static func fixture(_ type: GGMLType, columns: Int = columns) -> Fixture {
        let values = QuantizedTestData.random(count: rows * columns, seed: 11, scale: 0.5)
        var input = QuantizedTestData.random(count: tokens * columns, seed: 12, scale: 2)
        input[5] = 40  // an outlier, as real activations have
        return Fixture(weights: OwnedMatrix(type: type, rows: rows, columns: columns, values: values), input: input)
    }

    /// Runs the product through `MatrixMultiplier` (activations prepared as
    /// the type needs) with `threads` threads and the SIMD or scalar kernels.
    static func product(_ fixture: Fixture, tokens: Int = tokens, reference: Bool = false, threads: Int = 1,
                        kernels: KernelSelection = .automatic) -> [Float] {
        let multiplier = MatrixMultiplier(maxColumns: fixture.weights.matrix.columns, maxRows: tokens)
        multiplier.usesReferenceKernels = reference
        multiplier.kernels = kernels
        let pool = ComputePool(threadCount: threads)
        var output = [Float](repeating: .nan, count: tokens * rows)
        output.withUnsafeMutableBufferPointer { output in
            fixture.input.withUnsafeBufferPointer { input in
                multiplier.multiply(
                    [MatrixMultiplier.Task(weights: fixture.weights.matrix, traits: fixture.weights.traits, output: output.baseAddress!)],
                    input: input.baseAddress!, rows: tokens, columns: fixture.weights.matrix.columns, pool: pool)
            }
        }
        return output
    }

    /// Σ|w·x| per output: the scale float rounding errors are relative to.
    static func magnitudes(_ fixture: Fixture) -> [Double] {
        let columns = fixture.weights.matrix.columns
        var out: [Double] = []
        for token in 0 ..< tokens {
            for row in 0 ..< rows {
                var sum = 0.0
                for c in 0 ..< columns {
                    sum += abs(Double(fixture.weights.decoded[row * columns + c]) * Double(fixture.input[token * columns + c]))
                }
                out.append(sum)
            }
        }
        return out
    }

    @Test(arguments: QuantizedTestData.allTypes)
    func kernelMatchesScalarTwin(type: GGMLType) {
        let fixture = Self.fixture(type)
        let fast = Self.product(fixture)
        let reference = Self.product(fixture, reference: true)
        let scale = Self.magnitudes(fixture)
        for index in fast.indices {
            // Same integers, different float summation order: a few ulps of the terms' magnitude.
            #expect(abs(Double(fast[index] - reference[index])) <= 1e-6 * scale[index] + 1e-6,
                    "\(type) output \(index): \(fast[index]) vs \(reference[index])")
        }
    }

    /// Against Σ w·x of the decoded weights and exact activations: the
    /// difference is the activation quantisation's (≤ half a step per value).
    @Test(arguments: QuantizedTestData.allTypes)
    func productApproximatesExactDotProduct(type: GGMLType) {
        let fixture = Self.fixture(type)
        let fast = Self.product(fixture)
        let columns = fixture.weights.matrix.columns
        var worst = 0.0
        for token in 0 ..< Self.tokens {
            for row in 0 ..< Self.rows {
                var exact = 0.0, magnitude = 0.0
                for c in 0 ..< columns {
                    let term = Double(fixture.weights.decoded[row * columns + c]) * Double(fixture.input[token * columns + c])
                    exact += term
                    magnitude += abs(term)
                }
                worst = max(worst, abs(Double(fast[token * Self.rows + row]) - exact) / magnitude)
            }
        }
        // F32 exact to rounding; F16 rounds activations (2^-11); Q8 (1/254 of the block maximum). Measured: 4e-8, 3e-5, 2.5e-3.
        let limit: Double = type == .f32 ? 1e-6 : type == .f16 ? 2e-4 : 0.01
        #expect(worst <= limit, "\(type): relative error \(worst)")
    }

    /// One call with weights of different types on the same input (Q4_0
    /// takes Q8_0 activations, Q4_1 takes Q8_1, F16 rounded floats): each
    /// result is what it is alone.
    @Test func mixedTypesInOneCall() {
        let types: [GGMLType] = [.q4_0, .q4_1, .q8_0, .f16]
        let fixtures = types.map { Self.fixture($0) }
        let multiplier = MatrixMultiplier(maxColumns: Self.columns, maxRows: Self.tokens)
        var outputs = types.map { _ in [Float](repeating: .nan, count: Self.tokens * Self.rows) }
        let pointers = outputs.indices.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: Self.tokens * Self.rows) }
        defer { pointers.forEach { $0.deallocate() } }
        let tasks = zip(fixtures, pointers).map { fixture, output in
            MatrixMultiplier.Task(weights: fixture.weights.matrix, traits: fixture.weights.traits, output: output)
        }
        fixtures[0].input.withUnsafeBufferPointer { input in
            multiplier.multiply(tasks, input: input.baseAddress!, rows: Self.tokens, columns: Self.columns,
                                pool: ComputePool(threadCount: 2))
        }
        for index in types.indices {
            outputs[index] = Array(UnsafeBufferPointer(start: pointers[index], count: Self.tokens * Self.rows))
            #expect(outputs[index].map(\.bitPattern) == Self.product(fixtures[index]).map(\.bitPattern), "\(types[index])")
        }
    }

    /// The portable C and the AVX2 kernels: the same bits.
    @Test(arguments: QuantizedTestData.allTypes)
    func portableKernelsGiveTheSameBits(type: GGMLType) {
        let fixture = Self.fixture(type)
        #expect(Self.product(fixture, kernels: .portable).map(\.bitPattern) == Self.product(fixture).map(\.bitPattern))
        #expect(Self.product(fixture, tokens: 1, kernels: .portable).map(\.bitPattern)
                == Self.product(fixture, tokens: 1).map(\.bitPattern))
    }

    /// The four-token loop and the one-token loop do the same arithmetic:
    /// each token's result is bit-identical alone and in a batch, and
    /// identical for one and two threads.
    @Test(arguments: QuantizedTestData.allTypes)
    func resultsDoNotDependOnBatchOrThreads(type: GGMLType) {
        let fixture = Self.fixture(type)
        let batch = Self.product(fixture)
        #expect(Self.product(fixture, threads: 2).map(\.bitPattern) == batch.map(\.bitPattern))
        let first = Self.product(fixture, tokens: 1)
        #expect(first.map(\.bitPattern) == Array(batch.prefix(Self.rows)).map(\.bitPattern))
    }

    @Test func traitsCoverEveryTypeOfTheReferenceModel() throws {
        let file = try TestModel.loadFile()
        for tensor in file.tensors {
            #expect(tensor.type.isSupportedForCompute, "\(tensor.name) is \(tensor.type)")
        }
        #expect(KernelTraits.of(.q4_1)?.activation == .q8(.q8_1))
        #expect(KernelTraits.of(.q4_0)?.activation == .q8(.q8_0))
        #expect(KernelTraits.of(.q8_0)?.activation == .q8(.q8_0))
        #expect(KernelTraits.of(.f16)?.activation == .float16)
        #expect(KernelTraits.of(.q4_K) == nil)
        #expect(!GGMLType.q8_1.isSupportedForCompute)  // an activation type only, as in ggml
    }
}

/// Encode → decode round trips: every weight within its type's step.
@Suite struct DequantizationTests {
    @Test(arguments: QuantizedTestData.allTypes)
    func roundTripStaysWithinHalfAStep(type: GGMLType) {
        for (index, x) in [QuantizedTestData.synthetic(count: 1024, offset: 0.3),
                           QuantizedTestData.random(count: 1024, seed: 5, scale: 7)].enumerated() {
            let decoded = QuantizedTestData.decode(QuantizedTestData.encode(x, as: type), as: type, count: x.count)
            for block in stride(from: 0, to: x.count, by: 32) {
                let values = x[block ..< block + 32]
                let amax = values.map(abs).max() ?? 0
                let bound: Float
                switch type {
                case .f32: bound = 0
                case .f16: bound = amax * 0x1p-11
                case .q8_0: bound = 0.6 * amax / 127
                case .q4_0: bound = 1.05 * amax / 8  // ggml clamps q = 16 to 15: a whole step at −max
                default:  // q4_1
                    let low = values.min() ?? 0, high = values.max() ?? 0
                    bound = 0.6 * (high - low) / 15 + abs(low) * 0x1p-10
                }
                for j in block ..< block + 32 {
                    #expect(abs(decoded[j] - x[j]) <= bound, "\(type) data \(index) weight \(j): \(x[j]) → \(decoded[j])")
                }
            }
        }
    }

    /// The real embedding table, row by row as ggml's dequantize_row_q8_0: d·q.
    @Test func decodesEmbeddingRowsOfTheReferenceModel() throws {
        let file = try TestModel.loadFile()
        let tensor = try file.requireTensor("token_embd.weight")
        let matrix = WeightMatrix(tensor: tensor, in: file)
        for row in [0, 1, 504, 49151] {
            var decoded = [Float](repeating: .nan, count: matrix.columns)
            decoded.withUnsafeMutableBufferPointer { Dequantization.dequantizeRowQ8_0(matrix.row(row), $0.baseAddress!, matrix.columns) }
            let bytes = matrix.row(row)
            for j in 0 ..< matrix.columns {
                let block = bytes + (j / 32) * 34
                let d = Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
                #expect(decoded[j] == Float(block.load(fromByteOffset: 2 + j % 32, as: Int8.self)) * d)
            }
        }
    }
}
