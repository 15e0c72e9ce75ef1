// Lock objects on the memory and local folder backends: shared/exclusive semantics, a race of many
// takers (never two conflicting holders at once), stale detection (dead process on this machine,
// unrefreshed lock of another machine, damaged objects), refresh, lost locks, waiting exclusives.

import CairnCore
import CairnStorage
import CairnTestSupport
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Counters the racing threads share.
struct Inside: Sendable { var shared = 0, exclusive = 0, violations = 0, grants = 0, sharedOverlap = 0 }

/// A value behind a mutex, shareable between threads.
final class Shared<T: Sendable>: Sendable {
    private let m: Mutex<T>
    init(_ v: T) { m = Mutex(v) }
    func withLock<R: Sendable>(_ f: (inout T) -> R) -> R { m.withLock { f(&$0) } }
}

@Suite struct LockObjectTests {
    enum Kind: String, CaseIterable, Sendable { case memory, local }

    /// A fresh backend of `kind` (a temporary folder for local) and its cleanup.
    static func backend(_ kind: Kind) -> (any Backend, @Sendable () -> Void) {
        switch kind {
        case .memory: return (MemoryBackend(), {})
        case .local:
            let t = TempDir("cairn-lock")
            return (LocalBackend(path: t.path), { t.remove() })
        }
    }

    static let fast = LockTiming(refreshInterval: 0.15, staleAfter: 30, pollInterval: 0.05)

    static func lockCount(_ b: any Backend) throws -> Int { try BlockingBridge.run { try await b.listAll(.lock) }.count }

    static func put(_ b: any Backend, _ r: LockRecord, _ name: String) throws {
        let h = ObjectHandle(.lock, name)!
        let bytes = r.encoded()
        try BlockingBridge.run { try await b.put(h, bytes: bytes) }
    }

    /// The `locked` message of a take that must be refused (an issue when it is granted).
    static func refused(_ b: any Backend, _ mode: RepositoryLock.Mode, wait: Double = 0, command: String = "prune") -> String {
        do {
            let l = try RepositoryLock.acquire(b, mode: mode, wait: wait, command: command, timing: fast)
            l.release()
            Issue.record("a \(mode.rawValue) lock was granted where it conflicts")
        } catch let e as CairnError {
            #expect(e.code == .locked)
            #expect(!e.message.contains("\n"))
            return e.message
        } catch {
            Issue.record("unexpected \(error)")
        }
        return ""
    }

    @Test(arguments: Kind.allCases) func sharedLocksShareAndExclusiveExcludes(_ kind: Kind) async throws {
        try await onEngineThread {
            let (b, done) = Self.backend(kind); defer { done() }
            let s1 = try RepositoryLock.acquire(b, mode: .shared, wait: 0, command: "snapshot one", timing: Self.fast)
            let s2 = try RepositoryLock.acquire(b, mode: .shared, wait: 0, command: "snapshot two", timing: Self.fast)
            #expect(try Self.lockCount(b) == 2)
            let m = Self.refused(b, .exclusive, wait: 0.2)
            #expect(m.contains("is locked by pid \(getpid()) on \(FS.hostname()) (snapshot "), "\(m)")
            #expect(m.contains("pid \(getpid()) on \(FS.hostname()) (snapshot one, shared, taken "), "\(m)")
            #expect(m.contains("snapshot two") && m.contains("`cairn unlock`"), "\(m)")
            // The waiting announcement of the refused exclusive taker is gone again.
            #expect(try Self.lockCount(b) == 2)
            s1.release()
            s2.release()
            #expect(try Self.lockCount(b) == 0)
            let x = try RepositoryLock.acquire(b, mode: .exclusive, wait: 0, command: "prune", timing: Self.fast)
            #expect(Self.refused(b, .shared).contains("(prune, exclusive, taken "))
            #expect(Self.refused(b, .exclusive).contains("(prune, exclusive, taken "))
            x.release()
            x.release()
            #expect(try Self.lockCount(b) == 0)
        }
    }

