// Live SQLite databases: recognised by their 16-byte header and captured through
// SQLite's online backup API, which copies every page under one read transaction.
// The copy is therefore a committed state, never a torn mix, whether the writer uses
// WAL or a rollback journal. The copy goes to a temporary file in the repository,
// is chunked like any file, and is removed. Database paths are bytes (`FileName`): SQLite's
// unix VFS hands the name to open(2) unchanged, so a path that is not valid UTF-8 is captured
// live like any other.

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

    /// Change-detection fingerprint of the database's WAL sibling (0 when there is none).
    public static func fingerprint(_ path: FileName) -> UInt64 {
        guard let st = try? FS.lstatIfExists(FileName(bytes: path.bytes + Array("-wal".utf8))), st.kind == .file else { return 0 }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in [st.size, UInt64(bitPattern: st.mtimeNs), st.inode] {
            h = (h ^ v) &* 0x100_0000_01b3
        }
        return h == 0 ? 1 : h
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
