// Parent selection: which earlier snapshot a new snapshot of a silo compares against. The
// parent's tree feeds the unchanged-file fast path (size, mtime, ctime and inode equal means
// "not read again"), so it must be a snapshot this host took of this silo's current source:
// never an imported one (its inodes and times describe another machine, or are forged), never
// one of another host sharing the repository, and never one taken when the silo pointed at a
// different path or command. Among those, the newest in SnapshotOrder wins.

/// Chooses the parent snapshot for a silo.
public enum ParentSelection {
    /// The newest snapshot in `snaps` that `host` took of `silo` with the silo's current source
    /// (path or command), not imported; nil when there is none (every file is read).
    public static func parent(for silo: Silo, in snaps: [Snapshot], host: String = FS.hostname(), now: Int64 = SnapshotOrder.nowNs()) -> SiloSnapshot? {
        let source = silo.path ?? silo.command ?? ""
        for s in SnapshotOrder.sorted(snaps, now: now).reversed() where s.record.imported == nil && s.record.hostname == host {
            if let part = s.record.silo(silo.name), part.source == source { return part }
        }
        return nil
    }
}
