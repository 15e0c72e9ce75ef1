// Cooperative cancellation: ONE per-operation token (`CancellationToken`). Whoever starts an
// operation makes a token and runs the operation inside `token.run { ... }`; whoever may stop
// it calls `token.cancel(error)`: the CLI's signal thread on SIGINT/SIGTERM (one token for the
// command the process runs), `cairn serve` when a client cancels a job (one token per job).
// The library's long loops (chunking, snapshot walk, restore, export, import, check, prune)
// call `Cancellation.check()`, which checks the token of the operation running on the calling
// thread (none: never cancelled). `check()` throws the token's error, so the normal error paths
// run: partial files and temporary spools are removed by the code that created them, nothing is
// recorded, and the repository lock is released when the Repository goes away. Nothing is left
// half-written that the error path would not also handle.

#if canImport(Glibc)
import Glibc
#endif

/// A request to stop one operation: cancelled once, checked by the operation's loops.
public final class CancellationToken: @unchecked Sendable {
    /// Guarded by `mutex` (uncontended, it costs nothing next to hashing a chunk).
    private var mutex = pthread_mutex_t()
    private var reason: CairnError?
    private var handlers: [UInt64: @Sendable () -> Void] = [:]
    private var nextHandler: UInt64 = 0

    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    /// Asks the operation to stop at its next check; `error` is what it ends with. The first request wins.
    /// Handlers registered with `onCancel` run on the calling thread.
    public func cancel(_ error: CairnError) {
        pthread_mutex_lock(&mutex)
        let first = reason == nil
        if first { reason = error }
        let hs = first ? Array(handlers.values) : []
        pthread_mutex_unlock(&mutex)
        for h in hs { h() }
    }

    /// The error the operation was cancelled with, or nil while it was not.
    public var error: CairnError? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return reason
    }

    public var isCancelled: Bool { error != nil }

    /// Throws the cancellation error once `cancel` was called.
    @inline(__always)
    public func check() throws {
        if let e = error { throw e }
    }

    /// Runs `scope`; when cancellation is requested meanwhile (or was already), `handler` runs
    /// on the requesting thread: for work a `check()` cannot reach, such as a child process the
    /// scope waits for (the handler stops it and the scope ends early). Throws the cancellation
    /// error when it was requested before the scope returned: its result may be cut short.
    public func onCancel<T>(_ handler: @escaping @Sendable () -> Void, during scope: () throws -> T) throws -> T {
        pthread_mutex_lock(&mutex)
        let key = nextHandler
        nextHandler &+= 1
        handlers[key] = handler
        let already = reason != nil
        pthread_mutex_unlock(&mutex)
        defer {
            pthread_mutex_lock(&mutex)
            handlers[key] = nil
            pthread_mutex_unlock(&mutex)
        }
        if already { handler() }
        let result = try scope()
        try check()
        return result
    }

    /// Runs `body` on this thread as the operation this token stops: `Cancellation.check()`
    /// in the library, on this thread, checks this token. Scopes nest (the inner token wins).
    public func run<T>(_ body: () throws -> T) rethrows -> T {
        let key = CancellationToken.key
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(key, previous) }
        return try withExtendedLifetime(self) { try body() }
    }

    /// The token of the operation running on this thread (set by `run`), or nil.
    public static var current: CancellationToken? {
        pthread_getspecific(key).map { Unmanaged<CancellationToken>.fromOpaque($0).takeUnretainedValue() }
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()
}

/// What the library's loops call: checks the current operation's token (`CancellationToken.current`).
public enum Cancellation {
    /// Throws the current operation's cancellation error once it was cancelled.
    @inline(__always)
    public static func check() throws {
        try CancellationToken.current?.check()
    }

    /// `CancellationToken.onCancel` on the current operation's token (without one: just `scope`).
    public static func onRequest<T>(_ handler: @escaping @Sendable () -> Void, during scope: () throws -> T) throws -> T {
        guard let t = CancellationToken.current else { return try scope() }
        return try t.onCancel(handler, during: scope)
    }

    /// The error an operation stopped by a signal ends with: `.interrupted` (SIGINT) or `.terminated` (SIGTERM, others).
    public static func error(for signal: Int32) -> CairnError {
        signal == SIGINT
            ? CairnError(.interrupted, "interrupted")
            : CairnError(.terminated, "terminated")
    }
}