    /// 8 threads take exclusive and shared locks 6 times each (all with waiting) on one backend; the
    /// test counts holders inside: never an exclusive beside anyone else.
    @Test(arguments: Kind.allCases) func aRaceOfManyTakersNeverGrantsConflictingLocks(_ kind: Kind) async throws {
        let (b, done) = Self.backend(kind); defer { done() }
        let inside = Shared(Inside())
        let failures = Shared<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { g in
            for t in 0..<8 {
                g.addTask {
                    try await onEngineThread {
                        for i in 0..<6 {
                            let exclusive = (t + i) % 3 == 0
                            do {
                                let l = try RepositoryLock.acquire(b, mode: exclusive ? .exclusive : .shared, wait: 60, command: "taker \(t)", timing: Self.fast)
                                inside.withLock { s in
                                    if exclusive { s.exclusive += 1 } else { s.shared += 1 }
                                    if s.exclusive > 1 || (s.exclusive == 1 && s.shared > 0) { s.violations += 1 }
                                    if s.shared > 1 { s.sharedOverlap += 1 }
                                    s.grants += 1
                                }
                                usleep(UInt32.random(in: 2_000...15_000))
                                inside.withLock { s in if exclusive { s.exclusive -= 1 } else { s.shared -= 1 } }
                                l.release()
                            } catch {
                                failures.withLock { $0.append("\(error)") }
                            }
                        }
                    }
                }
            }
            try await g.waitForAll()
        }
        let s = inside.withLock { $0 }
        #expect(failures.withLock { $0 } == [])
        #expect(s.violations == 0)
        #expect(s.grants == 48)
        print("FIGURE lock race on \(kind.rawValue): 8 takers x 6, 48 grants, \(s.sharedOverlap) times shared holders overlapped, 0 conflicts")
        #expect(try await onEngineThread { try Self.lockCount(b) } == 0)
    }

    @Test(arguments: Kind.allCases) func staleLocksDoNotBlockAndUnlockRemovesThem(_ kind: Kind) async throws {
        try await onEngineThread {
            let (b, done) = Self.backend(kind); defer { done() }
            // A process of this machine that is gone: its exclusive lock is stale at once.
            let dead = try Child.spawn("/bin/true", [])
            _ = dead.wait()
            var gone = LockRecord.mine(.exclusive, command: "prune", now: Date().timeIntervalSince1970)
            gone.pid = dead.pid
            try Self.put(b, gone, "\(dead.pid)-dead")
            // A live process of this machine whose start time differs (the pid was reused): stale too.
            var reused = LockRecord.mine(.exclusive, command: "prune", now: Date().timeIntervalSince1970)
            reused.start &+= 1
            try Self.put(b, reused, "\(reused.pid)-reused")
            // Another machine's lock, not refreshed for an hour: stale by the timeout.
            var old = LockRecord.mine(.exclusive, command: "prune", now: Date().timeIntervalSince1970 - 7200)
            old.host = "elsewhere"
            old.refreshed = Date().timeIntervalSince1970 - 3600
            try Self.put(b, old, "77-old")
            // A damaged object.
            try BlockingBridge.run { try await b.put(ObjectHandle(.lock, "junk")!, bytes: Array("{not json".utf8)) }

            let l = try RepositoryLock.acquire(b, mode: .exclusive, wait: 0, command: "check", timing: Self.fast)
            let hs = try RepositoryLock.holders(b, timing: Self.fast)
            #expect(hs.count == 5)
            #expect(hs.first { $0.handle.name == "\(dead.pid)-dead" }?.staleReason == "its process is gone")
            #expect(hs.first { $0.handle.name == "\(reused.pid)-reused" }?.staleReason == "its process is gone")
            #expect(hs.first { $0.handle.name == "77-old" }?.staleReason?.hasPrefix("not refreshed for 1h") == true)
            #expect(hs.first { $0.handle.name == "junk" }?.staleReason == "damaged")
            #expect(hs.first { $0.handle == l.handle }?.stale == false)
            l.release()

            // Another machine's fresh lock blocks (its process cannot be checked from here).
            var live = LockRecord.mine(.shared, command: "snapshot", now: Date().timeIntervalSince1970 - 10)
            live.host = "elsewhere"
            live.bootId = "other-boot"
            try Self.put(b, live, "88-live")
            let m = Self.refused(b, .exclusive)
            #expect(m.contains("pid \(live.pid) on elsewhere (snapshot, shared, taken 10s ago"), "\(m)")
            #expect(m.contains("stale locks, not in the way: ") && m.contains("pid \(dead.pid) on \(FS.hostname()) (prune): its process is gone"), "\(m)")
            let r = try RepositoryLock.removeStale(b, timing: Self.fast)
            #expect(r.removed.count == 4 && r.live.map(\.handle.name) == ["88-live"])
            let all = try RepositoryLock.removeStale(b, all: true, timing: Self.fast)
            #expect(all.removed.map(\.handle.name) == ["88-live"])
            #expect(try Self.lockCount(b) == 0)
        }
    }

