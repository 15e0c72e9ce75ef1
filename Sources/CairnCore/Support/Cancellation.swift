// Cooperative cancellation: a process-wide flag set when the user asks the process to stop
// (SIGINT, SIGTERM: the CLI's signal thread calls `request`), checked by the long loops of the
// library (chunking, restore, export, import). `check()` throws, so the normal error paths
// run: partial files and temporary spools are removed by the code that created them, and the
// repository lock is released when the Repository goes away. Nothing is left half-written
// that the error path would not also handle.

#if canImport(Glibc)
import Glibc
#endif

/// The process-wide cancellation flag.
public enum Cancellation {
    /// The signal that requested cancellation, 0 while none did. Written by the signal
    /// thread, read by the working threads; a pthread mutex guards it (uncontended, it costs
    /// nothing next to hashing a chunk).
    private final class State: @unchecked Sendable {
        var mutex = pthread_mutex_t()
        var signal: Int32 = 0
        var handlers: [UInt64: @Sendable () -> Void] = [:]
        var nextHandler: UInt64 = 0
        init() { pthread_mutex_init(&mutex, nil) }
    }
    private static let state = State()

    /// Asks every running operation to stop at its next `check()`. `signal` is the reason
    /// (SIGINT or SIGTERM); the first request wins.
    public static func request(signal: Int32) {
        pthread_mutex_lock(&state.mutex)
        if state.signal == 0 { state.signal = signal }
        let handlers = Array(state.handlers.values)
        pthread_mutex_unlock(&state.mutex)
        for h in handlers { h() }
    }

    /// Runs `scope`; when cancellation is requested meanwhile (or was already), `handler` runs
    /// on the requesting thread: for work a `check()` cannot reach, such as a child process
    /// the scope waits for (the handler stops it and the scope ends early). Throws the
    /// cancellation error when it was requested before the scope returned: its result may be cut short.
    public static func onRequest<T>(_ handler: @escaping @Sendable () -> Void, during scope: () throws -> T) throws -> T {
        pthread_mutex_lock(&state.mutex)
        let key = state.nextHandler
        state.nextHandler &+= 1
        state.handlers[key] = handler
        let already = state.signal != 0
        pthread_mutex_unlock(&state.mutex)
        defer {
            pthread_mutex_lock(&state.mutex)
            state.handlers[key] = nil
            pthread_mutex_unlock(&state.mutex)
        }
        if already { handler() }
        let result = try scope()
        try check()
        return result
    }

    /// The signal that requested cancellation, or nil.
    public static var requested: Int32? {
        pthread_mutex_lock(&state.mutex)
        defer { pthread_mutex_unlock(&state.mutex) }
        return state.signal == 0 ? nil : state.signal
    }

    /// Throws `.interrupted` (SIGINT) or `.terminated` (SIGTERM, others) once cancellation was requested.
    @inline(__always)
    public static func check() throws {
        if let s = requested { throw error(for: s) }
    }

    /// The error a cancelled operation ends with.
    public static func error(for signal: Int32) -> CairnError {
        signal == SIGINT
            ? CairnError(.interrupted, "interrupted")
            : CairnError(.terminated, "terminated")
    }
}
