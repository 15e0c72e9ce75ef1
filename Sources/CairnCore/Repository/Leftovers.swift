// Leftovers: temporary files a killed process left in the repository (SQLite capture
// copies, stdin import spools, export manifest spools, packs being written, atomic-write
// temporaries). Each is named after its owner, `PREFIX-cairnHOST-PID-STARTTIME-RANDOM`
// (HOST: CRC-32 of the host name, 8 hex digits, so another host's files are never judged), where
// STARTTIME is field 22 of /proc/PID/stat (clock ticks since boot): a pid reused by a
// later process has another start time, so "the owner is gone" is proven, not guessed.
// Any command that opens the repository for writing removes the files whose owner is
// gone; a file whose owner is alive (or cannot be told) is left alone.

#if canImport(Glibc)
import Glibc
#endif

/// Owner-named temporary files and their removal once the owner is gone.
public enum Leftovers {
    /// The start time of process `pid` (clock ticks since boot), or nil when it does not exist.
    static func startTime(_ pid: Int32) -> UInt64? {
        guard pid > 0, let bytes = try? FS.readAll("/proc/\(pid)/stat") else { return nil }
        // comm (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
        guard let close = bytes.lastIndex(of: 0x29) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: 0x20)
        // fields[0] is field 3 (state); field 22 is starttime.
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// This process's own start time (read once).
    public static let ownStart: UInt64 = startTime(getpid()) ?? 0

    /// The host tag of this machine in temporary names.
    public static let hostTag = "cairn" + Hex.encode(withUnsafeBytes(of: CRC32.checksum(Array(FS.hostname().utf8)).bigEndian) { Array($0) })

    /// A file name that names this process as its owner.
    public static func ownedName(_ prefix: String) -> String {
        "\(prefix)-\(hostTag)-\(getpid())-\(ownStart)-\(UInt64.random(in: 0...UInt64.max))"
    }

    /// The owner (pid, start time) a temporary name of this host records, when it has that form.
    /// Suffixes after the random part (`-journal`, `.pack.tmp`) are allowed.
    public static func owner(_ name: String) -> (pid: Int32, start: UInt64)? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard let h = parts.firstIndex(where: { $0 == hostTag }), h + 3 < parts.count,
              let pid = Int32(parts[h + 1]), pid > 0, let start = UInt64(parts[h + 2]),
              UInt64(parts[h + 3].prefix { $0 != "." }) != nil else { return nil }
        return (pid, start)
    }

    /// True when the owner recorded in `name` is provably gone (no such process, or a
    /// process with that pid that started at another time).
    public static func ownerGone(_ name: String) -> Bool {
        guard let o = owner(name) else { return false }
        guard let now = startTime(o.pid) else { return kill(o.pid, 0) != 0 && errno == ESRCH }
        return now != o.start
    }

    /// Removes every temporary file in the repository whose owner is gone. Returns how many.
    @discardableResult
    static func clean(_ layout: RepositoryLayout) -> Int {
        var removed = 0
        for dir in [layout.tmp, layout.packs + "/tmp"] {
            for n in (try? FS.list(dir)) ?? [] where ownerGone(n) {
                if (try? FS.removeTree(dir + "/" + n)) != nil { removed += 1 }
            }
        }
        // Atomic-write temporaries (`FILE.tmp-PID-N`) of config, silos, policy, journal and records.
        for dir in Set([layout.root, layout.snapshots, layout.state]) {
            for n in (try? FS.list(dir)) ?? [] {
                guard let r = n.range(of: ".tmp-") else { continue }
                let rest = n[r.upperBound...]
                guard let pid = Int32(rest.prefix { $0 != "-" }), pid > 0 else { continue }
                if kill(pid, 0) != 0 && errno == ESRCH, unlink(dir + "/" + n) == 0 { removed += 1 }
            }
        }
        return removed
    }
}
