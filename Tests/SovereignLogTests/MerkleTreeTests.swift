import Testing
import SovereignCrypto
import SovereignTestSupport
@testable import SovereignLog

/// RFC 6962 roots and proofs, against published values and against the RFC's own definitions.
@Suite struct MerkleTreeTests {
    /// transparency-dev/merkle testonly/constants.go: leaves and the root of each prefix.
    static let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    static func vectorTree() -> MerkleTree {
        MerkleTree(leafHashes: leaves.map { RFC6962.leafHash(hexBytes($0)) })
    }

    @Test func emptyTreeRootIsSHA256OfNothing() {
        #expect(MerkleTree().root == hexDigest(Self.roots[0]))
        #expect(MerkleFrontier().root == hexDigest(Self.roots[0]))
    }

    @Test func rootsOfEveryPrefixMatchThePublishedVectorsIncludingNonPowersOfTwo() throws {
        let tree = Self.vectorTree()
        var frontier = MerkleFrontier()
        for size in 0...8 {
            #expect(try tree.root(ofSize: UInt64(size)) == hexDigest(Self.roots[size]), "size \(size)")
            #expect(frontier.root == hexDigest(Self.roots[size]), "frontier at size \(size)")
            #expect(MerkleTree(leafHashes: Self.leaves.prefix(size).map { RFC6962.leafHash(hexBytes($0)) }).root == hexDigest(Self.roots[size]))
            if size < 8 { frontier.append(leafHash: RFC6962.leafHash(hexBytes(Self.leaves[size]))) }
        }
    }

    @Test func leafAndNodeHashesUseTheirDomainPrefixes() {
        #expect(RFC6962.leafHash([UInt8]()) == hexDigest(Self.roots[1]))
        let a = RFC6962.leafHash(hexBytes("00")), b = RFC6962.leafHash(hexBytes("10"))
        #expect(RFC6962.nodeHash(a, b) == SHA256.hash([0x01] + a.bytes + b.bytes))
        #expect(RFC6962.nodeHash(a, b) != RFC6962.nodeHash(b, a))
    }

    /// MTH straight from RFC 6962 §2.1, recursively: the reference the stored-level tree must agree with.
    static func referenceRoot(_ leaves: ArraySlice<SHA256Digest>) -> SHA256Digest {
        if leaves.isEmpty { return RFC6962.emptyRoot }
        if leaves.count == 1 { return leaves.first! }
        let k = Int(RFC6962.split(UInt64(leaves.count)))
        return RFC6962.nodeHash(referenceRoot(leaves.prefix(k)), referenceRoot(leaves.dropFirst(k)))
    }

    @Test func everyProofOfEveryTreeUpTo70LeavesVerifiesAndNoAlteredOneDoes() throws {
        let hashes = (0..<70).map { RFC6962.leafHash(Array("leaf \($0)".utf8)) }
        let tree = MerkleTree(leafHashes: hashes)
        for size in 1...UInt64(70) {
            let root = try tree.root(ofSize: size)
            #expect(root == Self.referenceRoot(hashes.prefix(Int(size))[...]))
            for index in 0..<size {
                let proof = try tree.inclusionProof(leafIndex: index, treeSize: size)
                #expect(MerkleProof.verifyInclusion(leafIndex: index, treeSize: size, leafHash: hashes[Int(index)], proof: proof, root: root))
                #expect(!MerkleProof.verifyInclusion(leafIndex: index, treeSize: size, leafHash: hashes[(Int(index) + 1) % 70], proof: proof, root: root))
                if !proof.isEmpty {
                    var bent = proof
                    bent[bent.count / 2] = RFC6962.leafHash(Array("bent".utf8))
                    #expect(!MerkleProof.verifyInclusion(leafIndex: index, treeSize: size, leafHash: hashes[Int(index)], proof: bent, root: root))
                    #expect(!MerkleProof.verifyInclusion(leafIndex: index, treeSize: size, leafHash: hashes[Int(index)], proof: Array(proof.dropLast()), root: root))
                }
            }
            for old in 1...size {
                let proof = try tree.consistencyProof(from: old, to: size)
                let oldRoot = try tree.root(ofSize: old)
                #expect(MerkleProof.verifyConsistency(oldSize: old, newSize: size, oldRoot: oldRoot, newRoot: root, proof: proof), "\(old) → \(size)")
                if old < size {
                    #expect(!MerkleProof.verifyConsistency(oldSize: old, newSize: size, oldRoot: root, newRoot: root, proof: proof))
                    var bent = proof
                    bent[0] = RFC6962.leafHash(Array("bent".utf8))
                    #expect(!MerkleProof.verifyConsistency(oldSize: old, newSize: size, oldRoot: oldRoot, newRoot: root, proof: bent))
                    #expect(!MerkleProof.verifyConsistency(oldSize: old, newSize: size, oldRoot: oldRoot, newRoot: root, proof: proof + [root]))
                } else {
                    #expect(proof.isEmpty)
                }
            }
        }
    }

