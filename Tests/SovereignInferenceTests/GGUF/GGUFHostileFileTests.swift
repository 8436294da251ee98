import Foundation
import Testing
import SovereignTestSupport
@testable import SovereignInference

/// Damaged and hostile GGUF files, built in the test: each must end in a
/// typed `GGUFError` that names the problem, never a crash or a huge
/// allocation.
@Suite struct GGUFHostileFileTests {
    /// Parses `bytes` and returns the error, failing the test when it loads.
    func parseError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> GGUFError? {
        do {
            _ = try GGUFFile(bytes: bytes, source: "hostile.gguf")
            Issue.record("a hostile file loaded", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func theTinyModelLoadsCleanly() throws {
        let file = try GGUFFile(bytes: GGUFBuilder.tinyLlama().build(), source: "tiny.gguf")
        #expect(file.tensors.count == 11)
        #expect(file.metadata["general.tags"] == .array(.array([.string(["a", "b"]), .uint32([1, 2, 3])])))
        let hp = try LlamaHyperParameters(file: file)
        #expect(hp.headDimension == 16 && hp.keyValueWidth == 32 && hp.tiesEmbeddings)
        let q = try file.requireTensor("blk.0.attn_q.weight")
        #expect(q.byteCount == 64 / 32 * 20 * 64)
        #expect(q.fileOffset % 32 == 0)
        #expect(file.data(for: q).allSatisfy { $0 == 4 })
    }

    @Test func rejectsBadMagic() {
        var b = GGUFBuilder.tinyLlama()
        b.magic = Array("GGML".utf8)
        let error = parseError(b.build())
        #expect(error == .badMagic(source: "hostile.gguf", found: Array("GGML".utf8)))
        #expect(error?.description == "hostile.gguf: not a GGUF file (magic is 0x47474d4c, expected \"GGUF\")")
        #expect(parseError([]) == .badMagic(source: "hostile.gguf", found: []))
        #expect(parseError(Array("GG".utf8)) == .badMagic(source: "hostile.gguf", found: Array("GG".utf8)))
    }

    @Test(arguments: [UInt32(0), 1, 4, 0xFFFF_FFFF])
    func rejectsUnsupportedVersions(version: UInt32) {
        var b = GGUFBuilder.tinyLlama()
        b.version = version
        #expect(parseError(b.build()) == .unsupportedVersion(source: "hostile.gguf", version: version))
    }

    @Test func acceptsVersionTwo() throws {
        var b = GGUFBuilder.tinyLlama()
        b.version = 2
        #expect(try GGUFFile(bytes: b.build()).version == 2)
    }

    /// Every prefix of a valid file shorter than its data section is a
    /// truncated header; every shorter prefix of the data loses a tensor.
    @Test func rejectsTheFileTruncatedAtEveryOffset() throws {
        let bytes = GGUFBuilder.tinyLlama().build()
        let file = try GGUFFile(bytes: bytes)
        // Every offset in the header; in the data section, the bytes around
        // each tensor's end and a stride between (each parse re-reads the header).
        var lengths = Set(0 ..< file.dataOffset + 1)
        for tensor in file.tensors {
            let end = tensor.fileOffset + tensor.byteCount
            lengths.formUnion([tensor.fileOffset, tensor.fileOffset + 1, end - 1])
        }
        lengths.formUnion(stride(from: file.dataOffset, to: bytes.count, by: 61))
        lengths.remove(bytes.count)
        for length in lengths.sorted() {
            do {
                _ = try GGUFFile(bytes: Array(bytes[..<length]), source: "cut.gguf")
                Issue.record("prefix of \(length) bytes loaded")
            } catch {
                switch error {
                case .badMagic, .truncated, .invalidTensor: break
                default: Issue.record("prefix of \(length) bytes: unexpected \(error)")
                }
                if length >= file.dataOffset, case .invalidTensor(_, _, let reason) = error {
                    #expect(reason.contains("run past its end"))
                }
            }
        }
    }

    @Test func rejectsAbsurdCountsBeforeAllocating() {
        var b = GGUFBuilder.tinyLlama()
        b.tensorCountOverride = 1 << 60
        #expect(parseError(b.build()) == .limitExceeded(
            source: "hostile.gguf", what: "tensor count", value: 1 << 60, limit: GGUFLimits.standard.maxTensorCount))

        b = GGUFBuilder.tinyLlama()
        b.metadataCountOverride = UInt64.max
        #expect(parseError(b.build()) == .limitExceeded(
            source: "hostile.gguf", what: "metadata count", value: UInt64.max, limit: GGUFLimits.standard.maxMetadataCount))

