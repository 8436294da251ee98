#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
internal import Synchronization

/// A fixed set of threads that run one job at a time, llama.cpp-style: the
/// caller is thread 0, workers spin briefly waiting for the next job (jobs
/// come every few hundred microseconds while a model runs) and then sleep
/// on a condition variable, so an idle pool costs nothing.
///
/// `forEachChunk` hands out work in chunks from a shared counter, so a
/// thread that the OS preempts does not hold the others up. Which thread
/// computes a chunk varies; what it computes does not — each output is
/// produced by exactly one thread with a fixed order of operations, so
/// results are identical for any thread count.
final class ComputePool: @unchecked Sendable {
    let threadCount: Int
    private let shared: Shared
    #if canImport(Glibc)
    private var threads: [pthread_t] = []
    #else
    private var threads: [pthread_t?] = []
    #endif

    init(threadCount: Int) {
        precondition(threadCount >= 1, "a compute pool needs at least one thread")
        shared = Shared()
        for index in 1 ..< threadCount {
            let context = Unmanaged.passRetained(WorkerContext(shared: shared, index: index)).toOpaque()
            #if canImport(Glibc)
            var thread = pthread_t()
            #else
            var thread: pthread_t?
            #endif
            let status = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                context.shared.workerLoop(index: context.index)
                return nil
            }, context)
            if status != 0 {
                // No thread: release the context and run with fewer threads.
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                break
            }
            threads.append(thread)
        }
        self.threadCount = threads.count + 1
        shared.workerCount = threads.count
    }

    deinit {
        shared.stop()
        #if canImport(Glibc)
        for thread in threads { pthread_join(thread, nil) }
        #else
        for case let thread? in threads { pthread_join(thread, nil) }
        #endif
    }

    /// Runs `body(thread)` on every thread (0 is the caller) and returns
    /// when all have finished.
    func run(_ body: (Int) -> Void) {
        if threads.isEmpty {
            body(0)
        } else {
            shared.run(body)
        }
    }

    /// Runs `body(chunk, thread)` for every chunk in `0 ..< chunkCount`,
    /// each exactly once, on whichever thread claims it first.
    func forEachChunk(_ chunkCount: Int, _ body: (_ chunk: Int, _ thread: Int) -> Void) {
        if chunkCount <= 0 { return }
        if threads.isEmpty || chunkCount == 1 {
            for chunk in 0 ..< chunkCount { body(chunk, 0) }
            return
        }
        shared.chunkCounter.store(0, ordering: .relaxed)
        shared.run { thread in
            while true {
                let chunk = shared.chunkCounter.wrappingAdd(1, ordering: .relaxed).oldValue
                if chunk >= chunkCount { break }
                body(chunk, thread)
            }
        }
    }

    private final class WorkerContext {
        let shared: Shared
        let index: Int
        init(shared: Shared, index: Int) {
            self.shared = shared
            self.index = index
        }
    }

    /// The state workers share with the caller. Workers hold this, not the
    /// pool, so the pool's deinit can stop and join them.
    private final class Shared: @unchecked Sendable {
        /// Bumped once per job; workers wait for it to change.
        let generation = Atomic<Int>(0)
        /// Workers still running the current job.
        let busy = Atomic<Int>(0)
        /// The next unclaimed chunk of a `forEachChunk` job.
        let chunkCounter = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        var workerCount = 0
        /// The current job. Written by the caller before `generation` is
        /// bumped (release) and read by workers after they see it (acquire).
        var job: ((Int) -> Void)?
        let mutex: UnsafeMutablePointer<pthread_mutex_t>
        let condition: UnsafeMutablePointer<pthread_cond_t>
        /// Workers asleep on `condition` (guarded by `mutex`).
        var sleepers = 0

        /// Polls before a worker sleeps: on the order of a millisecond.
        static let spinLimit = 200_000

        init() {
            mutex = .allocate(capacity: 1)
            condition = .allocate(capacity: 1)
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(condition, nil)
        }

        deinit {
            pthread_cond_destroy(condition)
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
            condition.deallocate()
        }

        func run(_ body: (Int) -> Void) {
            withoutActuallyEscaping(body) { body in
                job = body
                busy.store(workerCount, ordering: .relaxed)
                generation.wrappingAdd(1, ordering: .releasing)
                wakeSleepers()
                body(0)
                while busy.load(ordering: .acquiring) != 0 {}
                job = nil
            }
        }

        func stop() {
            stopping.store(true, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .releasing)
            wakeSleepers()
        }

        private func wakeSleepers() {
            pthread_mutex_lock(mutex)
            if sleepers > 0 { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
        }

        func workerLoop(index: Int) {
            // Generation 0 is "no job yet": a worker that starts late still
            // sees the first job (reading the counter here could miss it).
            var seen = 0
            while true {
                var spins = 0
                var current = generation.load(ordering: .acquiring)
                while current == seen {
                    spins += 1
                    if spins >= Self.spinLimit {
                        pthread_mutex_lock(mutex)
                        sleepers += 1
                        while generation.load(ordering: .acquiring) == seen {
                            pthread_cond_wait(condition, mutex)
                        }
                        sleepers -= 1
                        pthread_mutex_unlock(mutex)
                        spins = 0
                    }
                    current = generation.load(ordering: .acquiring)
                }
                seen = current
                if stopping.load(ordering: .relaxed) { return }
                job?(index)
                busy.wrappingSubtract(1, ordering: .releasing)
            }
        }
    }
}
