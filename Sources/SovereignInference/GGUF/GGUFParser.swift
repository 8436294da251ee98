/// Reads and validates a GGUF header: magic, version, metadata, tensor
/// infos, alignment, and every tensor's byte range. It allocates only for
/// what the bytes can hold (each claimed count is bounded by the remaining
/// bytes and by `GGUFLimits` first) and uses overflow-checked arithmetic
/// for every size and offset, so a hostile file yields a `GGUFError`.
struct GGUFParser {
    static let magic: [UInt8] = Array("GGUF".utf8)
    static let defaultAlignment: UInt64 = 32
    static let alignmentKey = "general.alignment"
    static let maxDimensions: UInt32 = 4

    struct Header {
        var version: UInt32
        var metadata: GGUFMetadata
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    let source: String
    let limits: GGUFLimits
    private var cursor: GGUFByteCursor

    init(bytes: UnsafeRawBufferPointer, source: String, limits: GGUFLimits) {
        self.source = source
        self.limits = limits
        self.cursor = GGUFByteCursor(bytes: bytes, source: source)
    }

    mutating func parse() throws(GGUFError) -> Header {
        let magicBytes = try cursor.readBytes(min(4, cursor.remaining), for: "magic")
        guard magicBytes.elementsEqual(Self.magic) else {
            throw GGUFError.badMagic(source: source, found: Array(magicBytes))
        }
        let version = try cursor.readUInt32("version")
        guard version == 2 || version == 3 else {
            throw GGUFError.unsupportedVersion(source: source, version: version)
        }

        let tensorCount = try cursor.readUInt64("tensor count")
        let metadataCount = try cursor.readUInt64("metadata count")
        // A tensor info takes at least 32 bytes (name length, one dimension,
        // n_dims, type, offset); a metadata entry at least 13 (key length,
        // type tag, a one-byte value).
        try checkCount("tensor count", tensorCount, limit: limits.maxTensorCount, minimumSize: 32)
        try checkCount("metadata count", metadataCount, limit: limits.maxMetadataCount, minimumSize: 13)

        let metadata = try parseMetadata(count: Int(metadataCount))
        let alignment = try readAlignment(metadata)
        let descriptors = try parseTensorDescriptors(count: Int(tensorCount))

        // The data section starts at the next multiple of the alignment.
        let headerEnd = UInt64(cursor.position)
        guard let dataStart = Self.alignUp(headerEnd, to: alignment) else {
            throw GGUFError.limitExceeded(
                source: source, what: "data section offset", value: headerEnd, limit: UInt64(Int.max))
        }
        let fileSize = UInt64(cursor.bytes.count)
        if tensorCount > 0 && dataStart > fileSize {
            throw GGUFError.truncated(
                source: source, what: "padding before the data section (alignment \(alignment))",
                offset: headerEnd, needed: dataStart - headerEnd, available: fileSize - headerEnd)
        }
        let tensors = try placeTensors(descriptors, dataStart: dataStart, alignment: alignment, fileSize: fileSize)
        return Header(
            version: version, metadata: metadata, tensors: tensors,
            alignment: Int(alignment), dataOffset: Int(min(dataStart, fileSize)))
    }

    // MARK: Metadata

    private mutating func parseMetadata(count: Int) throws(GGUFError) -> GGUFMetadata {
        var entries: [(key: String, value: GGUFValue)] = []
        var index: [String: Int] = [:]
        entries.reserveCapacity(count)
        for position in 0 ..< count {
            let key = try cursor.readString(maxLength: limits.maxStringLength, "key of metadata entry \(position)")
            if key.isEmpty {
                throw GGUFError.invalidMetadata(source: source, key: "#\(position)", reason: "empty key")
            }
            if index[key] != nil {
                throw GGUFError.invalidMetadata(source: source, key: key, reason: "duplicate key")
            }
            let rawType = try cursor.readUInt32("type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw GGUFError.invalidMetadata(source: source, key: key, reason: "unknown value type \(rawType)")
            }
            let value = try parseValue(type: type, key: key, depth: 0)
            index[key] = entries.count
            entries.append((key: key, value: value))
        }
        return GGUFMetadata(source: source, entries: entries, index: index)
    }

