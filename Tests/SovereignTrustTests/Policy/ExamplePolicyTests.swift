import Foundation
import SovereignCrypto
import Testing
@testable import SovereignTrust

/// Policies/trust-policy.example.json: the documented example must parse,
/// and be exactly what `sovereign policy init` style serialisation writes.
@Suite struct ExamplePolicyTests {
    static let path: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Policies/trust-policy.example.json").path
    }()

    @Test func parsesAndIsInItsOwnFileForm() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.path)))
        let policy = try TrustPolicy(parsing: bytes, source: "trust-policy.example.json")
        #expect(policy.fileBytes() == bytes)
        #expect(policy.thresholds == [.release: 2, .certifier: 1, .policyAuthor: 1])
        #expect(policy.keys.filter { $0.roles == [.policyAuthor] }.count == 1)
        #expect(policy.keys.filter { $0.roles.contains(.release) }.count == 3)
        #expect(policy.requiredPredicates == ["https://slsa.dev/provenance/v1", "https://cyclonedx.org/bom"])
        #expect(policy.allowedModels?.map(\.hex) == ["b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"])
        #expect(policy.revokedKeys.count == 1)
        #expect(policy.keys.contains { $0.expires != nil })
    }
}
