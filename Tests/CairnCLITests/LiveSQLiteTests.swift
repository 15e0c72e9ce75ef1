import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A separate process commits transactions continuously while snapshots run; every
/// captured database passes integrity_check and holds exactly a prefix of the commits.
@Suite struct LiveSQLiteTests {
    static let writer = """
    import sqlite3, sys, os, random, time
    path, mode, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.execute("pragma journal_mode=%s" % mode)
    db.execute("create table if not exists t(i integer primary key, payload blob)")
    db.execute("create table if not exists meta(k text primary key, n integer)")
    db.execute("insert or ignore into meta values('n', 0)")
    rnd = random.Random(1); i = 0; deadline = time.time() + 90
    # Bounded: stops on the stop file, when its folder vanishes, after 90 s or 200k commits.
    while not os.path.exists(stop) and os.path.exists(os.path.dirname(stop)) and time.time() < deadline and i < 200000:
        i += 1
        db.execute("begin immediate")
        db.execute("insert into t values(?, ?)", (i, rnd.randbytes(rnd.randint(50, 1500))))
        db.execute("update meta set n = ? where k = 'n'", (i,))
        db.execute("commit")
    print(i)
    """

    static let verify = """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1])
    ok = db.execute("pragma integrity_check").fetchone()[0]
    rows = [r[0] for r in db.execute("select i from t order by i")]
    n = db.execute("select n from meta").fetchone()[0]
    prefix = rows == list(range(1, len(rows) + 1)) and n == len(rows)
    print(ok, len(rows), n, prefix)
    """

    @Test(arguments: ["wal", "delete"])
    func capturesConsistentPrefixes(mode: String) throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo")
        try FS.mkdirs(t.sub("app"))
        try writeFile(t.sub("writer.py"), Array(Self.writer.utf8))
        try writeFile(t.sub("verify.py"), Array(Self.verify.utf8))
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "app", t.sub("app")]).status == 0)
        let w = try Child.spawn("python3", [t.sub("writer.py"), t.sub("app/live.db"), mode, t.sub("stop")])
        defer { w.kill(); w.wait() }
        var waited = 0
        while (try? FS.lstat(t.sub("app/live.db")))?.size ?? 0 < 8192 && waited < 200 { usleep(50_000); waited += 1 }
        usleep(300_000)
        var counts: [Int] = []
        for round in 0..<6 {
            let s = try cairn(repo, ["snapshot", "--json"])
            #expect(s.status == 0, "\(s.stderr)")
            let obj: [String: Any]? = jsonFields(s)
            let id = try #require(obj?["id"] as? String)
            let ls = try cairn(repo, ["ls", id, "app"]).stdout
            #expect(!ls.contains("live.db-wal") && !ls.contains("live.db-shm") && !ls.contains("live.db-journal"), "siblings stored: \(ls)")
            let out = t.sub("copy\(round).db")
            let c = try cairn(repo, ["cat", id, "app/live.db"])
            #expect(c.status == 0, "\(c.stderr)")
            try writeFile(out, c.stdoutBytes)
            #expect(!FS.exists(out + "-wal"))
            let v = try run("python3", [t.sub("verify.py"), out]).stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(v.first == "ok", "integrity: \(v)")
            #expect(v.last == "True", "not a prefix of the commits: \(v)")
            counts.append(Int(v.count > 1 ? v[1] : "0") ?? 0)
            usleep(150_000)
        }
        try writeFile(t.sub("stop"), [])
        print("FIGURE live SQLite (\(mode)): captured commit counts \(counts)")
        #expect(counts.last ?? 0 > counts.first ?? 0, "the writer kept committing between snapshots")
    }
}
