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
    private var packNames: [Int64: String] = [:]

    /// Opens or creates the index at `path`.
    public init(path: String) throws {
        db = try SQLiteDB(path: path, create: true)
        try db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-16000; PRAGMA foreign_keys=OFF;")
        try db.exec("""
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS packs(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, size INTEGER NOT NULL, blocks INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS blocks(id BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL, stored INTEGER NOT NULL, raw INTEGER NOT NULL, kind INTEGER NOT NULL, codec INTEGER NOT NULL, crc INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS snapshots(id TEXT PRIMARY KEY, time INTEGER NOT NULL, record TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS snapshots_time ON snapshots(time);
        INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '\(RepositoryIndex.schemaVersion)');
        """)
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
        let entry = PackEntry(id: id, kind: BlockKind(rawValue: try st.value(4, "block kind")) ?? .data, codec: BlockCodec(rawValue: try st.value(5, "codec")) ?? .none,
                              offset: try st.value(1, "block offset"), storedLength: try st.value(2, "stored length"), rawLength: try st.value(3, "raw length"),
                              crc32: try st.value(6, "CRC-32"))
        return BlockLocation(pack: st.string(7) ?? "", entry: entry)
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
            return added
        }
    }

    /// Names of all packs the index knows.
    public func packList() throws -> [(name: String, size: UInt64, blocks: Int)] {
        let st = try db.prepare("SELECT name, size, blocks FROM packs ORDER BY name")
        var out: [(String, UInt64, Int)] = []
        while try st.step() { out.append((st.string(0) ?? "", try st.value(1, "pack size"), try st.value(2, "block count"))) }
        return out
    }

    /// Calls `body` for every indexed block in id order, streaming (bounded memory).
    public func forEachBlock(_ body: (BlockLocation) throws -> Void) throws {
        let st = try db.prepare("SELECT b.id, b.pack, b.offset, b.stored, b.raw, b.kind, b.codec, b.crc, p.name FROM blocks b JOIN packs p ON p.id = b.pack ORDER BY b.pack, b.offset")
        while try st.step() {
            guard let id = st.blockId(0) else { continue }
            let e = PackEntry(id: id, kind: BlockKind(rawValue: try st.value(5, "block kind")) ?? .data, codec: BlockCodec(rawValue: try st.value(6, "codec")) ?? .none,
                              offset: try st.value(2, "block offset"), storedLength: try st.value(3, "stored length"), rawLength: try st.value(4, "raw length"),
                              crc32: try st.value(7, "CRC-32"))
            try body(BlockLocation(pack: st.string(8) ?? "", entry: e))
        }
    }

    /// Totals over all indexed blocks: count, raw bytes, stored bytes, by kind.
    public func blockTotals() throws -> [BlockKind: (count: Int, raw: UInt64, stored: UInt64)] {
        let st = try db.prepare("SELECT kind, COUNT(*), SUM(raw), SUM(stored) FROM blocks GROUP BY kind")
        var out: [BlockKind: (Int, UInt64, UInt64)] = [:]
        while try st.step() {
            out[BlockKind(rawValue: try st.value(0, "block kind")) ?? .data] = (try st.value(1, "block count"), try st.value(2, "raw total"), try st.value(3, "stored total"))
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

extension Statement {
    /// Column `col` as `T`; a stored value outside `T`'s range is an integrity error naming the
    /// index (rows are untrusted input: a crafted or damaged row must not trap).
    func value<T: FixedWidthInteger>(_ col: Int32, _ what: String) throws -> T {
        let v = int(col)
        guard let t = T(exactly: v) else {
            throw CairnError(.integrity, "the index \(db.path) holds \(v) as a \(what), which is out of range; run `cairn check --rebuild-index`", path: db.path)
        }
        return t
    }
}
