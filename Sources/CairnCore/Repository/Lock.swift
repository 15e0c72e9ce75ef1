// Repository locks as write-once lock objects (`locks/NAME.lock`) on any `Backend`: the same code
// on a local folder, in memory and on object storage, with no flock, rename or fsync needed.
//
// Protocol (Docs/Architecture.md, "Locks"): a taker lists the lock objects; when none conflicts it
// puts its own (a unique name, `PID-RANDOM`), then lists again. If a conflicting lock appeared
// meanwhile (a race: two takers both saw a free repository), it deletes its own, backs off for a
// random time and starts over. On a store with list-after-write consistency at least one of two
// racers sees the other, so two conflicting locks are never both held. Shared locks conflict only
// with exclusive ones; an exclusive taker that has to wait puts a `waiting` object that keeps new
// shared takers out (no starvation of prune by a stream of snapshots).
//
// Liveness: a holder refreshes its lock every `refreshInterval` on a background thread (objects are
// write-once: it puts a new object, then deletes the old one). A lock is stale when it was not
// refreshed for `staleAfter` seconds, or at once when its process is gone on this machine (same host
// name and boot id, no process with that pid and start time). Stale locks never block; `cairn unlock`
// removes them. Crash properties: a killed holder leaves its object (stale as above); a crash during a
// refresh leaves two objects of one holder, both stale together. A holder whose object was removed by
// someone else, or that could not refresh for `staleAfter`, knows its lock is lost (`checkHeld`).

#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization
import CairnStorage

/// How often a held lock is refreshed and when an unrefreshed one counts as stale.
public struct LockTiming: Sendable {
    /// Seconds between refreshes of a held lock.
    public var refreshInterval: Double
    /// Seconds after its last refresh when a lock of another machine counts as abandoned.
    public var staleAfter: Double
    /// Longest pause between two looks while waiting (`--wait`).
    public var pollInterval: Double

    public init(refreshInterval: Double = 300, staleAfter: Double = 1800, pollInterval: Double = 1) {
        self.refreshInterval = refreshInterval
        self.staleAfter = staleAfter
        self.pollInterval = pollInterval
    }

    /// Refresh every 5 minutes, stale after 30 minutes without a refresh; `CAIRN_LOCK_REFRESH_SECONDS`
    /// and `CAIRN_LOCK_STALE_SECONDS` override them (tests, and stores whose clocks drift).
    public static let standard: LockTiming = {
        var t = LockTiming()
        func env(_ k: String) -> Double? { getenv(k).flatMap { Double(String(cString: $0)) }.flatMap { $0.isFinite && $0 > 0 && $0 < 1e7 ? $0 : nil } }
        if let s = env("CAIRN_LOCK_STALE_SECONDS") { t.staleAfter = s; t.refreshInterval = min(t.refreshInterval, s / 3) }
        if let r = env("CAIRN_LOCK_REFRESH_SECONDS") { t.refreshInterval = min(r, t.staleAfter / 2) }
        return t
    }()
}