    private mutating func parseValue(type: GGUFValueType, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.readUInt8("value of '\(key)'"))
        case .int8: return .int8(Int8(bitPattern: try cursor.readUInt8("value of '\(key)'")))
        case .uint16: return .uint16(try cursor.readUInt16("value of '\(key)'"))
        case .int16: return .int16(Int16(bitPattern: try cursor.readUInt16("value of '\(key)'")))
        case .uint32: return .uint32(try cursor.readUInt32("value of '\(key)'"))
        case .int32: return .int32(Int32(bitPattern: try cursor.readUInt32("value of '\(key)'")))
        case .float32: return .float32(Float(bitPattern: try cursor.readUInt32("value of '\(key)'")))
        case .uint64: return .uint64(try cursor.readUInt64("value of '\(key)'"))
        case .int64: return .int64(Int64(bitPattern: try cursor.readUInt64("value of '\(key)'")))
        case .float64: return .float64(Double(bitPattern: try cursor.readUInt64("value of '\(key)'")))
        case .bool: return .bool(try readBool(key))
        case .string: return .string(try cursor.readString(maxLength: limits.maxStringLength, "value of '\(key)'"))
        case .array: return .array(try parseArray(key: key, depth: depth + 1))
        }
    }

    private mutating func readBool(_ key: String) throws(GGUFError) -> Bool {
        let byte = try cursor.readUInt8("value of '\(key)'")
        guard byte <= 1 else {
            throw GGUFError.invalidMetadata(source: source, key: key, reason: "bool value is \(byte), expected 0 or 1")
        }
        return byte == 1
    }

    private mutating func parseArray(key: String, depth: Int) throws(GGUFError) -> GGUFArray {
        if depth > limits.maxArrayDepth {
            throw GGUFError.limitExceeded(
                source: source, what: "array nesting of '\(key)'", value: UInt64(depth),
                limit: UInt64(limits.maxArrayDepth))
        }
        let rawType = try cursor.readUInt32("array type of '\(key)'")
        guard let elementType = GGUFValueType(rawValue: rawType) else {
            throw GGUFError.invalidMetadata(source: source, key: key, reason: "unknown array element type \(rawType)")
        }
        let count = try cursor.readUInt64("array length of '\(key)'")
        try checkCount("array length of '\(key)'", count, limit: limits.maxArrayLength,
                       minimumSize: elementType.minimumEncodedSize)
        let n = Int(count)

        switch elementType {
        case .uint8: return .uint8(try readIntegers(n, UInt8.self, key))
        case .int8: return .int8(try readIntegers(n, Int8.self, key))
        case .uint16: return .uint16(try readIntegers(n, UInt16.self, key))
        case .int16: return .int16(try readIntegers(n, Int16.self, key))
        case .uint32: return .uint32(try readIntegers(n, UInt32.self, key))
        case .int32: return .int32(try readIntegers(n, Int32.self, key))
        case .float32: return .float32(try readIntegers(n, UInt32.self, key).map(Float.init(bitPattern:)))
        case .uint64: return .uint64(try readIntegers(n, UInt64.self, key))
        case .int64: return .int64(try readIntegers(n, Int64.self, key))
        case .float64: return .float64(try readIntegers(n, UInt64.self, key).map(Double.init(bitPattern:)))
        case .bool:
            var flags: [Bool] = []
            flags.reserveCapacity(n)
            for _ in 0 ..< n { flags.append(try readBool(key)) }
            return .bool(flags)
        case .string:
            var strings: [String] = []
            strings.reserveCapacity(n)
            for element in 0 ..< n {
                strings.append(try cursor.readString(maxLength: limits.maxStringLength, "'\(key)'[\(element)]"))
            }
            return .string(strings)
        case .array:
            var arrays: [GGUFArray] = []
            arrays.reserveCapacity(n)
            for _ in 0 ..< n { arrays.append(try parseArray(key: key, depth: depth + 1)) }
            return .array(arrays)
        }
    }

    /// Reads `count` little-endian integers in one bounds check.
    private mutating func readIntegers<T: FixedWidthInteger>(
        _ count: Int, _: T.Type, _ key: String
    ) throws(GGUFError) -> [T] {
        let size = MemoryLayout<T>.size
        // count × size cannot overflow: count was bounded by the remaining bytes.
        let raw = try cursor.readBytes(count * size, for: "elements of '\(key)'")
        return (0 ..< count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
    }

    private func readAlignment(_ metadata: GGUFMetadata) throws(GGUFError) -> UInt64 {
        guard let value = metadata[Self.alignmentKey] else { return Self.defaultAlignment }
        guard case .uint32(let alignment) = value else {
            throw GGUFError.typeMismatch(
                source: source, key: Self.alignmentKey, expected: "uint32", actual: value.typeDescription)
        }
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError.invalidMetadata(
                source: source, key: Self.alignmentKey, reason: "\(alignment) is not a power of two")
        }
        return UInt64(alignment)
    }

    // MARK: Tensors

    private struct Descriptor {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        var offset: UInt64
        var byteCount: UInt64
    }

    private mutating func parseTensorDescriptors(count: Int) throws(GGUFError) -> [Descriptor] {
        var descriptors: [Descriptor] = []
        descriptors.reserveCapacity(count)
        var seen = Set<String>()
        for position in 0 ..< count {
            let name = try cursor.readString(maxLength: limits.maxTensorNameLength, "name of tensor \(position)")
            if name.isEmpty {
                throw GGUFError.invalidTensor(source: source, tensor: "#\(position)", reason: "empty name")
            }
            if !seen.insert(name).inserted {
                throw GGUFError.invalidTensor(source: source, tensor: name, reason: "duplicate name")
            }
            let dimensionCount = try cursor.readUInt32("dimension count of '\(name)'")
            guard (1 ... Self.maxDimensions).contains(dimensionCount) else {
                throw GGUFError.invalidTensor(
                    source: source, tensor: name,
                    reason: "has \(dimensionCount) dimensions, expected 1 to \(Self.maxDimensions)")
            }
            var dimensions: [Int] = []
            var elements: UInt64 = 1
            for axis in 0 ..< Int(dimensionCount) {
                let extent = try cursor.readUInt64("dimension \(axis) of '\(name)'")
                // ggml stores extents as int64; zero-sized tensors have no use.
                guard extent > 0, extent <= UInt64(Int64.max) else {
                    throw GGUFError.invalidTensor(
                        source: source, tensor: name, reason: "dimension \(axis) is \(extent)")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
                guard !overflow, product <= UInt64(Int64.max) else {
                    throw GGUFError.invalidTensor(
                        source: source, tensor: name, reason: "element count overflows")
                }
                elements = product
                dimensions.append(Int(extent))
            }
            let rawType = try cursor.readUInt32("type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw GGUFError.unknownTensorType(source: source, tensor: name, rawType: rawType)
            }
            let offset = try cursor.readUInt64("offset of '\(name)'")

            // Bytes = bytes per row × number of rows; rows must be whole blocks.
            guard let rowBytes = type.rowBytes(weights: UInt64(dimensions[0])) else {
                throw GGUFError.invalidTensor(
                    source: source, tensor: name,
                    reason: "row length \(dimensions[0]) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            let rows = elements / UInt64(dimensions[0])
            let (byteCount, overflow) = rowBytes.multipliedReportingOverflow(by: rows)
            guard !overflow else {
                throw GGUFError.invalidTensor(source: source, tensor: name, reason: "byte size overflows")
            }
            descriptors.append(Descriptor(
                name: name, dimensions: dimensions, type: type, offset: offset, byteCount: byteCount))
        }
        return descriptors
    }

    /// Checks each tensor's alignment and range against the data section and
    /// rejects overlaps.
    private func placeTensors(
        _ descriptors: [Descriptor], dataStart: UInt64, alignment: UInt64, fileSize: UInt64
    ) throws(GGUFError) -> [GGUFTensorInfo] {
        let dataSize = fileSize >= dataStart ? fileSize - dataStart : 0
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(descriptors.count)
        for d in descriptors {
            guard d.offset % alignment == 0 else {
                throw GGUFError.invalidTensor(
                    source: source, tensor: d.name,
                    reason: "offset \(d.offset) is not a multiple of the alignment \(alignment)")
            }
            let (end, overflow) = d.offset.addingReportingOverflow(d.byteCount)
            guard !overflow, end <= dataSize else {
                throw GGUFError.invalidTensor(
                    source: source, tensor: d.name,
                    reason: "bytes \(d.offset)..<\(overflow ? "overflow" : String(end)) of the data section "
                        + "run past its end (\(dataSize) bytes)")
            }
            // In range of a file we hold in memory, so these fit Int.
            tensors.append(GGUFTensorInfo(
                name: d.name, dimensions: d.dimensions, type: d.type,
                relativeOffset: Int(d.offset), fileOffset: Int(dataStart + d.offset),
                byteCount: Int(d.byteCount)))
        }

        let byStart = tensors.filter { $0.byteCount > 0 }.sorted {
            ($0.relativeOffset, $0.name) < ($1.relativeOffset, $1.name)
        }
        for (previous, next) in zip(byStart, byStart.dropFirst())
        where previous.relativeOffset + previous.byteCount > next.relativeOffset {
            throw GGUFError.overlappingTensors(source: source, first: previous.name, second: next.name)
        }
        return tensors
    }

    // MARK: Helpers

    /// Bounds a claimed count by a hard limit and by how many of the
    /// smallest possible entries the remaining bytes could hold.
    private func checkCount(_ what: String, _ count: UInt64, limit: UInt64, minimumSize: Int) throws(GGUFError) {
        if count > limit {
            throw GGUFError.limitExceeded(source: source, what: what, value: count, limit: limit)
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: UInt64(minimumSize))
        if overflow || needed > UInt64(cursor.remaining) {
            throw GGUFError.truncated(
                source: source, what: "\(count) entries of \(what)", offset: UInt64(cursor.position),
                needed: overflow ? UInt64.max : needed, available: UInt64(cursor.remaining))
        }
    }

    static func alignUp(_ value: UInt64, to alignment: UInt64) -> UInt64? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum / alignment * alignment
    }
}
