import Foundation
@testable import SovereignInference

/// Writes GGUF bytes for tests: well-formed by default, with every field
/// overridable so that hostile files can be made on purpose.
struct GGUFBuilder {
    enum Value {
        case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
        case uint32(UInt32), int32(Int32), float32(Float), bool(Bool)
        case string(String), uint64(UInt64), int64(Int64), float64(Double)
        case array(ArrayValue)
        /// Arbitrary bytes after a raw type tag (for hostile values).
        case raw(type: UInt32, bytes: [UInt8])
    }

    enum ArrayValue {
        case uint8([UInt8]), int32([Int32]), uint32([UInt32]), float32([Float])
        case string([String]), bool([Bool]), uint64([UInt64])
        case array([ArrayValue])
    }

    struct Tensor {
        var name: String
        var dimensions: [UInt64]
        var type: UInt32
        /// nil: placed after the previous tensor, aligned.
        var offset: UInt64?
        /// Bytes written for it; nil: the size its shape and type imply.
        var dataSize: Int?
        var fill: UInt8 = 0
        /// Contents (written instead of `fill` bytes, as far as they go).
        var data: [UInt8]? = nil
    }

    var magic: [UInt8] = Array("GGUF".utf8)
    var version: UInt32 = 3
    var metadata: [(String, Value)] = []
    var tensors: [Tensor] = []
    var alignment: Int = 32
    /// Override the counts written in the header.
    var tensorCountOverride: UInt64?
    var metadataCountOverride: UInt64?

    mutating func add(_ key: String, _ value: Value) { metadata.append((key, value)) }

    mutating func addTensor(_ name: String, _ dimensions: [UInt64], type: GGMLType = .f32, fill: UInt8 = 0) {
        tensors.append(Tensor(name: name, dimensions: dimensions, type: type.rawValue, offset: nil, dataSize: nil, fill: fill))
    }

    mutating func addTensor(_ name: String, _ dimensions: [UInt64], type: GGMLType, data: [UInt8]) {
        tensors.append(Tensor(name: name, dimensions: dimensions, type: type.rawValue, offset: nil, dataSize: nil, data: data))
    }

    /// Bytes implied by shape and type (0 when not computable or absurd).
    static func impliedSize(_ tensor: Tensor) -> Int {
        guard let type = GGMLType(rawValue: tensor.type), let first = tensor.dimensions.first,
              let row = type.rowBytes(weights: first) else { return 0 }
        var size = row
        for extent in tensor.dimensions.dropFirst() {
            let (product, overflow) = size.multipliedReportingOverflow(by: extent)
            if overflow || product > 1 << 40 { return 0 }
            size = product
        }
        return size > 1 << 40 ? 0 : Int(size)
    }

    func build() -> [UInt8] {
        var out: [UInt8] = []
        out += magic
        put(&out, version)
        put(&out, tensorCountOverride ?? UInt64(tensors.count))
        put(&out, metadataCountOverride ?? UInt64(metadata.count))
        for (key, value) in metadata {
            putString(&out, key)
            putValue(&out, value)
        }

        // Offsets: explicit ones as given, others packed and aligned.
        var placements: [(offset: UInt64, size: Int)] = []
        var cursor: UInt64 = 0
        for tensor in tensors {
            let size = tensor.dataSize ?? Self.impliedSize(tensor)
            let offset = tensor.offset ?? cursor
            placements.append((offset, size))
            if tensor.offset == nil {
                cursor = align(offset + UInt64(size))
            }
        }
        for (tensor, placement) in zip(tensors, placements) {
            putString(&out, tensor.name)
            put(&out, UInt32(tensor.dimensions.count))
            for extent in tensor.dimensions { put(&out, extent) }
            put(&out, tensor.type)
            put(&out, placement.offset)
        }
        while out.count % alignment != 0 { out.append(0) }
        let dataStart = out.count
        for (tensor, placement) in zip(tensors, placements) where placement.size > 0 {
            // Only write data that lands at a sane place; hostile offsets are left dangling.
            guard placement.offset < 1 << 32 else { continue }
            let end = dataStart + Int(placement.offset) + placement.size
            if out.count < end { out += [UInt8](repeating: 0, count: end - out.count) }
            for index in dataStart + Int(placement.offset) ..< end { out[index] = tensor.fill }
            if let data = tensor.data {
                let start = dataStart + Int(placement.offset)
                for (index, byte) in data.prefix(placement.size).enumerated() { out[start + index] = byte }
            }
        }
        return out
    }

    private func align(_ value: UInt64) -> UInt64 {
        let a = UInt64(alignment)
        return (value + a - 1) / a * a
    }

    private func put<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    private func putString(_ out: inout [UInt8], _ string: String) {
        put(&out, UInt64(string.utf8.count))
        out += Array(string.utf8)
    }

    private func putValue(_ out: inout [UInt8], _ value: Value) {
        switch value {
        case .uint8(let v): put(&out, UInt32(0)); put(&out, v)
        case .int8(let v): put(&out, UInt32(1)); put(&out, v)
        case .uint16(let v): put(&out, UInt32(2)); put(&out, v)
        case .int16(let v): put(&out, UInt32(3)); put(&out, v)
        case .uint32(let v): put(&out, UInt32(4)); put(&out, v)
        case .int32(let v): put(&out, UInt32(5)); put(&out, v)
        case .float32(let v): put(&out, UInt32(6)); put(&out, v.bitPattern)
        case .bool(let v): put(&out, UInt32(7)); put(&out, UInt8(v ? 1 : 0))
        case .string(let v): put(&out, UInt32(8)); putString(&out, v)
        case .array(let v): put(&out, UInt32(9)); putArray(&out, v)
        case .uint64(let v): put(&out, UInt32(10)); put(&out, v)
        case .int64(let v): put(&out, UInt32(11)); put(&out, v)
        case .float64(let v): put(&out, UInt32(12)); put(&out, v.bitPattern)
        case .raw(let type, let bytes): put(&out, type); out += bytes
        }
    }

