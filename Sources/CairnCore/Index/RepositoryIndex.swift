// Index: the SQLite database (WAL) that maps block ids to pack locations and lists snapshots.
//
// Owns: `index.sqlite`. It is a cache of what the repository's files say: every row
// can be recreated from pack trailers and snapshot files (`rebuild`). Rows for a pack
// are inserted in one transaction only after the pack is durable; a snapshot row is
// inserted only after its record file is durable. So a crash never leaves a row
// that points at missing data.

import CSQLite

/// Where one block lives, as recorded in the index.
public struct BlockLocation: Sendable, Equatable {
    public var pack: String
    public var entry: PackEntry
}

/// The repository's SQLite index.
public final class RepositoryIndex {
    public static let schemaVersion = 1
    let db: SQLiteDB
    private var lookupStmt: Statement?
    private var existsStmt: Statement?
    private var missingStmt: Statement?
    private var packNames: [Int64: String] = [:]

    /// True when the index was opened read-only (a repository the user cannot write).
    public let readOnly: Bool
    /// True while the `missing` table holds at least one id (lets the common case skip queries).
    public private(set) var hasMissing = false

    /// Opens or creates the index at `path`. With `readOnly` nothing is written: a database in
    /// WAL mode whose `-shm` cannot be created is opened as immutable (read-only media).
    public init(path: String, readOnly: Bool = false) throws {
        self.readOnly = readOnly
        if readOnly {
            var opened = try SQLiteDB(path: path, readOnly: true)
            if (try? opened.exec("SELECT count(*) FROM sqlite_master")) == nil {
                opened = try SQLiteDB(path: SQLiteDB.immutableURI(path), readOnly: true, uri: true)
                try opened.exec("SELECT count(*) FROM sqlite_master")
            }
            db = opened
            let st = try db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'missing'")
            if try st.step() { hasMissing = try Self.anyRow(db, "SELECT 1 FROM missing LIMIT 1") }
            return
        }
        db = try SQLiteDB(path: path, create: true)
        try db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16000; PRAGMA foreign_keys=OFF;")
        try db.exec("""
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS packs(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, size INTEGER NOT NULL, blocks INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS blocks(id BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL, stored INTEGER NOT NULL, raw INTEGER NOT NULL, kind INTEGER NOT NULL, codec INTEGER NOT NULL, crc INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS snapshots(id TEXT PRIMARY KEY, time INTEGER NOT NULL, record TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS missing(id BLOB PRIMARY KEY) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS snapshots_time ON snapshots(time);
        INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '\(RepositoryIndex.schemaVersion)');
        """)
        hasMissing = try Self.anyRow(db, "SELECT 1 FROM missing LIMIT 1")
    }

    private static func anyRow(_ db: SQLiteDB, _ sql: String) throws -> Bool { try db.prepare(sql).step() }

    // MARK: Missing blocks (self-healing)

    /// Records that the blocks `ids` are lost (their pack is gone, or their bytes are damaged):
    /// their rows leave `blocks`, so dedup no longer counts them as stored and the next
    /// snapshot of live data that holds them stores them again.
    public func markMissing(_ ids: [BlockId]) throws {
        guard !ids.isEmpty, !readOnly else { return }
        try db.transaction {
            let del = try db.prepare("DELETE FROM blocks WHERE id = ?")
            let ins = try db.prepare("INSERT OR IGNORE INTO missing(id) VALUES(?)")
            for id in ids {
                del.reset(); del.bind(1, id); try del.run()
                ins.reset(); ins.bind(1, id); try ins.run()
            }
        }
        hasMissing = true
    }

    /// Records that pack `name` is lost: every block it held becomes missing, the pack row goes.
    /// Returns the number of blocks marked missing.
    @discardableResult
    public func markPackLost(_ name: String) throws -> Int {
        guard !readOnly else { return 0 }
        let n: Int = try db.transaction {
            let q = try db.prepare("SELECT id FROM packs WHERE name = ?")
            q.bind(1, name)
            guard try q.step() else { return 0 }
            let pid = q.int(0)
            let ins = try db.prepare("INSERT OR IGNORE INTO missing(id) SELECT id FROM blocks WHERE pack = ?")
            ins.bind(1, pid); try ins.run()
            let marked = db.changes
            let del = try db.prepare("DELETE FROM blocks WHERE pack = ?")
            del.bind(1, pid); try del.run()
            let dp = try db.prepare("DELETE FROM packs WHERE id = ?")
            dp.bind(1, pid); try dp.run()
            return marked
        }
        hasMissing = hasMissing || n > 0
        return n
    }

