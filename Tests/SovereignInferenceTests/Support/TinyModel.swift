import Foundation
@testable import SovereignInference

/// Small llama models with seeded random weights of any supported type,
/// and an independent forward pass in double precision to check ours
/// against (written from the architecture's definition, not from our code).
enum TinyModel {
    /// `GGUFBuilder.tinyLlama`'s shape (1 block unless asked, width 64, 4
    /// heads, 2 key/value heads, FFN 128, 268 tokens) with random weights:
    /// matrices of `type`, the embedding of `embeddingType`.
    static func make(type: GGMLType, embeddingType: GGMLType = .q8_0, blocks: Int = 1, seed: UInt64 = 7) throws -> LlamaModel {
        var builder = GGUFBuilder.tinyLlama()
        builder.tensors.removeAll()
        builder.metadata.removeAll { $0.0 == "llama.block_count" }
        builder.add("llama.block_count", .uint32(UInt32(blocks)))
        let width = 64, ffn = 128, keyValue = 32
        let vocabulary = GGUFBuilder.tinyVocabulary().tokens.count
        var seed = seed
        func matrix(_ name: String, _ columns: Int, _ rows: Int, _ type: GGMLType, scale: Float) {
            seed &+= 1
            let values = QuantizedTestData.random(count: rows * columns, seed: seed, scale: scale)
            builder.addTensor(name, [UInt64(columns), UInt64(rows)], type: type,
                              data: QuantizedTestData.encode(values, as: type))
        }
        func norm(_ name: String) {
            seed &+= 1
            let values = QuantizedTestData.random(count: width, seed: seed, scale: 0.5).map { 1 + $0 }
            builder.addTensor(name, [UInt64(width)], type: .f32, data: QuantizedTestData.encode(values, as: .f32))
        }
        matrix("token_embd.weight", width, vocabulary, embeddingType, scale: 1)
        norm("output_norm.weight")
        for block in 0 ..< blocks {
            let p = "blk.\(block)."
            norm(p + "attn_norm.weight")
            matrix(p + "attn_q.weight", width, width, type, scale: 0.3)
            matrix(p + "attn_k.weight", width, keyValue, type, scale: 0.3)
            matrix(p + "attn_v.weight", width, keyValue, type, scale: 0.3)
            matrix(p + "attn_output.weight", width, width, type, scale: 0.3)
            norm(p + "ffn_norm.weight")
            matrix(p + "ffn_gate.weight", width, ffn, type, scale: 0.3)
            matrix(p + "ffn_up.weight", width, ffn, type, scale: 0.3)
            matrix(p + "ffn_down.weight", ffn, width, type, scale: 0.2)
        }
        return try LlamaModel(file: GGUFFile(bytes: builder.build(), source: "tiny-\(type).gguf"))
    }

    /// Logits after each of `tokens`, computed in double precision from the
    /// dequantised weights with no activation quantisation.
    static func referenceLogits(_ model: LlamaModel, tokens: [TokenID]) -> [[Double]] {
        let shape = model.hyperParameters
        let width = shape.embeddingLength, heads = shape.headCount, headSize = shape.headDimension
        let group = shape.groupSize
        func weights(_ weight: LlamaModel.Weight) -> [[Double]] {
            let matrix = weight.matrix
            var values = [Float](repeating: 0, count: matrix.columns)
            return (0 ..< matrix.rows).map { row in
                values.withUnsafeMutableBufferPointer { weight.traits.dequantizeRow(matrix.row(row), $0.baseAddress!, matrix.columns) }
                return values.map(Double.init)
            }
        }
        func apply(_ w: [[Double]], _ x: [Double]) -> [Double] {
            w.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } }
        }
        func rmsNorm(_ x: [Double], _ weight: [Float]) -> [Double] {
            let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + Double(shape.rmsNormEpsilon)).squareRoot()
            return zip(x, weight).map { $0 * scale * Double($1) }
        }
        func rotate(_ x: inout [Double], heads: Int, position: Int) {
            for head in 0 ..< heads {
                for pair in 0 ..< shape.ropeDimensionCount / 2 {
                    let theta = Double(position) * pow(Double(shape.ropeFrequencyBase), -2 * Double(pair) / Double(shape.ropeDimensionCount))
                    let i = head * headSize + 2 * pair
                    let (a, b) = (x[i], x[i + 1])
                    x[i] = a * cos(theta) - b * sin(theta)
                    x[i + 1] = a * sin(theta) + b * cos(theta)
                }
            }
        }
        let layers = model.layers.map { layer in
            (layer, weights(layer.query), weights(layer.key), weights(layer.value), weights(layer.attentionOutput),
             weights(layer.gate), weights(layer.up), weights(layer.down))
        }
        let embedding = weights(model.tokenEmbedding), output = weights(model.output)
        var keys = [[[Double]]](repeating: [], count: layers.count)
        var values = [[[Double]]](repeating: [], count: layers.count)
        var result: [[Double]] = []
        for (position, token) in tokens.enumerated() {
            var x = embedding[Int(token)]
            for (index, (layer, wq, wk, wv, wo, wg, wu, wd)) in layers.enumerated() {
                let normed = rmsNorm(x, layer.attentionNorm)
                var q = apply(wq, normed), k = apply(wk, normed)
                let v = apply(wv, normed)
                rotate(&q, heads: heads, position: position)
                rotate(&k, heads: shape.keyValueHeadCount, position: position)
                // What llama.cpp's F16 cache and attention kernel read: fp16 numbers.
                let half = { (x: Double) in Double(Float16(Float(x))) }
                q = q.map(half)
                keys[index].append(k.map(half))
                values[index].append(v.map(half))
                var attention = [Double](repeating: 0, count: width)
                for head in 0 ..< heads {
                    let kv = (head / group) * headSize
                    let scores = keys[index].map { key in
                        (0 ..< headSize).reduce(0) { $0 + q[head * headSize + $1] * key[kv + $1] } / Double(headSize).squareRoot()
                    }
                    let top = scores.max() ?? 0
                    let weights = scores.map { exp($0 - top) }
                    let total = weights.reduce(0, +)
                    for (p, weight) in weights.enumerated() {
                        for i in 0 ..< headSize { attention[head * headSize + i] += weight / total * values[index][p][kv + i] }
                    }
                }
                x = zip(x, apply(wo, attention)).map(+)
                let normed2 = rmsNorm(x, layer.feedForwardNorm)
                let gate = apply(wg, normed2), up = apply(wu, normed2)
                let hidden = zip(gate, up).map { g, u in g / (1 + exp(-g)) * u }
                x = zip(x, apply(wd, hidden)).map(+)
            }
            result.append(apply(output, rmsNorm(x, model.outputNorm)))
        }
        return result
    }
}
