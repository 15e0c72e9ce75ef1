// Repository locks: a shared/exclusive flock on REPO/lock, plus a small info file per
// holder in REPO/locks/ that names the pid, host and command for messages and
// stale-lock detection. The kernel drops a flock when its process dies, so a crashed
// holder never blocks others; its info file is then stale: lock messages and
// `cairn unlock` name it, and `cairn unlock` removes it.
//
// Fairness: a process passes REPO/lock.gate (flock, exclusive) before it takes REPO/lock
// and releases the gate right after. A process that waits for the exclusive lock holds
// the gate while it waits, so new shared holders queue behind it and a stream of
// overlapping snapshots cannot starve prune.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A held repository lock. Released by `release()` or when the process exits.
public final class RepositoryLock {
    public enum Mode: String, Sendable { case shared, exclusive }
    let fd: Int32
    let infoPath: String
    public let mode: Mode

    init(fd: Int32, infoPath: String, mode: Mode) {
        self.fd = fd
        self.infoPath = infoPath
        self.mode = mode
    }

    /// Takes the lock, waiting up to `wait` seconds (0: fail at once when it is held).
    static func acquire(_ layout: RepositoryLayout, mode: Mode, wait: Double, command: String) throws -> RepositoryLock {
        var fd = open(layout.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 && mode == .shared && (errno == EROFS || errno == EACCES) {
            // A repository the user cannot write: readers still share the lock when its file
            // exists (flock works on a read-only descriptor), and take none when it does not.
            fd = open(layout.lock, O_RDONLY | O_CLOEXEC)
            if fd < 0 { return RepositoryLock(fd: -1, infoPath: "", mode: mode) }
            let deadline = Date().addingTimeInterval(wait)
            while flock(fd, LOCK_SH | LOCK_NB) != 0 {
                if Date() >= deadline { close(fd); throw lockedError(layout) }
                usleep(20_000)
            }
            return RepositoryLock(fd: fd, infoPath: "", mode: mode)
        }
        if fd < 0 { throw CairnError.posix("cannot open lock file", path: layout.lock) }
        let gate = open(layout.lock + ".gate", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if gate < 0 { close(fd); throw CairnError.posix("cannot open lock file", path: layout.lock + ".gate") }
        defer { close(gate) }
        let deadline = Date().addingTimeInterval(wait)
        func take(_ f: Int32, _ op: Int32) throws {
            while flock(f, op | LOCK_NB) != 0 {
                if errno != EWOULDBLOCK && errno != EINTR { close(fd); throw CairnError.posix("cannot lock", path: layout.lock) }
                if Date() >= deadline {
                    close(fd)
                    throw lockedError(layout, queued: f == gate)
                }
                usleep(20_000)
            }
        }
        try take(gate, LOCK_EX)
        try take(fd, mode == .shared ? LOCK_SH : LOCK_EX)
        flock(gate, LOCK_UN)
        try? FS.mkdirs(layout.locks)
        let info = "\(layout.locks)/\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json"
        let text = "{\"pid\":\(getpid()),\"host\":\"\(FS.hostname())\",\"mode\":\"\(mode.rawValue)\",\"command\":\"\(command)\",\"time\":\(Int(Date().timeIntervalSince1970))}\n"
        try? FS.atomicWrite(info, Array(text.utf8))
        return RepositoryLock(fd: fd, infoPath: info, mode: mode)
    }

    /// The error for a lock not obtained in time: names the live holders, and stale info files apart.
    static func lockedError(_ layout: RepositoryLayout, queued: Bool = false) -> CairnError {
        let all = holders(layout)
        let live = all.filter { !$0.stale }.map { "pid \($0.pid)\($0.host == FS.hostname() ? "" : " on \($0.host)") (\($0.command), \($0.mode))" }
        let stale = all.filter(\.stale).map { "pid \($0.pid) (\($0.command))" }
        var msg = "repository \(layout.root) is locked by \(live.isEmpty ? "another process" : live.joined(separator: ", "))\(queued ? ", and a process waits for the exclusive lock (prune or index rebuild) ahead of this one" : ""); wait for it to finish or pass --wait SECONDS"
        if !stale.isEmpty { msg += " (stale lock info of dead \(stale.joined(separator: ", ")): `cairn unlock` removes it)" }
        return CairnError(.locked, msg, path: layout.lock)
    }

    public func release() {
        if !infoPath.isEmpty { unlink(infoPath) }
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// A process named in REPO/locks/.
    public struct Holder: Sendable {
        public var pid: Int32
        public var host: String
        public var mode: String
        public var command: String
        public var file: String
        /// True when the process is gone on this host (its info file is left over).
        public var stale: Bool
    }

    /// The holders named in REPO/locks/, each marked stale when its process is dead on this host.
    public static func holders(_ layout: RepositoryLayout) -> [Holder] {
        guard let names = try? FS.list(layout.locks) else { return [] }
        var out: [Holder] = []
        for n in names where n.hasSuffix(".json") {
            let p = layout.locks + "/" + n
            guard ((try? FS.lstat(p))?.size ?? 0) <= 65536, let bytes = try? FS.readAll(p),
                  let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                  let pidValue = obj["pid"] as? Int, let pid = Int32(exactly: pidValue), pid > 0 else { continue }
            let host = obj["host"] as? String ?? ""
            let alive = kill(pid, 0) == 0 || errno == EPERM
            out.append(Holder(pid: pid, host: host, mode: obj["mode"] as? String ?? "?", command: obj["command"] as? String ?? "?",
                              file: p, stale: host == FS.hostname() && !alive))
        }
        return out
    }

    /// What `cairn unlock` did.
    public struct UnlockResult: Sendable {
        /// Stale holders whose info files were removed.
        public var removed: [Holder]
        /// Holders still alive (or on another host), left alone.
        public var live: [Holder]
        /// Half-written info files (a process killed while writing one) that were removed.
        public var partialFiles = 0
    }

    /// Removes the info files of dead holders. A holder counts as dead when its process is
    /// gone on this host, or when no process holds the lock at all (checked by taking the
    /// exclusive flock without waiting, so a reused pid cannot make a dead holder look alive).
    /// Live holders are left alone and returned.
    public static func removeStale(_ layout: RepositoryLayout) throws -> UnlockResult {
        var result = UnlockResult(removed: [], live: [])
        let fd = open(layout.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw CairnError.posix("cannot open lock file", path: layout.lock) }
        defer { close(fd) }
        let nobodyHolds = flock(fd, LOCK_EX | LOCK_NB) == 0
        defer { if nobodyHolds { flock(fd, LOCK_UN) } }
        for h in holders(layout) {
            if nobodyHolds || h.stale {
                if unlink(h.file) != 0 && errno != ENOENT { throw CairnError.posix("cannot remove stale lock info", path: h.file) }
                var d = h
                d.stale = true
                result.removed.append(d)
            } else {
                result.live.append(h)
            }
        }
        // Temporary files of an info write a kill interrupted: `PID-N.json.tmp-PID-M`.
        for n in (try? FS.list(layout.locks)) ?? [] where n.contains(".json.tmp-") {
            guard let pid = Int32(n.prefix { $0 != "-" }), pid > 0 else { continue }
            let alive = kill(pid, 0) == 0 || errno == EPERM
            if nobodyHolds || !alive {
                unlink(layout.locks + "/" + n)
                result.partialFiles += 1
            }
        }
        return result
    }
}
