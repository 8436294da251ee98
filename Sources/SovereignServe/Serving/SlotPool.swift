import SovereignSystem
import SovereignSteering

/// The `--parallel` slots: each a steering runtime, over its own context of
/// the one shared embedded engine (so requests on different slots are
/// decoded in the same forward passes) or in front of remote engines. A request waits for a free slot in a bounded queue;
/// when the queue is full, or the wait too long, it is turned away with a
/// 503 the client may retry, and the server stays responsive.
final class SlotPool: @unchecked Sendable {
    final class Slot: @unchecked Sendable {
        let index: Int
        let runtime: any SteeringResponder
        init(index: Int, runtime: any SteeringResponder) {
            self.index = index
            self.runtime = runtime
        }
    }

    private let lock = ConditionLock()
    private var idle: [Slot]
    private var waiting = 0
    private let capacity: Int
    let maxQueue: Int

    init(runtimes: [any SteeringResponder], maxQueue: Int) {
        idle = runtimes.enumerated().map { Slot(index: $0.offset, runtime: $0.element) }
        capacity = runtimes.count
        self.maxQueue = maxQueue
    }

    /// Requests waiting for a slot, and slots in use.
    var load: (queued: Int, busy: Int) { lock.withLock { (waiting, capacity - idle.count) } }

    /// A free slot, waiting at most `timeout` in the queue.
    func acquire(timeout: Duration) throws(APIError) -> Slot {
        lock.lock()
        defer { lock.unlock() }
        if let slot = idle.popLast() { return slot }
        guard waiting < maxQueue else {
            throw APIError.busy("all \(capacity) slots are busy and \(waiting) requests are queued; retry shortly")
        }
        waiting += 1
        defer { waiting -= 1 }
        let deadline = ContinuousClock.now + timeout
        while idle.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw APIError.busy("no slot became free within \(timeout); retry shortly")
            }
            lock.wait(until: deadline)
        }
        return idle.removeLast()
    }

    /// Returns `slot`; its context stops holding batched steps back.
    func release(_ slot: Slot) {
        slot.runtime.becameIdle()
        lock.withLock {
            idle.append(slot)
            lock.broadcast()
        }
    }
}
