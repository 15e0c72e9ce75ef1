// Reading the lock objects of a repository: who holds what, which are stale, the `locked` error
// and `cairn unlock`'s removal of stale (or all) locks.

#if canImport(Glibc)
import Glibc
#endif
import CairnStorage

extension RepositoryLock {
    /// A lock object found in the repository.
    public struct Holder: Sendable {
        public var handle: ObjectHandle
        /// The parsed content; nil for a damaged object (never blocks, `cairn unlock` removes it).
        public var record: LockRecord?
        public var pid: Int32 { record?.pid ?? 0 }
        public var host: String { record?.host ?? "?" }
        public var mode: String { record?.mode.rawValue ?? "damaged" }
        public var command: String { record?.command ?? "?" }
        /// Where the object is, for messages.
        public var file: String
        /// Why the holder is known to be gone, or nil while it may hold the lock.
        public var staleReason: String?
        /// True when the lock no longer counts (holder gone, not refreshed in time, or damaged).
        public var stale: Bool { staleReason != nil }

        /// True when this live lock keeps a taker of `mode` out.
        func blocks(_ mode: LockRecord.Mode) -> Bool { !stale && (record?.conflicts(with: mode) ?? false) }

        /// `pid 12 on host (snapshot, shared, taken 5m 2s ago, refreshed 10s ago)`.
        func describe(now: Double) -> String {
            guard let r = record else { return "a damaged lock object \(file)" }
            let what = r.mode == .waiting ? "waiting for the exclusive lock" : r.mode.rawValue
            return "pid \(r.pid) on \(r.host) (\(r.command), \(what), taken \(LockRecord.duration(now - r.created)) ago, refreshed \(LockRecord.duration(now - r.refreshed)) ago)"
        }
    }

    /// Every lock object with its content and staleness. Listed again when an object listed vanished
    /// before it was read (a holder refreshing: its new object was put before the old one went).
    static func scan(_ backend: any Backend, timing: LockTiming) throws -> [Holder] {
        for _ in 0..<100 {
            let listed: [ObjectInfo]
            do { listed = try BlockingBridge.run { try await backend.listAll(.lock) } } catch let e as StorageError {
                if e.kind == .notFound { return [] }
                throw CairnError(.io, "cannot list the locks of \(backend.location): \(e.message)", path: backend.location, errno: e.errno)
            }
            var out: [Holder] = []
            var vanished = false
            let t = now()
            for info in listed {
                let h = info.handle
                let file = backend.location + "/" + h.description
                if info.size > UInt64(LockRecord.maxBytes) {
                    out.append(Holder(handle: h, record: nil, file: file, staleReason: "damaged (\(info.size) bytes)"))
                    continue
                }
                do {
                    let bytes = try BlockingBridge.run { try await backend.bytes(h, limit: LockRecord.maxBytes) }
                    let r = LockRecord.decode(bytes)
                    out.append(Holder(handle: h, record: r, file: file,
                                      staleReason: r.map { $0.staleReason(now: t, staleAfter: timing.staleAfter) } ?? "damaged"))
                } catch let e as StorageError where e.kind == .notFound {
                    vanished = true
                } catch let e as StorageError where e.kind == .fatal {
                    out.append(Holder(handle: h, record: nil, file: file, staleReason: "unreadable (\(e.message))"))
                } catch let e as StorageError {
                    throw CairnError(.io, "cannot read lock \(file): \(e.message)", path: file, errno: e.errno)
                }
            }
            if !vanished { return out }
        }
        throw CairnError(.io, "the locks of \(backend.location) kept changing while being read; try again", path: backend.location)
    }

    /// The error for a lock not obtained in time: names the holders in the way, and stale locks apart.
    static func lockedError(_ backend: any Backend, blocking: [Holder], all: [Holder]) -> CairnError {
        let t = now()
        let stale = all.filter(\.stale)
        var msg = "repository \(backend.location) is locked by \(blocking.map { $0.describe(now: t) }.joined(separator: ", ")); wait for it to finish or pass --wait SECONDS"
        msg += "; if that process is gone, `cairn unlock` removes stale locks (`cairn unlock --remove-all` every lock, for a machine known to be down)"
        if !stale.isEmpty {
            msg += " (stale locks, not in the way: \(stale.map { "\($0.record == nil ? $0.file : "pid \($0.pid) on \($0.host) (\($0.command))"): \($0.staleReason ?? "")" }.joined(separator: ", ")))"
        }
        return CairnError(.locked, msg, path: backend.location + "/locks")
    }

    /// The lock objects of `backend` with their holders, each marked stale or not.
    public static func holders(_ backend: any Backend, timing: LockTiming = .standard) throws -> [Holder] {
        try scan(backend, timing: timing)
    }

    /// What `cairn unlock` did.
    public struct UnlockResult: Sendable {
        /// Locks removed: stale ones, or every one with `all`.
        public var removed: [Holder]
        /// Holders that may still hold their lock, left alone.
        public var live: [Holder]
        /// Lock info files of format 1 (`locks/PID-N.json`, not objects) of dead processes that were removed.
        public var partialFiles = 0
    }

    /// Removes stale lock objects (holder gone on this machine, not refreshed for `staleAfter`,
    /// damaged), or every lock object with `all`. Live holders are left alone and returned.
    public static func removeStale(_ backend: any Backend, all: Bool = false, timing: LockTiming = .standard) throws -> UnlockResult {
        var result = UnlockResult(removed: [], live: [])
        for h in try scan(backend, timing: timing) {
            if all || h.stale {
                do { try BlockingBridge.run { try await backend.delete(h.handle) } } catch let e as StorageError {
                    throw CairnError(.io, "cannot remove lock \(h.file): \(e.message)", path: h.file, errno: e.errno)
                }
                result.removed.append(h)
            } else {
                result.live.append(h)
            }
        }
        return result
    }

    /// Removes format 1's lock info files (`locks/PID-N.json` and their temporaries) whose process is
    /// gone; they are not lock objects and never block. Returns how many.
    static func removeFormat1Info(_ layout: RepositoryLayout) -> Int {
        var removed = 0
        for n in (try? FS.list(layout.locks)) ?? [] where n.contains(".json") {
            guard let pid = Int32(n.prefix { $0 != "-" }), pid > 0, kill(pid, 0) != 0 && errno == ESRCH else { continue }
            if unlink(layout.locks + "/" + n) == 0 { removed += 1 }
        }
        return removed
    }
}
