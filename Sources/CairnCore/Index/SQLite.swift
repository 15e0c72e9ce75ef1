// A minimal wrapper over the SQLite C API: connections, prepared statements, transactions.

import CSQLite

let SQLITE_TRANSIENT_PTR = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe; use one per thread or serialize access.
public final class SQLiteDB {
    let handle: OpaquePointer
    public let path: String

    /// Opens (creating when `create`) the database at `path` with a busy timeout.
    public init(path: String, create: Bool = false, readOnly: Bool = false, uri: Bool = false, busyTimeoutMs: Int32 = 60_000) throws {
        var h: OpaquePointer?
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        if uri { flags |= SQLITE_OPEN_URI }
        let rc = sqlite3_open_v2(path, &h, flags, nil)
        guard rc == SQLITE_OK, let h else {
            let msg = h.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let h { sqlite3_close_v2(h) }
            throw CairnError(.io, "cannot open SQLite database \(path): \(msg)", path: path)
        }
        handle = h
        self.path = path
        sqlite3_busy_timeout(h, busyTimeoutMs)
        sqlite3_extended_result_codes(h, 1)
    }

    /// A `file:` URI that opens `path` as immutable (no locks, no -shm: read-only media).
    static func immutableURI(_ path: String) -> String {
        var out = "file:"
        for b in path.utf8 {
            let c = Character(Unicode.Scalar(b))
            if b == 0x25 || b == 0x3F || b == 0x23 || b >= 0x80 || b < 0x20 { out += "%" + String(b, radix: 16, uppercase: true).leftPad2 } else { out.append(c) }
        }
        return out + "?immutable=1"
    }

    deinit {
        endRead()
        sqlite3_close_v2(handle)
    }

    private var readOpen = false

    /// Opens a deferred read transaction shared by the reads that follow (one lock instead
    /// of one per statement: the block lookups of a snapshot, restore or export). Ended by
    /// `endRead()`, and automatically before any write transaction on this connection.
    /// Rows other processes commit meanwhile are not visible until it ends.
    public func beginRead() {
        guard !readOpen, sqlite3_get_autocommit(handle) != 0 else { return }
        if (try? exec("BEGIN DEFERRED")) != nil { readOpen = true }
    }

    /// Ends the read transaction opened by `beginRead()` (no-op otherwise).
    public func endRead() {
        guard readOpen else { return }
        readOpen = false
        _ = try? exec("COMMIT")
    }

    func error(_ rc: Int32, _ what: String) -> CairnError {
        let msg = String(cString: sqlite3_errmsg(handle))
        let primary = rc & 0xff
        if primary == SQLITE_FULL { return CairnError(.noSpace, "the index \(path) cannot grow: \(msg); free some space and run the command again", path: path) }
        if primary == SQLITE_BUSY || primary == SQLITE_LOCKED { return CairnError(.busy, "the index \(path) is busy (\(what)): \(msg); another cairn process holds it, try again", path: path) }
        if primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB { return CairnError(.integrity, "the index \(path) is damaged (\(msg)); run `cairn check --rebuild-index`", path: path) }
        return CairnError(.io, "SQLite error in \(what) on \(path): \(msg)", path: path)
    }

    /// Runs one or more statements without results.
    public func exec(_ sql: String) throws {
        if readOpen && (sql.hasPrefix("BEGIN") || sql.hasPrefix("PRAGMA")) { endRead() }
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if let err { sqlite3_free(err) }
        if rc != SQLITE_OK { throw error(rc, sql.prefix(60).description) }
    }

    public func prepare(_ sql: String) throws -> Statement {
        var st: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &st, nil)
        guard rc == SQLITE_OK, let st else { throw error(rc, "prepare \(sql.prefix(60))") }
        return Statement(db: self, stmt: st)
    }

    /// Runs `body` in one IMMEDIATE transaction; rolls back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try exec("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try exec("COMMIT")
            return r
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A prepared statement. Bind with 1-based indexes, step, read columns with 0-based indexes.
public final class Statement {
    let db: SQLiteDB
    let stmt: OpaquePointer

    init(db: SQLiteDB, stmt: OpaquePointer) {
        self.db = db
        self.stmt = stmt
    }

    deinit { sqlite3_finalize(stmt) }

    @discardableResult
    public func reset() -> Statement {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        return self
    }

    public func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(stmt, i, v) }
    public func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(stmt, i, Int64(v)) }
    public func bind(_ i: Int32, _ v: String?) {
        if let v { sqlite3_bind_text(stmt, i, v, -1, SQLITE_TRANSIENT_PTR) } else { sqlite3_bind_null(stmt, i) }
    }
    public func bind(_ i: Int32, _ id: BlockId) {
        var words = (id.w0, id.w1, id.w2, id.w3)
        withUnsafeBytes(of: &words) { _ = sqlite3_bind_blob(stmt, i, $0.baseAddress, 32, SQLITE_TRANSIENT_PTR) }
    }

    /// Advances; returns true when a row is available.
    public func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw db.error(rc, "step")
    }

    /// Runs a statement that returns no rows.
    public func run() throws {
        _ = try step()
        sqlite3_reset(stmt)
    }

    public func int(_ col: Int32) -> Int64 { sqlite3_column_int64(stmt, col) }
    public func isNull(_ col: Int32) -> Bool { sqlite3_column_type(stmt, col) == SQLITE_NULL }
    public func string(_ col: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, col) else { return nil }
        return String(cString: p)
    }
    public func blockId(_ col: Int32) -> BlockId? {
        guard sqlite3_column_bytes(stmt, col) == 32, let p = sqlite3_column_blob(stmt, col) else { return nil }
        return BlockId(bytes: UnsafeRawBufferPointer(start: p, count: 32))
    }
}

extension String {
    fileprivate var leftPad2: String { utf8.count < 2 ? "0" + self : self }
}
