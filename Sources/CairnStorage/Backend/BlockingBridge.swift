// The bridge from the synchronous engine to async backends: the calling thread blocks on a
// semaphore while the operation runs as a task on the bridge's own executor (a dispatch queue
// whose threads are not the Swift concurrency pool's). So a caller may block any thread,
// including a pool thread running a synchronous test or library call, without starving the
// operation it waits for; HTTP backends still never hold a thread while they wait for the network.

import Dispatch
import Synchronization

/// Runs async backend calls from synchronous code.
public enum BlockingBridge {
    /// Runs `operation` to completion and returns its result, blocking the calling thread.
    /// The operation runs on `BridgeExecutor` (dispatch threads outside the concurrency pool), so
    /// the call cannot deadlock however many pool threads are blocked in it.
    public static func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached(executorPreference: BridgeExecutor.shared) {
            let r: Result<T, any Error>
            do { r = .success(try await operation()) } catch { r = .failure(error) }
            box.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }
}

/// A task executor over a concurrent dispatch queue: bridge tasks run here, not on the
/// cooperative pool (whose threads a blocked synchronous caller may be holding).
public final class BridgeExecutor: TaskExecutor {
    public static let shared = BridgeExecutor()
    private let queue = DispatchQueue(label: "cairn.storage-bridge", attributes: .concurrent)

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { unowned.runSynchronously(on: executor) }
    }
}