    private func putArray(_ out: inout [UInt8], _ array: ArrayValue) {
        switch array {
        case .uint8(let a): put(&out, UInt32(0)); put(&out, UInt64(a.count)); out += a
        case .int32(let a): put(&out, UInt32(5)); put(&out, UInt64(a.count)); a.forEach { put(&out, $0) }
        case .uint32(let a): put(&out, UInt32(4)); put(&out, UInt64(a.count)); a.forEach { put(&out, $0) }
        case .float32(let a): put(&out, UInt32(6)); put(&out, UInt64(a.count)); a.forEach { put(&out, $0.bitPattern) }
        case .string(let a): put(&out, UInt32(8)); put(&out, UInt64(a.count)); a.forEach { putString(&out, $0) }
        case .bool(let a): put(&out, UInt32(7)); put(&out, UInt64(a.count)); a.forEach { put(&out, UInt8($0 ? 1 : 0)) }
        case .uint64(let a): put(&out, UInt32(10)); put(&out, UInt64(a.count)); a.forEach { put(&out, $0) }
        case .array(let a): put(&out, UInt32(9)); put(&out, UInt64(a.count)); a.forEach { putArray(&out, $0) }
        }
    }
}

extension GGUFBuilder {
    /// A small but complete llama model: one block, width 64, 4 heads (2
    /// KV heads), FFN 128, a 300-token byte-level vocabulary with merges,
    /// ChatML template. Q8_0/Q4_1/F32 tensors as in the reference model.
    static func tinyLlama() -> GGUFBuilder {
        var b = GGUFBuilder()
        let embedding: UInt64 = 64, ffn: UInt64 = 128
        b.add("general.architecture", .string("llama"))
        b.add("general.name", .string("tiny"))
        b.add("general.alignment", .uint32(32))
        b.add("llama.block_count", .uint32(1))
        b.add("llama.context_length", .uint32(256))
        b.add("llama.embedding_length", .uint32(UInt32(embedding)))
        b.add("llama.feed_forward_length", .uint32(UInt32(ffn)))
        b.add("llama.attention.head_count", .uint32(4))
        b.add("llama.attention.head_count_kv", .uint32(2))
        b.add("llama.rope.freq_base", .float32(10_000))
        b.add("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        b.add("llama.rope.dimension_count", .uint32(16))
        let vocabulary = tinyVocabulary()
        b.add("llama.vocab_size", .uint32(UInt32(vocabulary.tokens.count)))
        b.add("tokenizer.ggml.model", .string("gpt2"))
        b.add("tokenizer.ggml.pre", .string("smollm"))
        b.add("tokenizer.ggml.tokens", .array(.string(vocabulary.tokens)))
        b.add("tokenizer.ggml.token_type", .array(.int32(vocabulary.types)))
        b.add("tokenizer.ggml.merges", .array(.string(vocabulary.merges)))
        b.add("tokenizer.ggml.bos_token_id", .uint32(1))
        b.add("tokenizer.ggml.eos_token_id", .uint32(2))
        b.add("tokenizer.ggml.add_bos_token", .bool(false))
        b.add("tokenizer.chat_template", .string(
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"))
        b.add("general.tags", .array(.array([.string(["a", "b"]), .uint32([1, 2, 3])])))

        let vocab = UInt64(vocabulary.tokens.count)
        b.addTensor("token_embd.weight", [embedding, vocab], type: .q8_0, fill: 1)
        b.addTensor("output_norm.weight", [embedding], type: .f32, fill: 2)
        b.addTensor("blk.0.attn_norm.weight", [embedding], type: .f32, fill: 3)
        b.addTensor("blk.0.attn_q.weight", [embedding, embedding], type: .q4_1, fill: 4)
        b.addTensor("blk.0.attn_k.weight", [embedding, 32], type: .q4_1, fill: 5)
        b.addTensor("blk.0.attn_v.weight", [embedding, 32], type: .q4_1, fill: 6)
        b.addTensor("blk.0.attn_output.weight", [embedding, embedding], type: .q4_1, fill: 7)
        b.addTensor("blk.0.ffn_norm.weight", [embedding], type: .f32, fill: 8)
        b.addTensor("blk.0.ffn_gate.weight", [embedding, ffn], type: .q4_1, fill: 9)
        b.addTensor("blk.0.ffn_up.weight", [embedding, ffn], type: .q4_1, fill: 10)
        b.addTensor("blk.0.ffn_down.weight", [ffn, embedding], type: .q4_1, fill: 11)
        return b
    }

    /// Three control tokens, the 256 byte-level single characters, and a
    /// few merges ("h e" → "he", "he llo"…).
    static func tinyVocabulary() -> (tokens: [String], types: [Int32], merges: [String]) {
        var tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        var types: [Int32] = [3, 3, 3]
        for byte in 0 ..< 256 {
            tokens.append(ByteLevelEncoding.encode([UInt8(byte)]))
            types.append(1)
        }
        let merges = ["h e", "l l", "ll o", "he llo", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d"]
        for merge in merges {
            tokens.append(merge.replacingOccurrences(of: " ", with: ""))
            types.append(1)
        }
        return (tokens, types, merges)
    }
}
