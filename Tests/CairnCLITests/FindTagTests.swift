import CairnCore
import CairnTestSupport
import Foundation
import Testing

/// `cairn find`, `cairn tag` and the trial run of a command silo at `silo add`.
@Suite struct FindTagTests {
    func setUp(_ t: TempDir) throws -> String {
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        try writeFile(t.sub("s/notes/a.db"), Array("one".utf8))
        try writeFile(t.sub("s/notes/draft1.txt"), Array("d".utf8))
        try writeFile(t.sub("s/other.txt"), Array("o".utf8))
        #expect(try cairn(repo, ["silo", "add", "s", t.sub("s")]).status == 0)
        return repo
    }

    @Test func findAcrossSnapshots() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t)
        let first = try #require(snapshotId(fromJSON: try cairn(repo, ["snapshot", "--json"])))
        try writeFile(t.sub("s/deep/x/b.db"), Array("two".utf8))
        let second = try #require(snapshotId(fromJSON: try cairn(repo, ["snapshot", "--json"])))
        let r = try cairn(repo, ["find", "*.db", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = (try? JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [[String: Any]]) ?? []
        let hits = rows.map { "\(($0["snapshot"] as? String)?.prefix(12) ?? "") \($0["silo"] as? String ?? "")/\($0["path"] as? String ?? "")" }
        #expect(hits == ["\(first.prefix(12)) s/notes/a.db", "\(second.prefix(12)) s/deep/x/b.db", "\(second.prefix(12)) s/notes/a.db"], "\(hits)")
        let anchored = try cairn(repo, ["find", "notes/**/draft*", "--snapshot", first])
        #expect(anchored.status == 0 && anchored.stdout.contains("s/notes/draft1.txt") && anchored.stdout.split(separator: "\n").count == 1, "\(anchored.stdout)")
        let none = try cairn(repo, ["find", "nothing-*"])
        #expect(none.status == 0 && none.stdout.isEmpty && none.stderr.contains("no entry matches"), "\(none.stderr)")
    }

    @Test func tagWritesANewRecordAndDeletesTheOld() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t)
        let id = try #require(snapshotId(fromJSON: try cairn(repo, ["snapshot", "--tag", "a", "--json"])))
        let added = try cairn(repo, ["tag", String(id.prefix(12)), "--add", "b", "--add", "c", "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let j = jsonFields(added)
        let newId = try #require(j["id"] as? String)
        #expect(j["replaced"] as? String == id && j["tags"] as? [String] == ["a", "b", "c"] && newId != id, "\(j)")
        #expect(try listSnapshotIds(repo) == [newId])
        let removed = try cairn(repo, ["tag", "latest", "--remove", "a"])
        #expect(removed.status == 0 && removed.stdout.contains("tags b, c"), "\(removed.stdout)")
        let set = jsonFields(try cairn(repo, ["tag", "latest", "--set", "only", "--json"]))
        #expect(set["tags"] as? [String] == ["only"])
        let same = try cairn(repo, ["tag", "latest", "--add", "only"])
        #expect(same.status == 0 && same.stdout.contains("unchanged"), "\(same.stdout)")
        let cleared = jsonFields(try cairn(repo, ["tag", "latest", "--set", "", "--json"]))
        #expect(cleared["tags"] as? [String] == [])
        // The retagged snapshot still restores and checks clean.
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        #expect(try cairn(repo, ["restore", "latest", "--to", t.sub("out")]).status == 0)
        #expect(try FS.readAll(t.sub("out/s/other.txt")) == Array("o".utf8))
        let bad = try cairn(repo, ["tag", "latest", "--add", "a,b"])
        #expect(bad.status == CairnError.Code.invalidInput.exitCode && bad.stderr.contains("is not valid"), "\(bad.stderr)")
        #expect(try cairn(repo, ["tag", "latest"]).status == CairnError.Code.invalidInput.exitCode)
    }

    @Test func commandSiloAddRunsTheCommandOnce() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t)
        let marker = t.sub("ran")
        let ok = try cairn(repo, ["silo", "add", "good", "--command", "echo x >> \(marker); echo out", "--filename", "o.txt"])
        #expect(ok.status == 0 && ok.stderr.contains("ran once"), "\(ok.stderr)")
        #expect(try FS.readAll(marker) == Array("x\n".utf8))
        let failing = try cairn(repo, ["silo", "add", "bad", "--command", "pg_dump_that_does_not_exist mydb", "--filename", "d.sql"])
        #expect(failing.status == CairnError.Code.siloFailed.exitCode && failing.stderr.contains("the silo was not added"), "\(failing.stderr)")
        let silos = try cairn(repo, ["silo", "list"])
        #expect(silos.stdout.contains("good") && !silos.stdout.contains("bad"), "\(silos.stdout)")
        #expect(try cairn(repo, ["silo", "add", "later", "--no-trial", "--command", "false", "--filename", "l"]).status == 0)
        // Nothing was stored by the trial runs.
        #expect(try listSnapshotIds(repo).isEmpty)
    }
}