    /// True when the index knows block `id` to be lost.
    public func isMissing(_ id: BlockId) throws -> Bool {
        guard hasMissing else { return false }
        let st = try missingStmt ?? db.prepare("SELECT 1 FROM missing WHERE id = ?")
        missingStmt = st
        st.reset()
        st.bind(1, id)
        defer { st.reset() }
        return try st.step()
    }

    /// True when any of `ids` is known to be lost (one query each, none when nothing is lost).
    public func anyMissing<S: Sequence>(_ ids: S) throws -> Bool where S.Element == BlockId {
        guard hasMissing else { return false }
        for id in ids where try isMissing(id) { return true }
        return false
    }

    /// Every block id recorded as lost.
    public func missingIds() throws -> [BlockId] {
        guard hasMissing else { return [] }
        let st = try db.prepare("SELECT id FROM missing ORDER BY id")
        var out: [BlockId] = []
        while try st.step() { if let id = st.blockId(0) { out.append(id) } }
        return out
    }

    // MARK: Blocks

    /// The location of block `id`, or nil when the index does not have it.
    public func lookup(_ id: BlockId) throws -> BlockLocation? {
        let st = try lookupStmt ?? db.prepare("SELECT b.pack, b.offset, b.stored, b.raw, b.kind, b.codec, b.crc, p.name FROM blocks b JOIN packs p ON p.id = b.pack WHERE b.id = ?")
        lookupStmt = st
        st.reset()
        st.bind(1, id)
        defer { st.reset() }
        guard try st.step() else { return nil }
        let entry = try blockRow(st, id: id, first: 1)
        return BlockLocation(pack: try packName(st, 7), entry: entry)
    }

    /// Batches the following lookups in one read transaction (see `SQLiteDB.beginRead`).
    public func beginReadBatch() { db.beginRead() }
    /// Ends a batch opened by `beginReadBatch()`.
    public func endReadBatch() { db.endRead() }

    /// True when the index has block `id`.
    public func contains(_ id: BlockId) throws -> Bool {
        let st = try existsStmt ?? db.prepare("SELECT 1 FROM blocks WHERE id = ?")
        existsStmt = st
        st.reset()
        st.bind(1, id)
        defer { st.reset() }
        return try st.step()
    }

    /// Records a durable pack and its blocks in one transaction. Blocks already indexed keep their first location.
    /// Returns the number of blocks that were new to the index.
    @discardableResult
    public func addPack(name: String, size: UInt64, entries: [PackEntry]) throws -> Int {
        try db.transaction {
            let ins = try db.prepare("INSERT OR IGNORE INTO packs(name, size, blocks) VALUES(?, ?, ?)")
            ins.bind(1, name); ins.bind(2, Int64(size)); ins.bind(3, entries.count)
            try ins.run()
            let q = try db.prepare("SELECT id FROM packs WHERE name = ?")
            q.bind(1, name)
            guard try q.step() else { throw CairnError(.internalError, "pack \(name) vanished from the index") }
            let pid = q.int(0)
            let st = try db.prepare("INSERT OR IGNORE INTO blocks(id, pack, offset, stored, raw, kind, codec, crc) VALUES(?,?,?,?,?,?,?,?)")
            var added = 0
            for e in entries {
                st.reset()
                st.bind(1, e.id); st.bind(2, pid); st.bind(3, Int64(e.offset)); st.bind(4, Int64(e.storedLength))
                st.bind(5, Int64(e.rawLength)); st.bind(6, Int64(e.kind.rawValue)); st.bind(7, Int64(e.codec.rawValue)); st.bind(8, Int64(e.crc32))
                try st.run()
                added += db.changes
            }
            if hasMissing {
                // Blocks stored again are no longer missing.
                let un = try db.prepare("DELETE FROM missing WHERE id = ?")
                for e in entries { un.reset(); un.bind(1, e.id); try un.run() }
            }
            return added
        }
    }