/// A held repository lock. Released by `release()`; a process that dies without releasing leaves a
/// lock that is stale at once for processes on its machine and after `staleAfter` for others.
public final class RepositoryLock: Sendable {
    public enum Mode: String, Sendable { case shared, exclusive }
    public let mode: Mode
    /// Nil for the lock of a repository the user cannot write (readers take none).
    let backend: (any Backend)?
    let timing: LockTiming
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)

    struct State {
        var handle: ObjectHandle?
        var record: LockRecord?
        var lastRefresh: Double
        var lost: String?
        var released = false
    }

    init(backend: (any Backend)?, mode: Mode, timing: LockTiming, handle: ObjectHandle?, record: LockRecord?) {
        self.backend = backend
        self.mode = mode
        self.timing = timing
        state = Mutex(State(handle: handle, record: record, lastRefresh: record?.refreshed ?? 0))
    }

    /// The lock object this process holds now (it changes with every refresh).
    public var handle: ObjectHandle? { state.withLock { $0.handle } }

    /// Throws `locked` when the lock was lost: its object was removed by someone else (`cairn unlock
    /// --remove-all`), or it could not be refreshed for `staleAfter` seconds, so others may take it.
    public func checkHeld() throws {
        if let why = state.withLock({ $0.lost }) {
            throw CairnError(.locked, "the \(mode.rawValue) lock on \(backend?.location ?? "") was lost (\(why)); run the command again", path: backend?.location)
        }
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    // MARK: Taking

    /// Takes the lock on `backend`, waiting up to `wait` seconds (0: fail at once when it is held).
    public static func acquire(_ backend: any Backend, mode: Mode, wait: Double, command: String, timing: LockTiming = .standard) throws -> RepositoryLock {
        let deadline = now() + max(0, wait)
        let want: LockRecord.Mode = mode == .shared ? .shared : .exclusive
        var waiting: (ObjectHandle, LockRecord)?
        defer { if let w = waiting { try? BlockingBridge.run { try await backend.delete(w.0) } } }
        var races = 0
        var pause = 0.02
        while true {
            let ownWaiting = waiting?.0
            let others = try scan(backend, timing: timing).filter { $0.handle != ownWaiting }
            let blocking = others.filter { $0.blocks(want) }
            if blocking.isEmpty {
                let record = LockRecord.mine(want, command: command, now: now())
                let h: ObjectHandle
                do { h = try put(backend, record) } catch let e as StorageError where e.kind == .permission && mode == .shared {
                    // A repository the user cannot write: readers take no lock (they change nothing).
                    return RepositoryLock(backend: nil, mode: mode, timing: timing, handle: nil, record: nil)
                }
                let after = try scan(backend, timing: timing).filter { $0.handle != h && $0.handle != ownWaiting && $0.blocks(want) }
                if after.isEmpty {
                    let lock = RepositoryLock(backend: backend, mode: mode, timing: timing, handle: h, record: record)
                    lock.startRefreshing()
                    return lock
                }
                // A race: someone took a conflicting lock between our two listings. Step back.
                try? BlockingBridge.run { try await backend.delete(h) }
                races += 1
                if now() >= deadline && races >= 8 { throw lockedError(backend, blocking: after, all: others) }
                usleep(useconds_t(Double.random(in: 0.01...min(1, 0.05 * Double(races))) * 1e6))
                continue
            }
            if now() >= deadline { throw lockedError(backend, blocking: blocking, all: others) }
            if mode == .exclusive {
                // Announce the wait (and keep the announcement fresh) so new shared takers queue behind it.
                if waiting == nil || now() - (waiting?.1.refreshed ?? 0) > timing.refreshInterval {
                    var r = waiting?.1 ?? LockRecord.mine(.waiting, command: command, now: now())
                    r.refreshed = now()
                    let h = try put(backend, r)
                    if let old = waiting { try? BlockingBridge.run { try await backend.delete(old.0) } }
                    waiting = (h, r)
                }
            }
            let left = deadline - now()
            usleep(useconds_t(max(0.005, min(left, pause * Double.random(in: 0.5...1.5))) * 1e6))
            pause = min(timing.pollInterval, pause * 2)
        }
    }

    /// Takes the lock on the repository folder `path` (a local folder).
    public static func acquire(folder path: String, mode: Mode, wait: Double, command: String) throws -> RepositoryLock {
        try acquire(LocalBackend(path: path), mode: mode, wait: wait, command: command)
    }

    /// Puts `record` under a fresh unique name (`PID-RANDOM`) and returns that name.
    static func put(_ backend: any Backend, _ record: LockRecord) throws -> ObjectHandle {
        while true {
            let name = "\(record.pid)-\(Hex.encode(withUnsafeBytes(of: UInt64.random(in: 0...UInt64.max)) { Array($0) }))"
            guard let h = ObjectHandle(.lock, name) else { throw CairnError(.internalError, "lock name \(name) is not a valid object name") }
            do {
                let bytes = record.encoded()
                try BlockingBridge.run { try await backend.put(h, bytes: bytes) }
                return h
            } catch let e as StorageError where e.kind == .alreadyExists {
                continue   // 64 random bits taken: draw again
            } catch let e as StorageError where e.kind == .permission && record.mode == .shared {
                throw e
            } catch let e as StorageError {
                throw storageError(e, backend)
            }
        }
    }

    static func storageError(_ e: StorageError, _ backend: any Backend) -> CairnError {
        CairnError(e.kind == .noSpace ? .noSpace : .io, "cannot write a lock object in \(backend.location): \(e.message)", path: e.object.map { backend.location + "/" + $0 }, errno: e.errno)
    }

    // MARK: Refreshing and releasing

    private func startRefreshing() {
        let wake = self.wake, interval = timing.refreshInterval
        let t = Thread { [weak self] in
            while true {
                _ = wake.wait(timeout: .now() + interval)
                guard let self, self.refreshOnce() else { return }
            }
        }
        t.name = "cairn-lock-refresh"
        t.start()
    }

    /// Replaces the lock object by one with a new refresh time. False when refreshing is over
    /// (released or lost).
    func refreshOnce() -> Bool {
        guard let backend else { return false }
        let s = state.withLock { $0 }
        guard !s.released, s.lost == nil, let old = s.handle, var record = s.record else { return false }
        let t = RepositoryLock.now()
        // Our object must still be there: someone who judged it stale may have removed it.
        if case .failure(let e as StorageError) = Result(catching: { try BlockingBridge.run { try await backend.stat(old) } }), e.kind == .notFound {
            state.withLock { $0.lost = "its lock object \(old) was removed by another process" }
            return false
        }
        record.refreshed = t
        guard let h = try? RepositoryLock.put(backend, record) else {
            if t - s.lastRefresh > timing.staleAfter {
                state.withLock { $0.lost = "it could not be refreshed for \(LockRecord.duration(t - s.lastRefresh))" }
                return false
            }
            return true
        }
        let keep = state.withLock { st -> Bool in
            if st.released { return false }
            st.handle = h
            st.record = record
            st.lastRefresh = t
            return true
        }
        try? BlockingBridge.run { try await backend.delete(keep ? old : h) }
        return keep
    }

    /// Deletes the lock object and stops refreshing. Idempotent.
    public func release() {
        let h = state.withLock { st -> ObjectHandle? in
            if st.released { return nil }
            st.released = true
            return st.handle
        }
        wake.signal()
        if let h, let backend { try? BlockingBridge.run { try await backend.delete(h) } }
    }

    deinit { release() }
}
