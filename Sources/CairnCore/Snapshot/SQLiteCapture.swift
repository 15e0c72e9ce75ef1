// Live SQLite databases: recognised by their 16-byte header and captured as a committed
// state, never a torn mix, whether the writer uses WAL or a rollback journal.
// Quiescent databases (no WAL frames) are read in place, byte for byte, under a read
// transaction (`readQuiescent`, no copy). Others go through SQLite's online backup API,
// which copies every page under one read transaction into a temporary file in the
// repository; that copy is chunked like any file and removed. Database paths are bytes
// (`FileName`): SQLite's unix VFS hands the name to open(2) unchanged, so a path that is not
// valid UTF-8 is captured live like any other.

import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// Detects and captures live SQLite databases.
public enum SQLiteCapture {
    public static let header: [UInt8] = Array("SQLite format 3".utf8) + [0]

    /// Sibling files SQLite keeps next to a database; not stored on their own.
    public static let siblingSuffixes = ["-wal", "-shm", "-journal"]
    /// `siblingSuffixes` as bytes (matched against raw names).
    public static let siblingSuffixBytes: [[UInt8]] = siblingSuffixes.map { Array($0.utf8) }

    /// True when `path` starts with the SQLite header.
    public static func isDatabase(_ path: FileName) -> Bool {
        let fd = path.withCString { Glibc.open($0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { return false }
        let f = PosixFile(fd: fd, path: path.escaped)
        defer { f.close() }
        var buf = [UInt8](repeating: 0, count: 16)
        let n = (try? buf.withUnsafeMutableBytes { try f.readFully(into: $0.baseAddress!, count: 16) }) ?? 0
        return n == 16 && buf == header
    }

    /// True when the open file starts with the SQLite header (pread: its offset stays where it was).
    public static func hasHeader(_ f: PosixFile) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { buf in
            pread(f.fd, buf.baseAddress, 16, 0) == 16 && header.withUnsafeBytes { h in memcmp(h.baseAddress!, buf.baseAddress!, 16) == 0 }
        }
    }

    /// Change-detection fingerprint of the database's WAL sibling (0 when there is none).
    public static func fingerprint(_ path: FileName) -> UInt64 {
        guard let st = try? FS.lstatIfExists(FileName(bytes: path.bytes + Array("-wal".utf8))), st.kind == .file else { return 0 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in [st.size, UInt64(bitPattern: st.mtimeNs), st.inode] {
            h = (h ^ v) &* 0x100_0000_01b3
        }
        return h == 0 ? 1 : h
    }

    /// Streams the database file itself when it is quiescent, so the stored bytes are the
    /// file's, with no temporary copy. The rule: a read transaction is open (SHARED lock: no
    /// rollback-journal writer can change the file until it ends) and the `-wal` sibling is
    /// absent or empty once it is (a reader whose snapshot ends at WAL frame 0 keeps every
    /// checkpoint from writing into the file, and a WAL holding frames a reader uses cannot be
    /// emptied under it), and the file is exactly `page_count x page_size` bytes. `body` reads
    /// the open file while the transaction is held. Returns nil, without calling `body`, when
    /// any condition fails: the caller then takes a `backup` copy.
    public static func readQuiescent<T>(_ path: FileName, _ body: (PosixFile) throws -> T) throws -> T? {
        var db: OpaquePointer?
        defer { sqlite3_close_v2(db) }
        guard path.withCString({ sqlite3_open_v2($0, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) }) == SQLITE_OK else { return nil }
        sqlite3_busy_timeout(db, 30_000)
        guard sqlite3_exec(db, "BEGIN", nil, nil, nil) == SQLITE_OK else { return nil }
        defer { _ = sqlite3_exec(db, "COMMIT", nil, nil, nil) }
        // The first read takes the SHARED lock and fixes the snapshot; the pragmas read it.
        guard integer(db, "SELECT count(*) FROM sqlite_master") != nil,
              let pages = integer(db, "PRAGMA page_count"), let pageSize = integer(db, "PRAGMA page_size") else { return nil }
        if let wal = try FS.lstatIfExists(FileName(bytes: path.bytes + Array("-wal".utf8))), wal.size != 0 { return nil }
        let (size, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        guard !overflow, pages > 0 else { return nil }
        let fd = path.withCString { Glibc.open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 { throw CairnError.posix("cannot open", path: path.escaped) }
        let f = PosixFile(fd: fd, path: path.escaped)
        defer { f.close() }
        guard try f.stat().size == UInt64(size) else { return nil }
        return try body(f)
    }

    /// The first column of the first row of `sql` as a non-negative integer (nil on any error).
    private static func integer(_ db: OpaquePointer?, _ sql: String) -> UInt64? {
        var st: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &st, nil) == SQLITE_OK else { return nil }
        defer { sqlite3_finalize(st) }
        guard sqlite3_step(st) == SQLITE_ROW else { return nil }
        let v = sqlite3_column_int64(st, 0)
        return v >= 0 ? UInt64(v) : nil
    }

    /// Copies a consistent state of the database at `source` into a new file at `destination`.
    public static func backup(source: FileName, destination: String) throws {
        var src: OpaquePointer?
        var dst: OpaquePointer?
        defer {
            sqlite3_close_v2(src)
            sqlite3_close_v2(dst)
        }
        func fail(_ db: OpaquePointer?, _ what: String) -> CairnError {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "unknown error"
            return CairnError(.io, "cannot capture SQLite database \(source.escaped) (\(what): \(msg)); make sure it is readable and not corrupt",
                              path: source.escaped)
        }
        guard source.withCString({ sqlite3_open_v2($0, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) }) == SQLITE_OK else { throw fail(src, "open") }
        sqlite3_busy_timeout(src, 30_000)
        guard sqlite3_open_v2(destination, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else { throw fail(dst, "create copy") }
        guard let b = sqlite3_backup_init(dst, "main", src, "main") else { throw fail(dst, "backup init") }
        var rc: Int32
        var tries = 0
        repeat {
            rc = sqlite3_backup_step(b, -1)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
                tries += 1
                if tries > 3000 { break }
                usleep(10_000)
            }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let frc = sqlite3_backup_finish(b)
        guard rc == SQLITE_DONE, frc == SQLITE_OK else { throw fail(dst, "backup step \(rc)") }
        // The copy is a single self-contained file: no WAL beside it.
        _ = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", nil, nil, nil)
    }
}
