// The bridge from the synchronous engine to async backends: the calling thread (one of the
// engine's own threads, never a Swift concurrency pool thread) blocks on a semaphore while the
// operation runs as a task. HTTP backends therefore never block a pool thread while they wait.

import Dispatch
import Synchronization

/// Runs async backend calls from synchronous code.
public enum BlockingBridge {
    /// Runs `operation` to completion and returns its result, blocking the calling thread.
    /// Must not be called from inside a Swift concurrency task (it would hold a pool thread).
    public static func run<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let r: Result<T, any Error>
            do { r = .success(try await operation()) } catch { r = .failure(error) }
            box.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try box.withLock { $0! }.get()
    }
}
