// Retrying transient failures: exponential backoff with full jitter, a bounded number of
// attempts, a whole-operation deadline and the server's Retry-After. One implementation, used by
// `RetryingBackend` and by the S3 backend's HTTP requests.
//
// Only `transient` errors are retried: every other error (and every success) means the outcome of
// the request is known, and repeating it could only repeat that outcome or do harm.

import Synchronization

/// How often and how long to retry.
public struct RetryPolicy: Sendable {
    /// Attempts in all, including the first.
    public var maxAttempts: Int
    /// The first backoff ceiling; doubles per attempt up to `maxDelay`.
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// The whole operation (all attempts and waits) gives up after this long.
    public var deadline: Duration
    /// Counts retries (for tests and progress output); shared by every copy of the policy.
    public let counter: RetryCounter

    public init(maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(10),
                deadline: Duration = .seconds(300), counter: RetryCounter = RetryCounter()) {
        self.maxAttempts = max(maxAttempts, 1)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.deadline = deadline
        self.counter = counter
    }

    /// No retries (each request is tried once).
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before attempt `attempt` + 1 (1-based `attempt` just failed): uniformly random in
    /// [0, min(maxDelay, baseDelay * 2^(attempt-1))], or the server's Retry-After when longer.
    public func delay(after attempt: Int, retryAfter: Double?) -> Duration {
        let ceiling = min(maxDelay, baseDelay * (1 << min(attempt - 1, 20)))
        let ns = ceiling.nanoseconds
        var d = Duration.nanoseconds(ns > 0 ? Int64.random(in: 0...ns) : 0)
        if let r = retryAfter, r.isFinite, r > 0 { d = max(d, .milliseconds(Int64(min(r, 3600) * 1000))) }
        return d
    }

    /// Runs `body` until it succeeds, throws a non-transient error, or attempts or the deadline run
    /// out; `body` gets the attempt number (1-based) and the time left.
    /// `until` is an earlier end for the whole operation this request belongs to.
    public func run<T>(until: ContinuousClock.Instant? = nil, _ body: (_ attempt: Int, _ remaining: Duration) async throws -> T) async throws -> T {
        let clock = ContinuousClock()
        let end = min(clock.now.advanced(by: deadline), until ?? .now.advanced(by: deadline))
        var attempt = 1
        while true {
            do {
                return try await body(attempt, clock.now.duration(to: end))
            } catch let e as StorageError where e.isRetryable {
                let wait = delay(after: attempt, retryAfter: e.retryAfter)
                let left = clock.now.duration(to: end)
                guard attempt < maxAttempts, wait < left, !Task.isCancelled else {
                    var out = e
                    if attempt > 1 { out.message += " (gave up after \(attempt) attempts)" }
                    throw out
                }
                counter.add()
                try await Task.sleep(for: wait)
                attempt += 1
            }
        }
    }
}

/// A shared retry count.
public final class RetryCounter: Sendable {
    private let n = Mutex(0)
    public init() {}
    public var value: Int { n.withLock { $0 } }
    func add() { n.withLock { $0 += 1 } }
}

extension Duration {
    /// Whole nanoseconds, saturating at `Int64.max`.
    var nanoseconds: Int64 {
        let (s, a) = components
        let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return o ? .max : ns.addingReportingOverflow(a / 1_000_000_000).overflow ? .max : ns + a / 1_000_000_000
    }
}