    /// Forgets pack `name` and its block rows (its index object is gone: another machine pruned it).
    public func removePack(_ name: String) throws {
        try db.transaction {
            guard let pid = try packId(name) else { return }
            let del = try db.prepare("DELETE FROM blocks WHERE pack = ?")
            del.bind(1, pid); try del.run()
            let dp = try db.prepare("DELETE FROM packs WHERE id = ?")
            dp.bind(1, pid); try dp.run()
        }
    }

    /// The row id of pack `name`, or nil when the index does not know it.
    func packId(_ name: String) throws -> Int64? {
        let q = try db.prepare("SELECT id FROM packs WHERE name = ?")
        q.bind(1, name)
        return try q.step() ? q.int(0) : nil
    }

    /// Packs holding fewer block rows than their entries (blocks first indexed in another pack);
    /// after a pack was removed, their index objects are read again to fill the gaps.
    public func packsShortOfRows() throws -> [String] {
        let st = try db.prepare("SELECT p.name FROM packs p LEFT JOIN blocks b ON b.pack = p.id GROUP BY p.id HAVING COUNT(b.id) < p.blocks")
        var out: [String] = []
        while try st.step() { out.append(try packName(st, 0)) }
        return out
    }

    /// Adds rows for the entries of known pack `name` that no row locates, except blocks
    /// recorded as lost (their bytes are damaged: `check` removed their rows on purpose).
    public func refillPack(_ name: String, entries: [PackEntry]) throws {
        try db.transaction {
            guard let pid = try packId(name) else { return }
            let st = try db.prepare("INSERT OR IGNORE INTO blocks(id, pack, offset, stored, raw, kind, codec, crc) SELECT ?,?,?,?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM missing WHERE id = ?)")
            for e in entries {
                st.reset()
                st.bind(1, e.id); st.bind(2, pid); st.bind(3, Int64(e.offset)); st.bind(4, Int64(e.storedLength))
                st.bind(5, Int64(e.rawLength)); st.bind(6, Int64(e.kind.rawValue)); st.bind(7, Int64(e.codec.rawValue)); st.bind(8, Int64(e.crc32))
                st.bind(9, e.id)
                try st.run()
            }
        }
    }

    /// Names of all packs the index knows.
    public func packList() throws -> [(name: String, size: UInt64, blocks: Int)] {
        let st = try db.prepare("SELECT name, size, blocks FROM packs ORDER BY name")
        var out: [(String, UInt64, Int)] = []
        while try st.step() {
            let name = try packName(st, 0)
            // Bounded so that sums over all packs cannot overflow.
            guard let size = UInt64(exactly: st.int(1)), size <= PackFormat.maxPackOffset,
                  let blocks = Int(exactly: st.int(2)), blocks >= 0, blocks <= Int(UInt32.max) else {
                throw badRow("pack \(name) has size \(st.int(1)) and block count \(st.int(2))")
            }
            out.append((name, size, blocks))
        }
        return out
    }

    /// A pack name read from the index: exactly 32 lowercase hex digits (it becomes a path, so
    /// `../x` or `/etc/passwd` must never get through).
    func packName(_ st: Statement, _ col: Int32) throws -> String {
        let name = st.string(col) ?? ""
        guard PackFormat.isValidName(name) else { throw badRow("pack name '\(name.prefix(80))' is not 32 hex digits") }
        return name
    }

    /// An integrity error about a row of the index that holds values out of range.
    func badRow(_ what: String) -> CairnError {
        CairnError(.integrity, "the index \(db.path) is damaged: \(what), out of range; run `cairn check --rebuild-index`", path: db.path)
    }

