import Testing
@testable import SovereignInference

/// The hyper-parameters of the real model, and headers whose numbers or
/// tensor shapes do not fit a llama model.
@Suite struct LlamaHyperParametersTests {
    @Test func hyperParametersOfTheReferenceModel() throws {
        let file = try TestModel.loadFile()
        let hp = try LlamaHyperParameters(file: file)
        #expect(hp.blockCount == 30)
        #expect(hp.embeddingLength == 576)
        #expect(hp.headCount == 9)
        #expect(hp.keyValueHeadCount == 3)
        #expect(hp.headDimension == 64)
        #expect(hp.groupSize == 3)
        #expect(hp.feedForwardLength == 1536)
        #expect(hp.contextLength == 8192)
        #expect(hp.ropeFrequencyBase == 100_000)
        #expect(hp.ropeDimensionCount == 64)
        #expect(hp.rmsNormEpsilon == 1e-5)
        #expect(hp.vocabularySize == 49152)
        #expect(hp.tiesEmbeddings)
    }

    @Test func rejectsWrongShapesForTheArchitecture() throws {
        var b = GGUFBuilder.tinyLlama()
        b.tensors[4].dimensions = [64, 64]   // attn_k as wide as attn_q: the header says 2 KV heads
        let file = try GGUFFile(bytes: b.build(), source: "shape.gguf")
        #expect(throws: GGUFError.tensorShapeMismatch(
            source: "shape.gguf", tensor: "blk.0.attn_k.weight", expected: "[64, 32]", actual: "[64, 64]")) {
            try LlamaHyperParameters(file: file)
        }

        b = GGUFBuilder.tinyLlama()
        b.tensors.remove(at: 9)
        let missing = try GGUFFile(bytes: b.build(), source: "missing.gguf")
        #expect(throws: GGUFError.missingTensor(source: "missing.gguf", tensor: "blk.0.ffn_up.weight")) {
            try LlamaHyperParameters(file: missing)
        }
    }

    @Test func rejectsInconsistentHyperParameters() throws {
        func error(_ key: String, _ value: GGUFBuilder.Value) throws -> GGUFError? {
            var b = GGUFBuilder.tinyLlama()
            b.metadata = b.metadata.map { $0.0 == key ? (key, value) : $0 }
            let file = try GGUFFile(bytes: b.build(), source: "hp.gguf")
            do {
                _ = try LlamaHyperParameters(file: file)
                return nil
            } catch {
                return error
            }
        }
        #expect(try error("general.architecture", .string("gpt2")) == .unsupportedModel(
            source: "hp.gguf", reason: "architecture 'gpt2' is not supported (expected 'llama')"))
        #expect(try error("llama.attention.head_count", .uint32(5)) == .unsupportedModel(
            source: "hp.gguf", reason: "embedding length 64 is not a multiple of the head count 5"))
        #expect(try error("llama.attention.head_count_kv", .uint32(3)) == .unsupportedModel(
            source: "hp.gguf", reason: "head count 4 is not a multiple of the key/value head count 3"))
        #expect(try error("llama.block_count", .uint32(0)) == .invalidMetadata(
            source: "hp.gguf", key: "llama.block_count", reason: "0 is not in 1...16777216"))
        #expect(try error("llama.block_count", .string("30")) == .typeMismatch(
            source: "hp.gguf", key: "llama.block_count", expected: "an integer", actual: "string"))
        #expect(try error("llama.attention.layer_norm_rms_epsilon", .float32(-1)) == .invalidMetadata(
            source: "hp.gguf", key: "llama.attention.layer_norm_rms_epsilon", reason: "-1.0 is not a positive number"))
        #expect(try error("llama.rope.dimension_count", .uint32(17)) == .unsupportedModel(
            source: "hp.gguf", reason: "RoPE dimension count 17 must be even and at most the head size 16"))
        #expect(try error("llama.block_count", .uint32(2)) == .missingTensor(source: "hp.gguf", tensor: "blk.1.attn_norm.weight"))
    }
}
