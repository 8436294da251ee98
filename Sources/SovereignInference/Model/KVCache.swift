import CInferenceKernels

/// The keys and values attention has seen: for every layer and position,
/// one key and one value vector per key/value head (`width` numbers each).
///
/// Stored as fp16, as llama.cpp's default F16 cache: half the memory of
/// floats, and the very numbers its attention reads. The memory is
/// allocated up front but only touched (and so resident) as positions fill.
final class KVCache {
    let layerCount: Int
    let capacity: Int
    let width: Int
    private let keys: UnsafeMutablePointer<UInt16>
    private let values: UnsafeMutablePointer<UInt16>

    init(layerCount: Int, capacity: Int, width: Int) {
        precondition(layerCount > 0 && capacity > 0 && width > 0)
        self.layerCount = layerCount
        self.capacity = capacity
        self.width = width
        keys = .allocate(capacity: layerCount * capacity * width)
        values = .allocate(capacity: layerCount * capacity * width)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// The keys of `layer` from position 0 on, `width` apart.
    func keys(layer: Int) -> UnsafePointer<UInt16> {
        UnsafePointer(keys + layer * capacity * width)
    }

    /// The values of `layer` from position 0 on, `width` apart.
    func values(layer: Int) -> UnsafePointer<UInt16> {
        UnsafePointer(values + layer * capacity * width)
    }

    /// Stores one position's key and value for `layer`, rounded to fp16.
    func store(layer: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        precondition(layer < layerCount && position < capacity)
        let offset = (layer * capacity + position) * width
        sov_store_f16(key, keys + offset, Int64(width))
        sov_store_f16(value, values + offset, Int64(width))
    }

    /// Copies `positions` of every layer from `other` (same shape): a
    /// prefix another context already computed.
    func copy(positions: Range<Int>, from other: KVCache) {
        precondition(other.layerCount == layerCount && other.width == width)
        precondition(positions.upperBound <= capacity && positions.upperBound <= other.capacity)
        guard !positions.isEmpty else { return }
        for layer in 0 ..< layerCount {
            let offset = layer * capacity * width + positions.lowerBound * width
            let source = layer * other.capacity * width + positions.lowerBound * width
            (keys + offset).update(from: other.keys + source, count: positions.count * width)
            (values + offset).update(from: other.values + source, count: positions.count * width)
        }
    }
}