    /// Decodes the block columns `offset, stored, raw, kind, codec, crc` starting at column
    /// `first` of the current row, refusing any value out of range (never trapping on it).
    func blockRow(_ st: Statement, id: BlockId, first c: Int32) throws -> PackEntry {
        guard let offset = UInt64(exactly: st.int(c)), let stored = UInt32(exactly: st.int(c + 1)), let raw = UInt32(exactly: st.int(c + 2)),
              let kindRaw = UInt8(exactly: st.int(c + 3)), let kind = BlockKind(rawValue: kindRaw),
              let codecRaw = UInt8(exactly: st.int(c + 4)), let codec = BlockCodec(rawValue: codecRaw),
              let crc = UInt32(exactly: st.int(c + 5)) else {
            throw badRow("block \(id.hex) has offset \(st.int(c)), lengths \(st.int(c + 1))/\(st.int(c + 2)), kind \(st.int(c + 3)), codec \(st.int(c + 4)), crc \(st.int(c + 5))")
        }
        let e = PackEntry(id: id, kind: kind, codec: codec, offset: offset, storedLength: stored, rawLength: raw, crc32: crc)
        if let why = e.problem { throw badRow("block \(id.hex): \(why)") }
        return e
    }

    /// Calls `body` for every indexed block in id order, streaming (bounded memory).
    public func forEachBlock(_ body: (BlockLocation) throws -> Void) throws {
        let st = try db.prepare("SELECT b.id, b.pack, b.offset, b.stored, b.raw, b.kind, b.codec, b.crc, p.name FROM blocks b JOIN packs p ON p.id = b.pack ORDER BY b.pack, b.offset")
        while try st.step() {
            guard let id = st.blockId(0) else { continue }
            let e = try blockRow(st, id: id, first: 2)
            try body(BlockLocation(pack: try packName(st, 8), entry: e))
        }
    }

    /// Totals over all indexed blocks: count, raw bytes, stored bytes, by kind.
    public func blockTotals() throws -> [BlockKind: (count: Int, raw: UInt64, stored: UInt64)] {
        let st = try db.prepare("SELECT kind, COUNT(*), SUM(raw), SUM(stored) FROM blocks GROUP BY kind")
        var out: [BlockKind: (Int, UInt64, UInt64)] = [:]
        while try st.step() {
            guard let k = UInt8(exactly: st.int(0)).flatMap(BlockKind.init(rawValue:)), let n = Int(exactly: st.int(1)),
                  let raw = UInt64(exactly: st.int(2)), let stored = UInt64(exactly: st.int(3)) else {
                throw badRow("block totals (kind \(st.int(0)), raw \(st.int(2)), stored \(st.int(3)))")
            }
            out[k] = (n, raw, stored)
        }
        return out
    }

    // MARK: Snapshots

    /// Inserts a snapshot row (the record file must already be durable).
    public func addSnapshot(id: String, timeNs: Int64, recordJSON: String) throws {
        try db.transaction {
            let st = try db.prepare("INSERT OR IGNORE INTO snapshots(id, time, record) VALUES(?, ?, ?)")
            st.bind(1, id); st.bind(2, timeNs); st.bind(3, recordJSON)
            try st.run()
        }
    }

    public func removeSnapshot(id: String) throws {
        try db.transaction {
            let st = try db.prepare("DELETE FROM snapshots WHERE id = ?")
            st.bind(1, id)
            try st.run()
        }
    }

    /// All snapshot records, oldest first.
    public func snapshotRecords() throws -> [(id: String, json: String)] {
        let st = try db.prepare("SELECT id, record FROM snapshots ORDER BY time, id")
        var out: [(String, String)] = []
        while try st.step() { out.append((st.string(0) ?? "", st.string(1) ?? "")) }
        return out
    }

    public func snapshotIds() throws -> Set<String> {
        let st = try db.prepare("SELECT id FROM snapshots")
        var out = Set<String>()
        while try st.step() { out.insert(st.string(0) ?? "") }
        return out
    }

    // MARK: Meta

    public func meta(_ key: String) throws -> String? {
        let st = try db.prepare("SELECT value FROM meta WHERE key = ?")
        st.bind(1, key)
        return try st.step() ? st.string(0) : nil
    }

    public func setMeta(_ key: String, _ value: String) throws {
        db.endRead()
        let st = try db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)")
        st.bind(1, key); st.bind(2, value)
        try st.run()
    }
}