    @Test(arguments: Kind.allCases) func aHeldLockIsRefreshedAndALostOneIsNoticed(_ kind: Kind) async throws {
        try await onEngineThread {
            let (b, done) = Self.backend(kind); defer { done() }
            let l = try RepositoryLock.acquire(b, mode: .shared, wait: 0, command: "snapshot", timing: Self.fast)
            let first = l.handle
            var waited = 0
            while l.handle == first && waited < 250 { usleep(20_000); waited += 1 }
            // Refreshed: a new object replaced the old one (two exist only for a moment during a refresh).
            #expect(l.handle != first)
            let hs = try RepositoryLock.holders(b, timing: Self.fast)
            #expect((1...2).contains(hs.count) && !hs.contains { $0.handle == first })
            let r = try #require(hs.last?.record)
            #expect(r.refreshed > r.created)
            try l.checkHeld()
            // Someone removes it (`cairn unlock --remove-all`): the holder notices at its next refresh.
            // (Removed again while it is not noticed: a refresh in flight may have put a new object.)
            waited = 0
            while (try? l.checkHeld()) != nil && waited < 250 {
                _ = try RepositoryLock.removeStale(b, all: true, timing: Self.fast)
                usleep(20_000)
                waited += 1
            }
            #expect(throws: CairnError.self) { try l.checkHeld() }
            usleep(400_000)
            #expect(try Self.lockCount(b) == 0, "a lost lock is not put back")
            l.release()
        }
    }

    /// A waiting exclusive taker keeps new shared takers out, and gets the lock once the holder leaves.
    @Test(arguments: Kind.allCases) func aWaitingExclusiveTakerIsNotStarved(_ kind: Kind) async throws {
        let (b, done) = Self.backend(kind); defer { done() }
        let s = try await onEngineThread { try RepositoryLock.acquire(b, mode: .shared, wait: 0, command: "snapshot", timing: Self.fast) }
        async let prune: Bool = onEngineThread {
            let x = try RepositoryLock.acquire(b, mode: .exclusive, wait: 30, command: "prune", timing: Self.fast)
            x.release()
            return true
        }
        try await onEngineThread {
            var announced = false
            for _ in 0..<200 where !announced {
                announced = try RepositoryLock.holders(b, timing: Self.fast).contains { $0.record?.mode == .waiting }
                if !announced { usleep(20_000) }
            }
            #expect(announced)
            let m = Self.refused(b, .shared, command: "snapshot two")
            #expect(m.contains("(prune, waiting for the exclusive lock, taken"), "\(m)")
            s.release()
        }
        #expect(try await prune)
        #expect(try await onEngineThread { try Self.lockCount(b) } == 0)
    }

    @Test func lockRecordsAreBoundedAndValidated() {
        let r = LockRecord.mine(.shared, command: String(repeating: "x", count: 1000), now: 1_700_000_000)
        #expect(r.command.utf8.count == 256)
        #expect(LockRecord.decode(r.encoded()) == r)
        #expect(LockRecord.decode(Array(repeating: 0x20, count: LockRecord.maxBytes + 1)) == nil)
        var bad = r
        bad.pid = -3
        #expect(LockRecord.decode(bad.encoded()) == nil)
        let nan = Array(String(decoding: r.encoded(), as: UTF8.self).replacingOccurrences(of: "\"pid\":\(r.pid)", with: "\"pid\":99999999999").utf8)
        #expect(LockRecord.decode(nan) == nil)
        #expect(LockRecord.duration(3725) == "1h 2m" && LockRecord.duration(-5) == "0s" && LockRecord.duration(.infinity) == "0s")
    }
}
