import Testing
@testable import SovereignInference

/// The facts REFERENCE.md records about SmolLM2-135M-Instruct Q4_1, read
/// through our parser from the real file.
@Suite struct GGUFRealModelTests {
    @Test func readsHeaderFactsOfTheReferenceModel() throws {
        let file = try TestModel.loadFile()
        #expect(file.fileSize == 98_362_432)
        #expect(file.version == 3)
        #expect(file.tensors.count == 272)
        #expect(file.metadata.count == 33)
        #expect(file.dataOffset == 1_785_664)
        #expect(file.alignment == 32)
        #expect(try file.metadata.string("general.architecture") == "llama")
        #expect(try file.metadata.integer("general.file_type") == 3)
        #expect(try file.metadata.string("tokenizer.ggml.model") == "gpt2")
        #expect(try file.metadata.string("tokenizer.ggml.pre") == "smollm")
        #expect(try file.metadata.stringArray("tokenizer.ggml.tokens").count == 49152)
        #expect(try file.metadata.stringArray("tokenizer.ggml.merges").count == 48900)
    }

    @Test func tensorTypesAndShapesMatchTheReference() throws {
        let file = try TestModel.loadFile()
        var counts: [GGMLType: Int] = [:]
        for tensor in file.tensors { counts[tensor.type, default: 0] += 1 }
        #expect(counts == [.q4_1: 210, .f32: 61, .q8_0: 1])
        let embedding = try file.requireTensor("token_embd.weight")
        #expect(embedding.type == .q8_0)
        #expect(embedding.dimensions == [576, 49152])
        #expect(embedding.byteCount == 576 / 32 * 34 * 49152)
        #expect(file.tensor(named: "output.weight") == nil)
        #expect(try file.requireTensor("blk.0.attn_k.weight").dimensions == [576, 192])
        #expect(try file.requireTensor("blk.29.ffn_down.weight").dimensions == [1536, 576])
        // The data section is fully used: the last tensor ends at the end of the file.
        let end = file.tensors.map { $0.fileOffset + $0.byteCount }.max()
        #expect(end == file.fileSize)
    }

    @Test func tensorDataIsReadableAndDecodesToPlausibleNorms() throws {
        let file = try TestModel.loadFile()
        let norm = try file.requireTensor("output_norm.weight")
        let values: [Float] = file.withTensorData(norm) { bytes in
            (0 ..< 576).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        #expect(values.allSatisfy { $0.isFinite })
        #expect(values.contains { $0 != 0 })
    }
}
