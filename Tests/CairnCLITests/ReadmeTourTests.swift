// README's "A short tour", run exactly as written: every line of the block, in order, through
// /bin/sh, with HOME set to a fresh temp folder holding generated silos (~/app/chats, a SQLite
// database ~/app/notes.db, ~/app/app.db for the `sqlite3 .dump` command silo) and the built
// cairn first on PATH. `export` lines carry over to the later lines. Each step must exit 0 and
// its output is checked. The tour writes /tmp/notes.db and /tmp/copy as printed; the test
// removes them before and after.

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct ReadmeTourTests {
    /// The tour's command lines (the indented block after "## A short tour").
    static func tourLines() throws -> [String] {
        let readme = String(decoding: try FS.readAll(packageRoot() + "/README.md"), as: UTF8.self)
        var lines: [String] = []
        var inTour = false
        for l in readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if l.hasPrefix("## ") { inTour = l == "## A short tour"; continue }
            if inTour && l.hasPrefix("    ") { lines.append(String(l.dropFirst(4))) }
        }
        return lines
    }

    @Test func tourRunsAsWritten() throws {
        let t = TempDir(); defer { t.remove() }
        let home = t.sub("home")
        try writeFile(home + "/app/chats/2026-01-01.json", Array(#"{"m":"hello"}"#.utf8))
        try writeFile(home + "/app/chats/draft.tmp", Array("scratch".utf8))
        for (db, sql) in [("notes.db", "create table n(x); insert into n values('a note');"), ("app.db", "create table t(y); insert into t values('row');")] {
            let r = try run("/usr/bin/sqlite3", [home + "/app/" + db, sql])
            #expect(r.status == 0, "sqlite3: \(r.stderr)")
        }
        try FS.mkdirs(home + "/work")
        for p in ["/tmp/copy", "/tmp/notes.db"] { try? FS.removeTree(p) }
        defer { for p in ["/tmp/copy", "/tmp/notes.db"] { try? FS.removeTree(p) } }

        let env = ["HOME": home, "PATH": FS.parent(cairnBinary()) + ":/usr/bin:/bin"]
        let lines = try Self.tourLines()
        #expect(lines.count >= 20, "the tour block was not found: \(lines)")
        var prelude = ""
        var outputs: [(line: String, result: RunResult)] = []
        for line in lines {
            let r = try sh("cd \(home)/work && \(prelude)\(line)", env: env)
            #expect(r.status == 0, "`\(line)` exited \(r.status): \(r.stderr)")
            if line.hasPrefix("export ") { prelude += line + "\n" }
            outputs.append((line, r))
        }
        /// Standard output of the first tour line starting with `prefix`.
        func out(_ prefix: String) -> String {
            let o = outputs.first { $0.line.hasPrefix(prefix) }
            #expect(o != nil, "the tour has no line starting with `\(prefix)`")
            return o?.result.stdout ?? ""
        }
        let repo = home + "/cairn-repo"
        #expect(FS.exists(repo + "/config.json"), "CAIRN_REPO from the export line was not used")
        #expect(out("cairn snapshot --tag").contains("3 silos"))
        #expect(out("cairn list ").contains("[hourly]"))
        #expect(out("cairn show latest").contains("silo db (command"))
        let ls = out("cairn ls latest")
        #expect(ls.contains("chats/2026-01-01.json") && !ls.contains("draft.tmp"), "\(ls)")
        // The database read back through cat is a valid SQLite database with the note.
        let q = try run("/usr/bin/sqlite3", ["/tmp/notes.db", "select x from n"])
        #expect(q.stdout == "a note\n", "\(q.stdout) \(q.stderr)")
        #expect(out("cairn check --read-data").contains("no errors"))
        #expect(out("cairn restore latest --dry-run").contains("dry run: nothing changed"))
        #expect(out("cairn restore latest --silo chats").contains("(tag pre-restore)"))
        #expect(FS.exists(home + "/app/chats/2026-01-01.json"), "the restore did not bring the removed chat back")
        #expect(FS.exists("/tmp/copy/chats/2026-01-01.json"))
        #expect(out("cairn inspect snap.zip").contains("Cairn export of snapshot"))
        #expect(out("cairn import snap.zip").contains("every SHA-256 verified"))
        let second = try run(cairnBinary(), ["list", "--repo", home + "/repo2"])
        #expect(out("cairn copy latest").contains("copied snapshot"))
        // The imported snapshot and the copy (an import is not a copy: the copy is recorded anew).
        #expect(second.stdout.split(separator: "\n").count == 2, "\(second.stdout)")
        // The command silo stored sqlite3's dump.
        let dump = try run(cairnBinary(), ["cat", String(out("cairn list ").prefix(12)), "db/app.sql", "--repo", repo])
        #expect(dump.stdout.contains("INSERT INTO t VALUES('row');"), "\(dump.stdout)")
    }
}
