import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Live SQLite capture without a temporary copy: a quiescent database (no WAL frames) is read
/// in place and stored byte for byte; one with WAL frames pending still gets a consistent copy.
@Suite struct QuiescentSQLiteTests {
    static func python(_ script: String, _ args: [String]) throws -> RunResult {
        try run("python3", ["-c", script] + args)
    }

    static let fill = """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("pragma journal_mode=%s" % sys.argv[2])
    db.execute("create table t(i integer primary key, v blob)")
    for i in range(2000): db.execute("insert into t values(?, randomblob(200))", (i,))
    db.close()
    """

    /// Snapshots the silo; returns the stored bytes of `name` (also written to `restored`) and
    /// how many databases were read in place.
    static func capture(_ t: TempDir, _ name: String) throws -> (bytes: [UInt8], inPlace: Int) {
        // The repository is closed (its lock released) before the CLI reads it.
        let inPlace: Int = try {
            let r = try makeRepository(t, silos: ["app": t.sub("app")])
            let s = Snapshotter(repository: r, options: SnapshotOptions())
            let res = try s.run()
            #expect(res.warnings.isEmpty, "\(res.warnings)")
            return s.sqliteReadInPlace
        }()
        let out = t.sub("restored")
        let c = try cairn(t.sub("repo"), ["cat", "latest", "app/" + name])
        #expect(c.status == 0, "\(c.stderr)")
        try writeFile(out, c.stdoutBytes)
        return (c.stdoutBytes, inPlace)
    }

    @Test(arguments: ["wal", "delete"])
    func quiescentDatabaseIsStoredByteForByte(mode: String) throws {
        let t = TempDir(); defer { t.remove() }
        try FS.mkdirs(t.sub("app"))
        let db = t.sub("app/q.db")
        #expect(try Self.python(Self.fill, [db, mode]).status == 0)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: db)))
        let got = try Self.capture(t, "q.db")
        #expect(got.inPlace == 1)
        // Byte-exact: a backup copy of a WAL database would differ (its header says DELETE).
        #expect(got.bytes == original)
        let q = try run("/usr/bin/sqlite3", [t.sub("restored"), "pragma integrity_check; select count(*) from t"])
        #expect(q.stdout == "ok\n2000\n", "\(q.stdout) \(q.stderr)")
    }

    @Test func walFramesPendingStillGiveAConsistentCopy() throws {
        let t = TempDir(); defer { t.remove() }
        try FS.mkdirs(t.sub("app"))
        let db = t.sub("app/busy.db")
        #expect(try Self.python(Self.fill, [db, "wal"]).status == 0)
        // A writer keeps its connection open with committed frames in the WAL (no checkpoint)
        // and an uncommitted transaction on top, until the test removes its stop file.
        let holder = """
        import sqlite3, sys, os, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("pragma wal_autocheckpoint=0")
        db.execute("insert into t values(5000, randomblob(300))")
        db.execute("begin")
        db.execute("insert into t values(6000, randomblob(300))")
        open(sys.argv[2], "w").close()
        deadline = time.time() + 60
        while os.path.exists(sys.argv[2]) and time.time() < deadline: time.sleep(0.02)
        db.execute("rollback")
        """
        let ready = t.sub("ready")
        let w = try Child.spawn("python3", ["-c", holder, db, ready])
        defer { try? FS.removeTree(ready); w.kill(); w.wait() }
        var waited = 0
        while !FS.exists(ready) && waited < 500 { usleep(20_000); waited += 1 }
        #expect(FS.exists(ready))
        #expect(((try? FS.lstat(db + "-wal"))?.size ?? 0) > 0)
        let got = try Self.capture(t, "busy.db")
        #expect(got.inPlace == 0)
        let q = try run("/usr/bin/sqlite3", [t.sub("restored"), "pragma integrity_check; select count(*) from t; select count(*) from t where i = 5000; select count(*) from t where i = 6000"])
        // The committed row (in the WAL only) is there, the uncommitted one is not.
        #expect(q.stdout == "ok\n2001\n1\n0\n", "\(q.stdout) \(q.stderr)")
    }
}
