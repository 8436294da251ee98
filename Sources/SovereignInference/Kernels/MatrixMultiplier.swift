/// Multiplies weight matrices by a batch of activation rows (one per
/// token): prepares the activations once in each form the weight types
/// take (`KernelTraits.Activation`), then shares the output rows of all the
/// matrices among the pool's threads in chunks. Several matrices with the
/// same input (attention's Q, K and V; the FFN's gate and up) go in one
/// call, so they cost one quantisation and one dispatch.
final class MatrixMultiplier {
    /// One product: `output[t · weights.rows + r] = Σ_c W[r, c] · input[t, c]`.
    struct Task {
        let weights: WeightMatrix
        let traits: KernelTraits
        let output: UnsafeMutablePointer<Float>
    }

    let maxColumns: Int
    let maxRows: Int
    /// Use the scalar twins (tests compare whole forward passes with them).
    var usesReferenceKernels = false
    /// Which machine code the C kernels run (results are the same).
    var kernels = KernelSelection.automatic
    /// Quantised activations, one buffer per block type (Q4_0 and Q8_0
    /// weights take Q8_0 blocks, Q4_1 takes Q8_1; a model may mix them).
    private let q8_0: Q8BlockBuffer
    private let q8_1: Q8BlockBuffer
    private let halves: UnsafeMutablePointer<Float>

    /// Output rows per chunk of work handed to a thread.
    static let rowsPerChunk = 64

    init(maxColumns: Int, maxRows: Int) {
        let columns = (maxColumns + 31) / 32 * 32
        self.maxColumns = columns
        self.maxRows = maxRows
        q8_0 = Q8BlockBuffer(capacity: columns * maxRows)
        q8_1 = Q8BlockBuffer(capacity: columns * maxRows)
        halves = .allocate(capacity: columns * maxRows)
    }

    deinit { halves.deallocate() }

    /// Runs `tasks`, all of whose weights have `columns` columns, on
    /// `rows` activation rows of `input` (row stride `columns`).
    func multiply(_ tasks: [Task], input: UnsafePointer<Float>, rows: Int, columns: Int, pool: ComputePool) {
        precondition(rows <= maxRows && columns <= maxColumns)
        precondition(tasks.allSatisfy { $0.weights.columns == columns })

        // Prepare each activation form once.
        var blocksQ8_0: Q8Blocks?, blocksQ8_1: Q8Blocks?
        var rounded: UnsafePointer<Float>?
        for task in tasks {
            switch task.traits.activation {
            case .float32:
                break
            case .float16:
                if rounded == nil {
                    for i in 0 ..< rows * columns { halves[i] = HalfPrecision.rounded(input[i]) }
                    rounded = UnsafePointer(halves)
                }
            case .q8(let type) where type == .q8_1:
                if blocksQ8_1 == nil {
                    blocksQ8_1 = q8_1.fill(.q8_1, from: input, rows: rows, columns: columns, reference: usesReferenceKernels)
                }
            case .q8:
                if blocksQ8_0 == nil {
                    blocksQ8_0 = q8_0.fill(.q8_0, from: input, rows: rows, columns: columns, reference: usesReferenceKernels)
                }
            }
        }

        // Chunks of output rows, numbered across all tasks in order.
        var firstChunk: [Int] = []
        var chunkCount = 0
        for task in tasks {
            firstChunk.append(chunkCount)
            chunkCount += (task.weights.rows + Self.rowsPerChunk - 1) / Self.rowsPerChunk
        }
        let reference = usesReferenceKernels, kernels = kernels
        pool.forEachChunk(chunkCount) { chunk, _ in
            var index = tasks.count - 1
            while firstChunk[index] > chunk { index -= 1 }
            let task = tasks[index]
            let start = (chunk - firstChunk[index]) * Self.rowsPerChunk
            let range = start ..< min(start + Self.rowsPerChunk, task.weights.rows)
            switch reference ? task.traits.productReference : task.traits.product {
            case .float(let kernel):
                let operand = task.traits.activation == .float16 ? (rounded ?? input) : input
                kernel(task.weights, range, operand, rows, task.output, task.weights.rows)
            case .quantized(let kernel):
                guard case .q8(let type) = task.traits.activation, let blocks = type == .q8_1 ? blocksQ8_1 : blocksQ8_0 else {
                    preconditionFailure("activations were not quantised")
                }
                kernel(task.weights, range, blocks, task.output, task.weights.rows, kernels)
            }
        }
    }
}
