/// A binary min-heap of candidate merges ordered by (rank, left position),
/// the order llama.cpp's bigram queue pops in: the best-ranked merge first,
/// and among equals the leftmost. Entries can go stale as neighbours merge;
/// the BPE loop checks each popped entry against the current symbols.
struct BPEMergeQueue {
    struct Candidate {
        var rank: Int32
        var left: Int32      // index of the left symbol in the word
        var right: Int32     // index of the right symbol
        var leftSymbol: Int32
        var rightSymbol: Int32
        var result: Int32

        @inline(__always)
        func precedes(_ other: Candidate) -> Bool {
            rank < other.rank || (rank == other.rank && left < other.left)
        }
    }

    private var heap: [Candidate] = []

    var isEmpty: Bool { heap.isEmpty }

    mutating func removeAll() { heap.removeAll(keepingCapacity: true) }

    mutating func push(_ candidate: Candidate) {
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var best = parent
                if left < heap.count && heap[left].precedes(heap[best]) { best = left }
                if right < heap.count && heap[right].precedes(heap[best]) { best = right }
                if best == parent { break }
                heap.swapAt(parent, best)
                parent = best
            }
        }
        return first
    }
}
