import Foundation

/// Runs `body` on a thread of its own and awaits its result. Engine code that calls backends through
/// `BlockingBridge` blocks its thread, so an async test must not run it on a concurrency pool thread
/// (with every pool thread blocked, the bridged tasks could never run).
public func onEngineThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        Thread.detachNewThread { c.resume(with: Result(catching: body)) }
    }
}
