import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Names are bytes beyond the tree: a live SQLite database at a path that is not valid UTF-8
/// is captured through the backup API like any other, and the restore journal records the
/// directories of a partial restore as bytes, so recovery finds them and stays strict.
@Suite struct ByteNameStateTests {
    /// Writes `rows` rows in WAL mode with checkpoints off, so they live only in the -wal file,
    /// then holds the connection open (no checkpoint at close) until the stop file appears.
    static let walWriter = """
    import sqlite3, sys, os, time
    path, rows, ready, stop = bytes.fromhex(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("pragma journal_mode=wal")
    db.execute("pragma wal_autocheckpoint=0")
    db.execute("create table t(i integer primary key, payload blob)")
    db.execute("begin")
    for i in range(rows): db.execute("insert into t values(?, ?)", (i, os.urandom(200)))
    db.execute("commit")
    open(ready, "w").close()
    deadline = time.time() + 60
    while not os.path.exists(stop) and time.time() < deadline: time.sleep(0.05)
    """

    static func hex(_ p: FileName) -> String { p.bytes.map { String(format: "%02x", $0) }.joined() }

    /// Integrity and row count of the database at the byte path `p`, opened alone (the caller checks no -wal is beside it).
    static func sqliteState(_ p: FileName) throws -> String {
        let r = try run("python3", ["-c", "import sqlite3,sys; d=sqlite3.connect(bytes.fromhex(sys.argv[1])); print(d.execute('pragma integrity_check').fetchone()[0], d.execute('select count(*) from t').fetchone()[0])", hex(p)])
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + r.stderr
    }

