// Index queries used by prune. The mark set and the list of moved blocks live in TEMP
// tables of prune's own connection (SQLite spills them to a temporary file), so memory
// stays bounded however many blocks the repository holds.

import CSQLite

/// Block and byte counts of one pack, split into live (reachable) and dead.
struct PackUsage: Sendable {
    var id: Int64
    var name: String
    var size: UInt64
    /// Index rows that point into this pack.
    var rows: Int
    var liveBlocks: Int
    var liveStored: UInt64

    /// Bytes this pack needs for its live blocks: their stored bytes, their trailer entries, header and footer.
    var usedBytes: UInt64 {
        liveBlocks == 0 ? 0 : liveStored + UInt64(liveBlocks * PackFormat.entrySize + PackFormat.headerMagic.count + PackFormat.footerSize)
    }
    var unusedBytes: UInt64 { size > usedBytes ? size - usedBytes : 0 }
}

extension RepositoryIndex {
    /// Creates (empty) the temporary mark table `temp.prune_live` and the moved-block table `temp.prune_moved`.
    func pruneCreateTables() throws {
        try db.exec("""
        PRAGMA temp_store=FILE;
        DROP TABLE IF EXISTS temp.prune_live; DROP TABLE IF EXISTS temp.prune_moved; DROP TABLE IF EXISTS temp.prune_old;
        CREATE TEMP TABLE prune_live(id BLOB PRIMARY KEY) WITHOUT ROWID;
        CREATE TEMP TABLE prune_moved(id BLOB PRIMARY KEY, pack TEXT NOT NULL, offset INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TEMP TABLE prune_old(id INTEGER PRIMARY KEY);
        """)
    }

    func pruneDropTables() {
        try? db.exec("DROP TABLE IF EXISTS temp.prune_live; DROP TABLE IF EXISTS temp.prune_moved; DROP TABLE IF EXISTS temp.prune_old;")
    }

    /// A statement that marks one block live; after `run()`, `db.changes` is 1 when it was not marked yet.
    func pruneMarkStatement() throws -> Statement {
        try db.prepare("INSERT OR IGNORE INTO temp.prune_live(id) VALUES(?)")
    }

    /// Marked blocks the index does not have and does not know to be lost (a damaged repository
    /// `check` has not seen yet), up to `limit` of them. Blocks recorded as missing are lost
    /// already: prune keeps nothing for them and does not stop.
    func pruneMissingLive(limit: Int) throws -> [BlockId] {
        let st = try db.prepare("SELECT l.id FROM temp.prune_live l LEFT JOIN blocks b ON b.id = l.id WHERE b.id IS NULL AND l.id NOT IN (SELECT id FROM missing) LIMIT ?")
        st.bind(1, limit)
        var out: [BlockId] = []
        while try st.step() { if let id = st.blockId(0) { out.append(id) } }
        return out
    }

    /// Live and dead counts of every indexed pack (one row per pack, streamed by SQLite).
    func prunePackUsage() throws -> [PackUsage] {
        let st = try db.prepare("""
        SELECT p.id, p.name, p.size, COUNT(b.id), COUNT(l.id), COALESCE(SUM(CASE WHEN l.id IS NULL THEN 0 ELSE b.stored END), 0)
        FROM packs p LEFT JOIN blocks b ON b.pack = p.id LEFT JOIN temp.prune_live l ON l.id = b.id
        GROUP BY p.id ORDER BY p.name
        """)
        var out: [PackUsage] = []
        while try st.step() {
            guard let size = UInt64(exactly: st.int(2)), size <= PackFormat.maxPackOffset,
                  let liveStored = UInt64(exactly: st.int(5)), liveStored <= PackFormat.maxPackOffset else {
                throw badRow("pack \(st.string(1) ?? "") has size \(st.int(2)) and live bytes \(st.int(5))")
            }
            out.append(PackUsage(id: st.int(0), name: try packName(st, 1), size: size, rows: Int(st.int(3)),
                                 liveBlocks: Int(st.int(4)), liveStored: liveStored))
        }
        return out
    }

    /// Bytes and count of dead blocks (indexed, unreachable) in all packs.
    func pruneDeadTotals() throws -> (blocks: Int, stored: UInt64) {
        let st = try db.prepare("SELECT COUNT(*), COALESCE(SUM(b.stored), 0) FROM blocks b LEFT JOIN temp.prune_live l ON l.id = b.id WHERE l.id IS NULL")
        guard try st.step() else { return (0, 0) }
        guard let stored = UInt64(exactly: st.int(1)) else { throw badRow("dead block bytes \(st.int(1))") }
        return (Int(st.int(0)), stored)
    }

    /// The live blocks of pack `packId`, in pack order (at most one pack's entries in memory).
    func pruneLiveEntries(pack packId: Int64) throws -> [PackEntry] {
        let st = try db.prepare("""
        SELECT b.id, b.offset, b.stored, b.raw, b.kind, b.codec, b.crc FROM blocks b JOIN temp.prune_live l ON l.id = b.id
        WHERE b.pack = ? ORDER BY b.offset
        """)
        st.bind(1, packId)
        var out: [PackEntry] = []
        while try st.step() {
            guard let id = st.blockId(0) else { continue }
            out.append(try blockRow(st, id: id, first: 1))
        }
        return out
    }

    /// Records where a repacked block now lives (in `temp.prune_moved`; not yet visible in `blocks`).
    func pruneRecordMoved(pack: String, entries: [PackEntry]) throws {
        try db.transaction {
            let st = try db.prepare("INSERT OR REPLACE INTO temp.prune_moved(id, pack, offset) VALUES(?, ?, ?)")
            for e in entries {
                st.reset()
                st.bind(1, e.id); st.bind(2, pack); st.bind(3, Int64(e.offset))
                try st.run()
            }
        }
    }

    /// The one index transaction of a prune: adds the new packs, points every moved block at
    /// its new pack, and deletes the rows of the old packs and of every block still in them.
    /// Returns the number of block rows deleted.
    func pruneCommit(newPacks: [(name: String, size: UInt64, blocks: Int)], oldPacks: [Int64]) throws -> Int {
        try db.transaction {
            try db.exec("DELETE FROM temp.prune_old")
            let old = try db.prepare("INSERT OR IGNORE INTO temp.prune_old(id) VALUES(?)")
            for id in oldPacks { old.reset(); old.bind(1, id); try old.run() }
            // Another process on this host may already have added the new pack from its index
            // object (the cache is shared per user): the row is the same, so it is kept.
            let ins = try db.prepare("INSERT OR IGNORE INTO packs(name, size, blocks) VALUES(?, ?, ?)")
            for p in newPacks {
                ins.reset()
                ins.bind(1, p.name); ins.bind(2, Int64(p.size)); ins.bind(3, p.blocks)
                try ins.run()
            }
            try db.exec("""
            UPDATE blocks SET pack = p.id, offset = m.offset FROM temp.prune_moved m JOIN packs p ON p.name = m.pack WHERE blocks.id = m.id
            """)
            try db.exec("DELETE FROM blocks WHERE pack IN (SELECT id FROM temp.prune_old)")
            let deleted = db.changes
            try db.exec("DELETE FROM packs WHERE id IN (SELECT id FROM temp.prune_old)")
            return deleted
        }
    }
}