    @Test func anInclusionProofDoesNotBindTheTreeSize() throws {
        // Why the size and root must come together from a signed checkpoint:
        // leaf 4 of a tree of 5 has a one-hash proof that also "verifies" at size 6… against the same root.
        let hashes = (0..<8).map { RFC6962.leafHash([UInt8($0)]) }
        let tree = MerkleTree(leafHashes: hashes)
        var found = 0
        for size in UInt64(1)...7 {
            let root = try tree.root(ofSize: size)
            for index in 0..<size {
                let proof = try tree.inclusionProof(leafIndex: index, treeSize: size)
                if MerkleProof.verifyInclusion(leafIndex: index, treeSize: size + 1, leafHash: hashes[Int(index)], proof: proof, root: root) { found += 1 }
            }
        }
        #expect(found > 0)
    }

    @Test func consistencyFromTheEmptyTreeIsRefusedAndBadSizesThrow() throws {
        let tree = Self.vectorTree()
        #expect(throws: LogError.self) { try tree.consistencyProof(from: 0, to: 3) }
        #expect(throws: LogError.self) { try tree.consistencyProof(from: 4, to: 3) }
        #expect(throws: LogError.self) { try tree.inclusionProof(leafIndex: 3, treeSize: 3) }
        #expect(throws: LogError.self) { try tree.root(ofSize: 9) }
        #expect(!MerkleProof.verifyConsistency(oldSize: 0, newSize: 0, oldRoot: tree.root, newRoot: tree.root, proof: []))
        #expect(MerkleProof.verifyConsistency(oldSize: 8, newSize: 8, oldRoot: tree.root, newRoot: tree.root, proof: []))
        #expect(!MerkleProof.verifyConsistency(oldSize: 8, newSize: 8, oldRoot: tree.root, newRoot: tree.root, proof: [tree.root]))
    }

    @Test func hashesThatAreNot32BytesAreRefused() throws {
        let tree = Self.vectorTree()
        let proof = try tree.inclusionProof(leafIndex: 2, treeSize: 8).map(\.bytes)
        let leaf = tree.leafHash(at: 2)!.bytes
        #expect(MerkleProof.verifyInclusion(leafIndex: 2, treeSize: 8, leafHash: leaf, proof: proof, root: tree.root.bytes))
        #expect(!MerkleProof.verifyInclusion(leafIndex: 2, treeSize: 8, leafHash: leaf, proof: proof, root: tree.root.bytes + [0]))
        #expect(!MerkleProof.verifyInclusion(leafIndex: 2, treeSize: 8, leafHash: Array(leaf.dropLast()), proof: proof, root: tree.root.bytes))
        #expect(!MerkleProof.verifyInclusion(leafIndex: 2, treeSize: 8, leafHash: leaf, proof: [Array(proof[0].prefix(31))] + proof.dropFirst(), root: tree.root.bytes))
    }

    @Test func frontierSurvivesASaveAndRestore() {
        var frontier = MerkleFrontier()
        for i in 0..<37 { frontier.append(leafHash: RFC6962.leafHash([UInt8(i)])) }
        #expect(frontier.hashes.count == 37.nonzeroBitCount)
        var restored = MerkleFrontier(size: 37, hashes: frontier.hashes)!
        #expect(restored.root == frontier.root)
        #expect(MerkleFrontier(size: 40, hashes: frontier.hashes) == nil)
        restored.append(leafHash: RFC6962.leafHash([99]))
        frontier.append(leafHash: RFC6962.leafHash([99]))
        #expect(restored == frontier)
    }
}
