// RepositoryPool: how requests share the repository.
//
// `Repository` is one instance per thread of use (its SQLite connection is opened
// NOMUTEX and caches prepared statements; pack files are cached per instance), so it
// cannot be used by two requests at once. The server opens a small fixed set of
// instances once, at start, and lends each to one request or job at a time: many
// readers (and shared-lock writers) run at once, one per instance, and no request
// reopens the repository. Each lent instance holds the repository's shared lock (as
// every CLI command does); an instance keeps it while idle. Prune needs the exclusive
// lock: it closes the gate (new loans wait), waits for every loan to come back, drops
// the idle instances' shared locks, takes the exclusive lock, and reopens the gate after.
// An instance idle for more than `idleRelease` seconds gives its shared lock back, so that a
// `cairn prune` from another process can run while the server is quiet.
// Index freshness: no read transaction outlives a loan (BlockReaders die with the
// request), so rows other processes commit are visible to the next loan.

import CairnCore
import Foundation

/// A fixed set of open repository instances lent to one user at a time.
public final class RepositoryPool: @unchecked Sendable {
    public let path: String
    let cond = NSCondition()
    var idle: [Repository] = []
    var lastUse: [ObjectIdentifier: Date] = [:]
    var lent = 0
    static let idleRelease: TimeInterval = 2
    var exclusiveWaiting = 0
    var exclusiveHeld = false
    /// A note from opening (an interrupted restore that was completed or rolled back).
    public let recoveryReport: String?
    public let root: String
    /// The server's state folder: `REPO/serve` (formats 1 and 2) or the per-host state folder's `serve`.
    public let serveState: String

    /// Opens `size` instances of the repository at `path`.
    public init(path: String, size: Int) throws {
        self.path = path
        var first: String?
        for _ in 0..<max(1, size) {
            let r = try Repository.open(at: path)
            if first == nil { first = r.recoveryReport }
            idle.append(r)
        }
        recoveryReport = first
        root = idle[0].root
        serveState = idle[0].layout.serve
        let t = Thread { [weak self] in
            while let pool = self {
                pool.releaseIdleLocks()
                Thread.sleep(forTimeInterval: 1)
            }
        }
        t.start()
    }

    /// Drops the shared lock of instances unused for `idleRelease` seconds (taken again on the next loan).
    func releaseIdleLocks() {
        cond.lock()
        defer { cond.unlock() }
        let now = Date()
        for r in idle where now.timeIntervalSince(lastUse[ObjectIdentifier(r)] ?? .distantPast) > RepositoryPool.idleRelease {
            r.unlock()
            lastUse[ObjectIdentifier(r)] = .distantFuture
        }
    }

    /// Lends an instance for `body` with the shared lock (or the exclusive lock when `exclusive`).
    /// Waits at most `wait` seconds for an instance or the lock: then `CairnError(.locked)` (HTTP 503).
    public func with<T>(exclusive: Bool = false, wait: Double, command: String, _ body: (Repository) throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(wait)
        let repo = try checkout(exclusive: exclusive, deadline: deadline)
        defer { checkin(repo, exclusive: exclusive) }
        if exclusive {
            try repo.lock(.exclusive, wait: max(0, deadline.timeIntervalSinceNow), command: "serve \(command)")
        } else {
            try repo.lock(.shared, wait: max(0, deadline.timeIntervalSinceNow), command: "serve")
        }
        return try body(repo)
    }

    func locked(_ what: String) -> CairnError {
        CairnError(.locked, "the repository stayed busy (\(what)) for longer than this request waits; retry later")
    }

    func checkout(exclusive: Bool, deadline: Date) throws -> Repository {
        cond.lock()
        defer { cond.unlock() }
        if exclusive {
            exclusiveWaiting += 1
            defer { exclusiveWaiting -= 1 }
            while exclusiveHeld || lent > 0 || idle.isEmpty {
                if !cond.wait(until: deadline) { throw locked("waiting for running requests before prune") }
            }
            exclusiveHeld = true
            // Every other instance is idle: drop their shared locks so the exclusive one can be taken.
            for r in idle { r.unlock() }
        } else {
            while exclusiveHeld || exclusiveWaiting > 0 || idle.isEmpty {
                if !cond.wait(until: deadline) { throw locked(exclusiveHeld || exclusiveWaiting > 0 ? "a prune is running" : "all connections to it are in use") }
            }
        }
        lent += 1
        return idle.removeLast()
    }

    func checkin(_ r: Repository, exclusive: Bool) {
        cond.lock()
        if exclusive {
            r.unlock()
            exclusiveHeld = false
        }
        lent -= 1
        lastUse[ObjectIdentifier(r)] = Date()
        idle.append(r)
        cond.broadcast()
        cond.unlock()
    }
}