    @Test func liveSQLiteAtANonUTF8PathIsCaptured() throws {
        let t = TempDir("cairn-sqlite-bytes"); defer { t.remove() }
        let dirName = FileName(bytes: [0x64, 0xFF, 0x80])           // "d" + bytes that are not UTF-8
        let dbName = FileName(bytes: Array("db".utf8) + [0xFE])
        let live = FileName(utf8: t.sub("live"))
        let db = live.appending(dirName).appending(dbName)
        try makeDirectory(bytes: live)
        try makeDirectory(bytes: live.appending(dirName))
        try writeFile(t.sub("writer.py"), Array(Self.walWriter.utf8))
        let w = try Child.spawn("python3", [t.sub("writer.py"), Self.hex(db), "300", t.sub("ready"), t.sub("stop")])
        defer { try? writeFile(t.sub("stop"), []); w.wait() }
        var waited = 0
        while !FS.exists(t.sub("ready")) && waited < 400 { usleep(50_000); waited += 1 }
        #expect(FS.exists(t.sub("ready")), "the writer did not start")
        let wal = FileName(bytes: db.bytes + Array("-wal".utf8))
        #expect(try FS.lstat(wal).size > 0, "the rows are only in the WAL")

        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "app", t.sub("live")]).status == 0)
        let s = try cairn(repo, ["snapshot", "--json"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(!s.stderr.contains("plain file"), "\(s.stderr)")
        let id = try #require(snapshotId(fromJSON: s))
        let ls = try cairn(repo, ["ls", "--recursive", id, "app"])
        #expect(ls.status == 0, "\(ls.stderr)")
        #expect(ls.stdout.contains("db\\xfe") && !ls.stdout.contains("-wal") && !ls.stdout.contains("-shm"), "\(ls.stdout)")
        try writeFile(t.sub("stop"), [])
        #expect(w.wait() == 0)

        // The restored database is complete on its own: the WAL's rows are in it, no sibling beside it.
        let out = t.sub("out")
        let r = try cairn(repo, ["restore", id, "--to", out])
        #expect(r.status == 0, "\(r.stderr)")
        let restored = FileName(utf8: out + "/app").appending(dirName).appending(dbName)
        #expect(try FS.lstatIfExists(FileName(bytes: restored.bytes + Array("-wal".utf8))) == nil)
        #expect(try Self.sqliteState(restored) == "ok 300")
    }

    /// Leftover names of a partial restore with `token` in the byte directory `dir`.
    static func leftovers(_ dir: FileName, token: String) throws -> [FileName] {
        try FS.list(dir).filter { $0.hasPrefix(Array(".cairn-restore-\(token)-".utf8)) }
    }

    static func encode(_ j: RestoreJournal) throws -> [UInt8] { Array(try JSONEncoder().encode(j)) + [10] }

    @Test func includeJournalRecordsNonUTF8FoldersAsBytes() throws {
        let t = TempDir("cairn-journal-bytes"); defer { t.remove() }
        let live = FileName(utf8: t.sub("live"))
        let folder = live.appending(FileName(bytes: [0xFF, 0xFE]))
        try makeDirectory(bytes: live)
        try makeDirectory(bytes: folder)
        try writeFile(bytes: folder.appending("f.txt"), Array("old\n".utf8))
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "app", t.sub("live")]).status == 0)
        let s = try cairn(repo, ["snapshot", "--json"])
        let id = try #require(snapshotId(fromJSON: s))

        // A real partial restore into the non-UTF-8 folder: the file is back, nothing left over.
        try writeFile(bytes: folder.appending("f.txt"), Array("changed\n".utf8))
        let r = try cairn(repo, ["restore", id, "--silo", "app", "--include", "*/f.txt"])
        #expect(r.status == 0, "\(r.stderr)")
        try writeFile(t.sub("old.txt"), Array("old\n".utf8))
        #expect(try fileSHA(bytes: folder.appending("f.txt")) == fileSHA(t.sub("old.txt")))
        #expect(try FS.list(folder).allSatisfy { !$0.hasPrefix(Array(".cairn-restore-".utf8)) })

        // An interrupted partial restore: the journal written by Cairn's encoder carries the folder
        // losslessly (text + base64), and recovery removes the leftover inside it, nothing else.
        let token = "0123456789ab"
        let journalPath = stateFolder(repo) + "/restore-journal.json"
        let journal = RestoreJournal(token: token, snapshot: id, pid: 1, host: "h", state: .include, silos: [], includeDirs: [folder])
        let bytes = try Self.encode(journal)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(obj["includeDirs"] as? [String] == [folder.escaped])
        #expect(obj["includeDirsBytes"] as? [String] == [Data(folder.bytes).base64EncodedString()])
        #expect(try JSONDecoder().decode(RestoreJournal.self, from: Data(bytes)) == journal)
        try writeFile(bytes: folder.appending(FileName(utf8: ".cairn-restore-\(token)-f.txt")), Array("half".utf8))
        try writeFile(journalPath, bytes)
        let rec = try cairn(repo, ["restore", "--recover"])
        #expect(rec.status == 0, "\(rec.stderr)")
        #expect(rec.stdout.contains("cleaned up") || rec.stderr.contains("cleaned up"), "\(rec.stdout)\(rec.stderr)")
        #expect(try Self.leftovers(folder, token: token).isEmpty)
        #expect(try FS.lstatIfExists(folder.appending("f.txt")) != nil, "recovery removes only leftovers")
        #expect(!FS.exists(journalPath))

        // Strict: bytes that do not match the text, a misaligned list, bytes that are valid UTF-8,
        // and a byte folder outside every silo are refused, and the leftover stays.
        let outside = FileName(utf8: t.sub("victim")).appending(FileName(bytes: [0xFF]))
        try makeDirectory(bytes: FileName(utf8: t.sub("victim")))
        try makeDirectory(bytes: outside)
        let text = folder.escaped.replacingOccurrences(of: "\\", with: "\\\\")
        let b64 = Data(folder.bytes).base64EncodedString()
        let head = "{\"version\":1,\"token\":\"\(token)\",\"snapshot\":\"x\",\"pid\":1,\"host\":\"h\",\"state\":\"include\",\"silos\":[],"
        let crafted = [
            head + "\"includeDirs\":[\"\(text)\"],\"includeDirsBytes\":[\"\(Data(outside.bytes).base64EncodedString())\"]}",
            head + "\"includeDirs\":[\"\(text)\"],\"includeDirsBytes\":[\"\(b64)\",null]}",
            head + "\"includeDirs\":[\"\(t.sub("live"))\"],\"includeDirsBytes\":[\"\(Data(t.sub("victim").utf8).base64EncodedString())\"]}",
            head + "\"includeDirs\":[\"\(text)\"],\"includeDirsBytes\":[\"not base64!\"]}",
            String(decoding: try Self.encode(RestoreJournal(token: token, snapshot: "x", pid: 1, host: "h", state: .include, silos: [], includeDirs: [outside])), as: UTF8.self),
        ]
        let bait = outside.appending(FileName(utf8: ".cairn-restore-\(token)-precious"))
        try writeFile(bytes: bait, Array("keep".utf8))
        try writeFile(bytes: folder.appending(FileName(utf8: ".cairn-restore-\(token)-f.txt")), Array("half".utf8))
        for j in crafted {
            try writeFile(journalPath, Array(j.utf8))
            let rec = try cairn(repo, ["restore", "--recover"])
            #expect(rec.stderr.contains("cannot be trusted") && rec.stderr.contains("left alone"), "\(j)\n\(rec.stderr)")
            #expect(try FS.lstatIfExists(bait) != nil, "\(j)")
            #expect(try Self.leftovers(folder, token: token).count == 1, "\(j)")
            #expect(FS.exists(journalPath))
        }
    }
}
