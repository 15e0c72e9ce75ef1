// Connections: idle clients are dropped. Two cases, one limit (`ServeOptions.idleTimeout`):
//  - a client that sends nothing (no request, or a request or upload body that stops
//    arriving) for that long: Hummingbird's HTTP/1 idle timeout closes the connection;
//  - a client that stops reading a response (download, `cat`, events): a write that stays
//    pending for that long closes the connection (`StallGuard`), which fails the write, stops
//    the library call behind it and gives its repository instance back.
// A download that makes progress, however slowly, is never dropped: only the time one write
// waits for the client counts, not the length of the download.

import Foundation
import Hummingbird

/// The request context: Hummingbird's basic one plus a way to close the request's connection.
struct ServeContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Closes the connection the request came on.
    let closeConnection: @Sendable () -> Void

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let channel = source.channel
        closeConnection = { channel.close(promise: nil) }
    }
}

/// What a response body needs to drop a client that stopped reading.
struct ConnectionScope: Sendable {
    var close: @Sendable () -> Void
    /// Seconds one write may wait for the client; 0: forever.
    var idleTimeout: Double

    /// The request being handled (set around routing, read when a streamed body is made).
    @TaskLocal static var current: ConnectionScope?
}

/// Watches the writes of one response body: one that waits longer than the idle timeout closes the connection.
final class StallGuard: @unchecked Sendable {
    private let lock = NSLock()
    private var pendingSince: Date?
    private var finished = false

    /// Starts watching (nothing to watch without a scope or with a zero timeout).
    init(_ scope: ConnectionScope? = ConnectionScope.current) {
        guard let scope, scope.idleTimeout > 0 else { return }
        let limit = scope.idleTimeout
        Task { [weak self] in
            while let s = self, !s.isFinished {
                if s.stalled(longerThan: limit) {
                    scope.close()
                    return
                }
                try? await Task.sleep(nanoseconds: UInt64(min(limit / 4, 1) * 1e9))
            }
        }
    }

    private var isFinished: Bool { lock.withLock { finished } }

    private func stalled(longerThan limit: Double) -> Bool {
        lock.withLock { pendingSince.map { Date().timeIntervalSince($0) > limit } ?? false }
    }

    /// Runs one write of the response body under watch.
    func write(_ body: () async throws -> Void) async throws {
        setPending(Date())
        defer { setPending(nil) }
        try await body()
    }

    private func setPending(_ d: Date?) { lock.withLock { pendingSince = d } }

    /// The body is complete (or failed): stop watching.
    func finish() { lock.withLock { finished = true } }
}
