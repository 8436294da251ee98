import Foundation
import Testing
import SovereignCrypto
@testable import SovereignLog

/// transparency-dev/merkle's published inclusion and consistency probes
/// (Fixtures/transparency-dev-merkle.json, copied from its testdata).
///
/// One deliberate difference: we refuse every hash that is not 32 bytes.
/// transparency-dev accepts equal-size consistency "proofs" between equal
/// roots of any length (its `sizes-are-equal-one-and-proof-is-empty`
/// probe uses 12-byte roots); RFC 9162 hashes are SHA-256, so we do not.
@Suite struct TransparencyDevVectorTests {
    struct Inclusion: Decodable {
        let file: String, desc: String, leafIdx: UInt64, treeSize: UInt64
        let leafHash: String, root: String, proof: [String], wantErr: Bool
    }
    struct Consistency: Decodable {
        let file: String, desc: String, size1: UInt64, size2: UInt64
        let root1: String, root2: String, proof: [String], wantErr: Bool
    }
    struct Vectors: Decodable {
        let inclusion: [Inclusion]
        let consistency: [Consistency]
    }

    static let vectors: Vectors = {
        let path = packageRoot + "/Tests/SovereignLogTests/Fixtures/transparency-dev-merkle.json"
        let data = FileManager.default.contents(atPath: path) ?? Data()
        return (try? JSONDecoder().decode(Vectors.self, from: data)) ?? Vectors(inclusion: [], consistency: [])
    }()

    @Test func everyInclusionProbeGivesThePublishedVerdict() {
        #expect(Self.vectors.inclusion.count == 98)
        var accepted = 0
        for probe in Self.vectors.inclusion {
            let ok = MerkleProof.verifyInclusion(leafIndex: probe.leafIdx, treeSize: probe.treeSize, leafHash: base64Bytes(probe.leafHash),
                                                 proof: probe.proof.map(base64Bytes), root: base64Bytes(probe.root))
            #expect(ok == !probe.wantErr, "\(probe.file): \(probe.desc)")
            if ok { accepted += 1 }
        }
        #expect(accepted == 6, "the six happy paths, one per directory")
    }

    @Test func everyConsistencyProbeGivesThePublishedVerdictExceptHashesOfTheWrongLength() {
        #expect(Self.vectors.consistency.count == 98)
        var differences: [String] = []
        for probe in Self.vectors.consistency {
            let hashes = [probe.root1, probe.root2] + probe.proof
            let allSHA256 = hashes.allSatisfy { base64Bytes($0).count == 32 }
            let ok = MerkleProof.verifyConsistency(oldSize: probe.size1, newSize: probe.size2, oldRoot: base64Bytes(probe.root1),
                                                   newRoot: base64Bytes(probe.root2), proof: probe.proof.map(base64Bytes))
            if allSHA256 {
                #expect(ok == !probe.wantErr, "\(probe.file): \(probe.desc)")
            } else {
                #expect(!ok, "\(probe.file): a hash that is not 32 bytes must be refused")
                if !probe.wantErr { differences.append(probe.file) }
            }
        }
        #expect(differences == ["testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"])
    }

    @Test func theHappyPathProofsAreTheOnesOurTreeBuilds() throws {
        // The probes' trees are the eight vector leaves: build them and compare proofs byte for byte.
        let tree = MerkleTreeTests.vectorTree()
        let roots = try (0...8).map { (size: UInt64) throws -> [UInt8] in try tree.root(ofSize: size).bytes }
        var compared = 0
        for probe in Self.vectors.inclusion where !probe.wantErr && probe.treeSize <= 8 && base64Bytes(probe.root) == roots[Int(probe.treeSize)] {
            let built = try tree.inclusionProof(leafIndex: probe.leafIdx, treeSize: probe.treeSize).map { Base64.encode($0.bytes) }
            #expect(built == probe.proof, "\(probe.file)")
            compared += 1
        }
        for probe in Self.vectors.consistency where !probe.wantErr && probe.size1 > 0 && probe.size2 <= 8
            && base64Bytes(probe.root2) == roots[Int(probe.size2)] {
            let built = try tree.consistencyProof(from: probe.size1, to: probe.size2).map { Base64.encode($0.bytes) }
            #expect(built == probe.proof, "\(probe.file)")
            compared += 1
        }
        #expect(compared >= 8)
    }
}
