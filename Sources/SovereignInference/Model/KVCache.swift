/// The keys and values attention has seen: for every layer and position,
/// one key and one value vector per key/value head (`width` floats each).
///
/// Stored as F32. llama.cpp keeps an F16 cache by default; with
/// `roundsToHalfPrecision` the stored numbers are rounded to fp16 as its
/// cache rounds them, at F32's memory cost and without conversion on read.
/// The memory is allocated up front but only touched (and so resident) as
/// positions fill.
final class KVCache {
    let layerCount: Int
    let capacity: Int
    let width: Int
    let roundsToHalfPrecision: Bool
    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>

    init(layerCount: Int, capacity: Int, width: Int, roundsToHalfPrecision: Bool) {
        precondition(layerCount > 0 && capacity > 0 && width > 0)
        self.layerCount = layerCount
        self.capacity = capacity
        self.width = width
        self.roundsToHalfPrecision = roundsToHalfPrecision
        keys = .allocate(capacity: layerCount * capacity * width)
        values = .allocate(capacity: layerCount * capacity * width)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    func keys(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        keys + (layer * capacity + position) * width
    }

    func values(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        values + (layer * capacity + position) * width
    }

    /// Stores one position's key and value for `layer`.
    func store(layer: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        precondition(layer < layerCount && position < capacity)
        let k = keys(layer: layer, position: position), v = values(layer: layer, position: position)
        if roundsToHalfPrecision {
            for i in 0 ..< width {
                k[i] = HalfPrecision.rounded(key[i])
                v[i] = HalfPrecision.rounded(value[i])
            }
        } else {
            k.update(from: key, count: width)
            v.update(from: value, count: width)
        }
    }
}
