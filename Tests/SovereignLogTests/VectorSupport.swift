import Foundation
import SovereignCrypto

/// The package root, from this file's path (Tests/SovereignLogTests/…).
let packageRoot: String = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

func hexDigest(_ hex: String) -> SHA256Digest {
    SHA256Digest(hex: hex)!
}

func base64Bytes(_ text: String) -> [UInt8] {
    Data(base64Encoded: text).map { [UInt8]($0) } ?? []
}
