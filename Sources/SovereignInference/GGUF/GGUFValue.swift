/// The type tag of a GGUF metadata value (`gguf_type` in the GGUF spec).
public enum GGUFValueType: UInt32, Sendable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Encoded size of one scalar of this type; nil for strings and arrays,
    /// whose size is in the data.
    var scalarSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one element of this type can take, used to bound a
    /// claimed array length by the bytes that remain before allocating.
    var minimumEncodedSize: Int {
        switch self {
        case .string: return 8           // a u64 length, possibly zero bytes after it
        case .array: return 12           // a u32 type tag and a u64 count
        default: return scalarSize ?? 1
        }
    }

    public var description: String { name }

    private var name: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        }
    }
}

/// One metadata value. Arrays keep their elements in typed storage so that a
/// 50 000-entry vocabulary costs what its strings cost, not an enum per byte.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// A short type description for error messages: `uint32`, `array of string`.
    public var typeDescription: String {
        if case .array(let array) = self { return "array of \(array.elementType)" }
        return type.description
    }

    /// The value as a signed integer when it is any integer type that fits.
    public var integerValue: Int64? {
        switch self {
        case .uint8(let v): return Int64(v)
        case .int8(let v): return Int64(v)
        case .uint16(let v): return Int64(v)
        case .int16(let v): return Int64(v)
        case .uint32(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .uint64(let v): return Int64(exactly: v)
        case .int64(let v): return v
        default: return nil
        }
    }

    /// The value as a Double when it is a floating-point type.
    public var floatingValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return nil
        }
    }
}

/// A homogeneous metadata array. Nested arrays are allowed by the format.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8])
    case int8([Int8])
    case uint16([UInt16])
    case int16([Int16])
    case uint32([UInt32])
    case int32([Int32])
    case float32([Float])
    case bool([Bool])
    case string([String])
    case array([GGUFArray])
    case uint64([UInt64])
    case int64([Int64])
    case float64([Double])

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    public var count: Int {
        switch self {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .uint32(let a): return a.count
        case .int32(let a): return a.count
        case .float32(let a): return a.count
        case .bool(let a): return a.count
        case .string(let a): return a.count
        case .array(let a): return a.count
        case .uint64(let a): return a.count
        case .int64(let a): return a.count
        case .float64(let a): return a.count
        }
    }

    /// Integer elements widened to Int64 when the element type is an integer
    /// type and every element fits.
    public var integerValues: [Int64]? {
        switch self {
        case .uint8(let a): return a.map(Int64.init)
        case .int8(let a): return a.map(Int64.init)
        case .uint16(let a): return a.map(Int64.init)
        case .int16(let a): return a.map(Int64.init)
        case .uint32(let a): return a.map(Int64.init)
        case .int32(let a): return a.map(Int64.init)
        case .int64(let a): return a
        case .uint64(let a):
            var out: [Int64] = []
            out.reserveCapacity(a.count)
            for v in a {
                guard let w = Int64(exactly: v) else { return nil }
                out.append(w)
            }
            return out
        default: return nil
        }
    }
}
