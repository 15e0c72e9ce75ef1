// The content of a lock object (pure: encoding, bounded decoding, staleness). The protocol that
// writes and lists these objects is in Lock.swift.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Who holds (or waits for) a repository lock, and since when. Stored as the bounded JSON content
/// of a write-once lock object (Docs/Format.md, "Lock objects").
public struct LockRecord: Codable, Sendable, Equatable {
    /// What the holder has: a shared or exclusive lock, or an exclusive one it waits for (which keeps
    /// new shared takers out so a stream of snapshots cannot starve prune).
    public enum Mode: String, Codable, Sendable {
        case shared, exclusive
        case waiting = "exclusive-waiting"
    }

    /// Content version (1).
    public var version: Int
    public var mode: Mode
    /// Host name (`CAIRN_HOSTNAME` when set) and kernel boot id of the holder's machine.
    public var host: String
    public var bootId: String
    public var pid: Int32
    /// The holder's start time, field 22 of /proc/PID/stat (clock ticks since boot): a reused pid has another.
    public var start: UInt64
    public var command: String
    /// Seconds since 1970 (UTC) when the lock was first taken, and when this object was written.
    public var created: Double
    public var refreshed: Double

    /// The largest lock object read; anything longer is damaged or hostile.
    public static let maxBytes = 4096

    /// A record for this process.
    public static func mine(_ mode: Mode, command: String, now: Double) -> LockRecord {
        let me = ProcessIdentity.current
        return LockRecord(version: 1, mode: mode, host: me.host, bootId: me.bootId, pid: me.pid, start: me.start,
                          command: String(decoding: Array(command.utf8.prefix(256)), as: UTF8.self), created: now, refreshed: now)
    }

    /// Canonical JSON (sorted keys, one line).
    public func encoded() -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? enc.encode(self)) ?? Data()) + [0x0A]
    }

    /// Parses a lock object; nil when it is too long, not this JSON, or out of range.
    public static func decode(_ bytes: [UInt8]) -> LockRecord? {
        guard bytes.count <= maxBytes, let r = try? JSONDecoder().decode(LockRecord.self, from: Data(bytes)) else { return nil }
        guard r.version == 1, r.pid > 0, r.created.isFinite, r.refreshed.isFinite,
              r.host.utf8.count <= 255, r.bootId.utf8.count <= 64, r.command.utf8.count <= 256 else { return nil }
        return r
    }

    /// True when this record and one of `mode` cannot both be held.
    public func conflicts(with mode: Mode) -> Bool {
        switch (self.mode, mode) {
        case (.waiting, .shared): return true       // a waiting exclusive taker keeps new shared takers out
        case (.waiting, _), (_, .waiting): return false
        case (.exclusive, _), (_, .exclusive): return true
        case (.shared, .shared): return false
        }
    }

    /// Why the holder is known to be gone, or nil when it may still hold the lock: its process is
    /// gone on this machine (same host and boot, no process with that pid and start time), or the
    /// record was not refreshed for `staleAfter` seconds (any host; clocks must agree within that).
    public func staleReason(now: Double, staleAfter: Double, alive: (Int32, UInt64) -> Bool = ProcessIdentity.isAlive) -> String? {
        let me = ProcessIdentity.current
        if host == me.host && bootId == me.bootId && !bootId.isEmpty && !alive(pid, start) { return "its process is gone" }
        if now - refreshed > staleAfter { return "not refreshed for \(Self.duration(now - refreshed))" }
        return nil
    }

    /// `3h 2m`, `5m 10s`, `12s`.
    public static func duration(_ seconds: Double) -> String {
        let s = seconds.isFinite ? Int(max(0, min(seconds, 1e12))) : 0
        if s >= 86_400 { return "\(s / 86_400)d \((s % 86_400) / 3600)h" }
        if s >= 3600 { return "\(s / 3600)h \((s % 3600) / 60)m" }
        if s >= 60 { return "\(s / 60)m \(s % 60)s" }
        return "\(s)s"
    }
}

/// This machine and process, as lock records name them.
public struct ProcessIdentity: Sendable {
    public var host: String
    public var bootId: String
    public var pid: Int32
    public var start: UInt64

    /// Read once per process: the host name (`CAIRN_HOSTNAME` overrides it), the kernel's boot id,
    /// the pid and its start time.
    public static let current = ProcessIdentity(
        host: String(decoding: Array(FS.hostname().utf8.prefix(255)), as: UTF8.self),
        bootId: bootId(),
        pid: getpid(),
        start: Leftovers.ownStart)

    static func bootId() -> String {
        guard let b = try? FS.readAll("/proc/sys/kernel/random/boot_id"), b.count <= 64 else { return "" }
        return String(decoding: b.filter { $0 != 0x0A }, as: UTF8.self)
    }

    /// True when a process with `pid` runs and started at `start` (or its start time cannot be read).
    public static func isAlive(_ pid: Int32, _ start: UInt64) -> Bool {
        if let now = Leftovers.startTime(pid) { return now == start }
        return !(kill(pid, 0) != 0 && errno == ESRCH)
    }
}