        // Under the limit but more than the bytes could hold.
        b = GGUFBuilder.tinyLlama()
        b.tensorCountOverride = 60_000
        guard case .truncated(_, let what, _, _, _)? = parseError(b.build()) else {
            Issue.record("expected truncated")
            return
        }
        #expect(what.contains("tensor count"))
    }

    @Test func rejectsHugeStringAndArrayLengths() {
        var b = GGUFBuilder()
        var hugeString: [UInt8] = []
        withUnsafeBytes(of: UInt64(1 << 62).littleEndian) { hugeString += $0 }
        b.add("general.name", .raw(type: 8, bytes: hugeString + [0x41]))
        #expect(parseError(b.build()) == .limitExceeded(
            source: "hostile.gguf", what: "length of value of 'general.name'", value: 1 << 62,
            limit: GGUFLimits.standard.maxStringLength))

        b = GGUFBuilder()
        var hugeArray: [UInt8] = []
        withUnsafeBytes(of: UInt32(5).littleEndian) { hugeArray += $0 }        // int32 elements
        withUnsafeBytes(of: UInt64(1 << 20).littleEndian) { hugeArray += $0 }  // 1 M of them, 8 bytes present
        b.add("tokenizer.ggml.token_type", .raw(type: 9, bytes: hugeArray + [0, 0, 0, 0, 0, 0, 0, 0]))
        guard case .truncated(_, let what, _, let needed, _)? = parseError(b.build()) else {
            Issue.record("expected truncated")
            return
        }
        #expect(what.contains("array length of 'tokenizer.ggml.token_type'"))
        #expect(needed == 4 << 20)

        // A key whose claimed length runs past the end.
        var tooLong: [UInt8] = Array("GGUF".utf8)
        for field: UInt64 in [0, 1] { withUnsafeBytes(of: field.littleEndian) { tooLong += $0 } }
        tooLong.insert(contentsOf: [3, 0, 0, 0], at: 4)  // version 3
        withUnsafeBytes(of: UInt64(100).littleEndian) { tooLong += $0 }
        tooLong += Array("short".utf8)
        guard case .truncated? = parseError(tooLong) else {
            Issue.record("expected truncated")
            return
        }
    }

    @Test func rejectsDeeplyNestedArrays() {
        var nested = GGUFBuilder.ArrayValue.uint8([1])
        for _ in 0 ..< 10 { nested = .array([nested]) }
        var b = GGUFBuilder()
        b.add("deep", .array(nested))
        guard case .limitExceeded(_, let what, _, _)? = parseError(b.build()) else {
            Issue.record("expected limitExceeded")
            return
        }
        #expect(what == "array nesting of 'deep'")
    }

    @Test func rejectsMalformedMetadata() {
        var b = GGUFBuilder()
        b.add("x", .raw(type: 13, bytes: [0]))
        #expect(parseError(b.build()) == .invalidMetadata(source: "hostile.gguf", key: "x", reason: "unknown value type 13"))

        b = GGUFBuilder()
        b.add("x", .raw(type: 9, bytes: [99, 0, 0, 0] + [UInt8](repeating: 0, count: 8)))
        #expect(parseError(b.build()) == .invalidMetadata(source: "hostile.gguf", key: "x", reason: "unknown array element type 99"))

        b = GGUFBuilder()
        b.add("flag", .raw(type: 7, bytes: [2]))
        #expect(parseError(b.build()) == .invalidMetadata(source: "hostile.gguf", key: "flag", reason: "bool value is 2, expected 0 or 1"))

        b = GGUFBuilder()
        b.add("k", .uint32(1))
        b.add("k", .uint32(2))
        #expect(parseError(b.build()) == .invalidMetadata(source: "hostile.gguf", key: "k", reason: "duplicate key"))

        b = GGUFBuilder()
        b.add("", .uint32(1))
        #expect(parseError(b.build()) == .invalidMetadata(source: "hostile.gguf", key: "#0", reason: "empty key"))

        b = GGUFBuilder()
        b.add("s", .raw(type: 8, bytes: [2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28]))  // invalid UTF-8
        #expect(parseError(b.build()) == .invalidMetadata(source: "hostile.gguf", key: "value of 's'", reason: "not valid UTF-8"))
    }

    @Test func rejectsBadAlignment() {
        for (value, expected) in [
            (GGUFBuilder.Value.uint32(0), GGUFError.invalidMetadata(source: "hostile.gguf", key: "general.alignment", reason: "0 is not a power of two")),
            (.uint32(48), .invalidMetadata(source: "hostile.gguf", key: "general.alignment", reason: "48 is not a power of two")),
            (.uint64(32), .typeMismatch(source: "hostile.gguf", key: "general.alignment", expected: "uint32", actual: "uint64")),
        ] {
            var b = GGUFBuilder()
            b.add("general.alignment", value)
            #expect(parseError(b.build()) == expected)
        }
    }

    @Test func honoursALargerAlignment() throws {
        var b = GGUFBuilder.tinyLlama()
        b.alignment = 256
        b.metadata = b.metadata.map { $0.0 == "general.alignment" ? ($0.0, .uint32(256)) : $0 }
        let file = try GGUFFile(bytes: b.build())
        #expect(file.alignment == 256)
        #expect(file.dataOffset % 256 == 0)
        #expect(file.tensors.allSatisfy { $0.fileOffset % 256 == 0 })
    }

    @Test func rejectsMalformedTensorInfos() {
        func error(_ edit: (inout GGUFBuilder.Tensor) -> Void) -> GGUFError? {
            var b = GGUFBuilder.tinyLlama()
            edit(&b.tensors[3])
            return parseError(b.build())
        }
        let name = "blk.0.attn_q.weight"
        #expect(error { $0.dimensions = [] } == .invalidTensor(
            source: "hostile.gguf", tensor: name, reason: "has 0 dimensions, expected 1 to 4"))
        #expect(error { $0.dimensions = [32, 1, 1, 1, 1] } == .invalidTensor(
            source: "hostile.gguf", tensor: name, reason: "has 5 dimensions, expected 1 to 4"))
        #expect(error { $0.dimensions = [64, 0] } == .invalidTensor(
            source: "hostile.gguf", tensor: name, reason: "dimension 1 is 0"))
        #expect(error { $0.dimensions = [64, UInt64.max] } == .invalidTensor(
            source: "hostile.gguf", tensor: name, reason: "dimension 1 is \(UInt64.max)"))
        #expect(error { $0.dimensions = [1 << 32, 1 << 32]; $0.dataSize = 0 } == .invalidTensor(
            source: "hostile.gguf", tensor: name, reason: "element count overflows"))
        #expect(error { $0.dimensions = [48, 64] } == .invalidTensor(
            source: "hostile.gguf", tensor: name, reason: "row length 48 is not a multiple of the q4_1 block size 32"))
        #expect(error { $0.type = 4 } == .unknownTensorType(source: "hostile.gguf", tensor: name, rawType: 4))
        #expect(error { $0.type = 1000 } == .unknownTensorType(source: "hostile.gguf", tensor: name, rawType: 1000))
        #expect(error { $0.name = "blk.0.attn_k.weight" } == .invalidTensor(
            source: "hostile.gguf", tensor: "blk.0.attn_k.weight", reason: "duplicate name"))
        #expect(error { $0.name = String(repeating: "x", count: 64) } == .limitExceeded(
            source: "hostile.gguf", what: "length of name of tensor 3", value: 64, limit: 63))
        #expect(error { $0.offset = 7 } == .invalidTensor(
            source: "hostile.gguf", tensor: name, reason: "offset 7 is not a multiple of the alignment 32"))
    }

    @Test func rejectsOffsetsPastTheEnd() {
        var b = GGUFBuilder.tinyLlama()
        b.tensors[10].offset = 1 << 40
        guard case .invalidTensor(_, let tensor, let reason)? = parseError(b.build()) else {
            Issue.record("expected invalidTensor")
            return
        }
        #expect(tensor == "blk.0.ffn_down.weight")
        #expect(reason.contains("run past its end"))

        // An offset so large that offset + size overflows UInt64.
        b = GGUFBuilder.tinyLlama()
        b.tensors[10].offset = UInt64.max - 31
        guard case .invalidTensor(_, _, let overflowReason)? = parseError(b.build()) else {
            Issue.record("expected invalidTensor")
            return
        }
        #expect(overflowReason.contains("overflow"))
    }

    @Test func rejectsOverlappingTensors() {
        var b = GGUFBuilder.tinyLlama()
        // attn_k starts inside attn_q.
        let qSize = GGUFBuilder.impliedSize(b.tensors[3])
        var offset: UInt64 = 0
        for tensor in b.tensors.prefix(3) { offset += UInt64((GGUFBuilder.impliedSize(tensor) + 31) / 32 * 32) }
        b.tensors[4].offset = offset + UInt64(qSize / 2 / 32 * 32)
        b.tensors[4].dataSize = 0
        #expect(parseError(b.build()) == .overlappingTensors(
            source: "hostile.gguf", first: "blk.0.attn_q.weight", second: "blk.0.attn_k.weight"))

        // Two tensors at the same offset.
        b = GGUFBuilder.tinyLlama()
        b.tensors[2].offset = 0
        b.tensors[2].dataSize = 0
        #expect(parseError(b.build()) == .overlappingTensors(
            source: "hostile.gguf", first: "blk.0.attn_norm.weight", second: "token_embd.weight"))
    }

    @Test func typedAccessorsNameTheKeyAndTheTypes() throws {
        let file = try GGUFFile(bytes: GGUFBuilder.tinyLlama().build(), source: "tiny.gguf")
        let m = file.metadata
        #expect(try m.uint32("llama.block_count") == 1)
        #expect(try m.float("llama.rope.freq_base") == 10_000)
        #expect(try m.string("general.name") == "tiny")
        #expect(try m.bool("tokenizer.ggml.add_bos_token") == false)
        #expect(try m.stringArray("tokenizer.ggml.merges").first == "h e")
        #expect(try m.int32Array("tokenizer.ggml.token_type").prefix(4) == [3, 3, 3, 1])
        #expect(throws: GGUFError.missingKey(source: "tiny.gguf", key: "nope")) { try m.string("nope") }
        #expect(throws: GGUFError.typeMismatch(source: "tiny.gguf", key: "general.name", expected: "uint32", actual: "string")) {
            try m.uint32("general.name")
        }
        #expect(throws: GGUFError.typeMismatch(
            source: "tiny.gguf", key: "tokenizer.ggml.tokens", expected: "array of int32", actual: "array of string")) {
            try m.int32Array("tokenizer.ggml.tokens")
        }
        let error = GGUFError.missingKey(source: "tiny.gguf", key: "nope")
        #expect("sovereign: \(error)" == "sovereign: tiny.gguf: metadata 'nope' is missing")
    }

    /// The error for a path that does not map, failing the test when it does.
    func openError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> GGUFError? {
        do {
            _ = try GGUFFile(contentsOf: path)
            Issue.record("\(path) loaded", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// Failed system calls arrive as SovereignSystem's `SystemError` (path,
    /// call, errno), and the error reads as every module's does.
    @Test func reportsFilesThatCannotBeOpened() throws {
        let missing = try #require(openError("/nonexistent/model.gguf"))
        guard case .io(let system) = missing else { throw TestSetupError(description: "not an I/O error: \(missing)") }
        #expect(system.path == "/nonexistent/model.gguf")
        #expect(system.operation == "open")
        #expect(system.errno == ENOENT)
        #expect(missing.thing == "/nonexistent/model.gguf")
        #expect(missing.source == missing.thing)
        #expect(missing.description == "/nonexistent/model.gguf: open: No such file or directory")

        let directory = try #require(openError("/tmp"))
        #expect(directory.description == "/tmp: open: Is a directory")
        guard case .io(let system) = directory else { throw TestSetupError(description: "not an I/O error: \(directory)") }
        #expect(system.errno == EISDIR)

        #expect(openError("/dev/null") == .notRegularFile(source: "/dev/null"))
        #expect(openError("/dev/null")?.description == "/dev/null: not a regular file")
    }

    /// A regular file that cannot be mapped (sysfs attributes refuse mmap
    /// with ENODEV) gives a `SystemError` naming the path and `mmap`.
    @Test func reportsAFileThatCannotBeMapped() throws {
        let attribute = "/sys/kernel/uevent_seqnum"
        try #require(FileManager.default.isReadableFile(atPath: attribute), "this test needs sysfs mounted at /sys")
        let error = try #require(openError(attribute))
        guard case .io(let system) = error else { throw TestSetupError(description: "not an I/O error: \(error)") }
        #expect(system.path == attribute)
        #expect(system.operation == "mmap")
        #expect(system.errno == ENODEV)
        #expect(error.description == "\(attribute): mmap: No such device")
    }

    @Test func mapsAFileFromDisk() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = GGUFBuilder.tinyLlama().build()
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let file = try GGUFFile(contentsOf: path)
        #expect(file.fileSize == bytes.count)
        #expect(file.source == path)
        let norm = try file.requireTensor("output_norm.weight")
        #expect(file.withTensorData(norm) { $0.allSatisfy { $0 == 2 } })

        let empty = path + ".empty"
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(throws: GGUFError.badMagic(source: empty, found: [])) { try GGUFFile(contentsOf: empty) }
    }
}
