import Testing
@testable import SovereignInference

/// A deterministic pseudo-random generator (SplitMix64), so a failing case
/// can be replayed from its seed and index.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Mutates the header and metadata of a small but complete llama GGUF
/// (vocabulary, merges, template, tensors) and loads each result through
/// everything that reads a model file. Each case must end in a clean
/// `GGUFError` or a clean load whose tensors are all readable — never a
/// crash (a crash kills the test process, which fails the run).
@Suite struct GGUFFuzzTests {
    static let caseCount = 1500
    static let seed: UInt64 = 0x50_5645_5245_4947  // fixed: "SOVEREIG"

    static let interesting64: [UInt64] = [
        0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 63, 64, 255, 256, 4095, 4096, 65535, 65536,
        1 << 20, 1 << 24, 1 << 31, 1 << 32, 1 << 40, 1 << 62, 1 << 63,
        UInt64(Int64.max), UInt64.max, UInt64.max - 1, UInt64.max - 31,
    ]

    enum Outcome { case loaded, rejected }

    @Test func mutatedHeadersLoadCleanlyOrFailWithATypedError() throws {
        let base = GGUFBuilder.tinyLlama().build()
        let headerEnd = try GGUFFile(bytes: base).dataOffset
        var random = SplitMix64(seed: Self.seed)
        var outcomes: [Outcome: Int] = [:]
        var reasons = Set<String>()

        for index in 0 ..< Self.caseCount {
            var bytes = base
            let mutations = Int.random(in: 1 ... 4, using: &random)
            for _ in 0 ..< mutations { Self.mutate(&bytes, headerEnd: headerEnd, using: &random) }
            let source = "fuzz-\(index).gguf"
            do {
                let file = try GGUFFile(bytes: bytes, source: source)
                outcomes[.loaded, default: 0] += 1
                Self.exercise(file)
            } catch {
                outcomes[.rejected, default: 0] += 1
                #expect(error.source == source)
                #expect(error.description.hasPrefix(source + ": "))
                reasons.insert(Self.kind(of: error))
            }
        }
        // The mutations must reach both outcomes and many kinds of error,
        // or the test is not exploring anything.
        #expect((outcomes[.loaded] ?? 0) > 50, "\(outcomes)")
        #expect((outcomes[.rejected] ?? 0) > 500, "\(outcomes)")
        #expect(reasons.count >= 6, "\(reasons.sorted())")
    }

    /// Everything a loaded file feeds: tensor bytes, hyper-parameters,
    /// tokenizer (encode and decode), chat template.
    static func exercise(_ file: GGUFFile) {
        for tensor in file.tensors {
            let data = file.data(for: tensor)
            if let first = data.first, let last = data.last { _ = first &+ last }
            #expect(tensor.fileOffset + tensor.byteCount <= file.fileSize)
        }
        _ = try? LlamaHyperParameters(file: file)
        if let tokenizer = try? BPETokenizer(file: file) {
            let ids = tokenizer.encode("hello world <|im_start|>user 123 \u{1F600} caf\u{E9}", parseSpecial: true)
            _ = tokenizer.decode(ids)
            var stream = StreamingTokenDecoder(vocabulary: tokenizer.vocabulary, special: true)
            for id in ids { _ = stream.append(id) }
            _ = stream.finish()
        }
        if let template = try? ChatTemplate(file: file) {
            _ = template.render([.user("hi")])
        }
    }

    static func mutate(_ bytes: inout [UInt8], headerEnd: Int, using random: inout SplitMix64) {
        guard !bytes.isEmpty else { return }
        let limit = min(headerEnd, bytes.count)
        let position = Int.random(in: 0 ..< max(limit, 1), using: &random)
        switch Int.random(in: 0 ..< 7, using: &random) {
        case 0:  // flip one bit
            bytes[position] ^= 1 << UInt8.random(in: 0 ..< 8, using: &random)
        case 1:  // any byte
            bytes[position] = UInt8.random(in: 0 ... 255, using: &random)
        case 2:  // an interesting 64-bit value (counts, lengths, offsets, dims)
            let value = interesting64.randomElement(using: &random) ?? 0
            write(value, at: position, in: &bytes)
        case 3:  // an interesting 32-bit value (type tags, versions, n_dims)
            let value = UInt32.random(in: 0 ... 14, using: &random)
            let chosen = Bool.random(using: &random) ? value : UInt32.max - value
            write(chosen, at: position, in: &bytes)
        case 4:  // truncate
            bytes.removeSubrange(Int.random(in: 0 ..< bytes.count, using: &random)...)
        case 5:  // insert a few random bytes
            let count = Int.random(in: 1 ... 16, using: &random)
            bytes.insert(contentsOf: (0 ..< count).map { _ in UInt8.random(in: 0 ... 255, using: &random) }, at: position)
        default:  // delete a few bytes
            let end = min(bytes.count, position + Int.random(in: 1 ... 16, using: &random))
            bytes.removeSubrange(position ..< end)
        }
    }

    static func write<T: FixedWidthInteger>(_ value: T, at position: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (offset, byte) in raw.enumerated() where position + offset < bytes.count {
                bytes[position + offset] = byte
            }
        }
    }

    static func kind(of error: GGUFError) -> String {
        // The case name: an enum with payloads reflects as one child labelled so.
        Mirror(reflecting: error).children.first?.label ?? "unlabelled"
    }
}
