// The one rule that says a live file is unchanged since a snapshot entry without reading it.
// Snapshot (whether to read a file again), estimate (what counts as changed) and restore's
// comparison (whether to hash a live file against the entry's blocks) all ask this
// predicate, so they cannot disagree. The rule is written down in Docs/Architecture.md
// ("Unchanged files"). Pure function of the entry and the live stat.

/// "Is this file unchanged" (Docs/Architecture.md, "Unchanged files").
public enum Unchanged {
    /// True when the live regular file with stat `st` holds what `entry` recorded, judged from
    /// metadata only: the entry is a regular file that was not changing while it was read, and
    /// size, mtime (ns), ctime (ns) and inode are equal; for an entry captured as a live SQLite
    /// database, the fingerprint of its `-wal` sibling (`walFingerprint`, evaluated only then)
    /// is also equal.
    public static func file(_ entry: TreeEntry, _ st: FileStat, walFingerprint: () -> UInt64) -> Bool {
        guard st.kind == .file, entry.kind == .file, entry.flags & TreeEntry.flagChangedWhileReading == 0,
              entry.size == st.size, entry.mtime == st.mtime, entry.ctime == st.ctime, entry.inode == st.inode else { return false }
        if entry.flags & TreeEntry.flagSQLite != 0 { return entry.fingerprint == walFingerprint() }
        return true
    }

    /// `file` for a live file at the byte path `path` (the fingerprint is read from `path-wal`).
    public static func file(_ entry: TreeEntry, _ st: FileStat, path: @autoclosure () -> FileName) -> Bool {
        file(entry, st) { SQLiteCapture.fingerprint(path()) }
    }
}
