// Repository locks: a shared/exclusive flock on REPO/lock, plus a small info file per
// holder in REPO/locks/ that names the pid, host and command for messages and
// stale-lock detection. The kernel drops a flock when its process dies, so a crashed
// holder never blocks others; its info file is then stale and removed on sight.

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
        let fd = open(layout.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw CairnError.posix("cannot open lock file", path: layout.lock) }
        let op = mode == .shared ? LOCK_SH : LOCK_EX
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, op | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR { close(fd); throw CairnError.posix("cannot lock", path: layout.lock) }
            if Date() >= deadline {
                close(fd)
                let holders = RepositoryLock.holders(layout).map { "pid \($0.pid) (\($0.command), \($0.mode))" }.joined(separator: ", ")
                throw CairnError(.locked, "repository \(layout.root) is locked by \(holders.isEmpty ? "another process" : holders); wait for it to finish or pass --wait SECONDS", path: layout.lock)
            }
            usleep(50_000)
        }
        try? FS.mkdirs(layout.locks)
        let info = "\(layout.locks)/\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json"
        let text = "{\"pid\":\(getpid()),\"host\":\"\(FS.hostname())\",\"mode\":\"\(mode.rawValue)\",\"command\":\"\(command)\",\"time\":\(Int(Date().timeIntervalSince1970))}\n"
        try? FS.atomicWrite(info, Array(text.utf8))
        return RepositoryLock(fd: fd, infoPath: info, mode: mode)
    }

    public func release() {
        unlink(infoPath)
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
            guard let bytes = try? FS.readAll(p),
                  let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                  let pid = obj["pid"] as? Int else { continue }
            let host = obj["host"] as? String ?? ""
            let alive = kill(Int32(pid), 0) == 0 || errno == EPERM
            out.append(Holder(pid: Int32(pid), host: host, mode: obj["mode"] as? String ?? "?", command: obj["command"] as? String ?? "?",
                              file: p, stale: host == FS.hostname() && !alive))
        }
        return out
    }
}
