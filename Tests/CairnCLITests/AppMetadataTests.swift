// Application metadata end to end through the built binary: `snapshot --meta` is recorded,
// shown by list/show/inspect and carried through export and import; `restore` and `import`
// refuse on `--require-meta` mismatch or absence (exit 23, nothing changed) and only warn on
// `--warn-meta`; hostile keys and values are refused before anything is written.

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct AppMetadataTests {
    func setUp(_ t: TempDir) throws -> String {
        try writeFile(t.sub("app/notes.txt"), Array("v1".utf8))
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "app", t.sub("app")]).status == 0)
        return repo
    }

    @Test func metaIsRecordedShownAndExported() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t)
        let snap = try cairn(repo, ["snapshot", "--meta", "app=notes", "--meta", "app_version=1.4", "--meta", "schema.v=7"])
        #expect(snap.status == 0, "\(snap.stderr)")
        let list = try cairn(repo, ["list"])
        #expect(list.stdout.contains("{app=notes app_version=1.4 schema.v=7}"), "\(list.stdout)")
        let show = try cairn(repo, ["show", "latest"])
        #expect(show.stdout.contains("meta     app=notes app_version=1.4 schema.v=7"), "\(show.stdout)")
        let json = try cairn(repo, ["show", "latest", "--json"])
        let o = try #require(parseJSON(json.stdout))
        #expect(o["meta"]?["app_version"]?.string == "1.4")
        // A snapshot without --meta has no meta field at all (its record bytes are as before).
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        #expect(parseJSON(try cairn(repo, ["show", "latest", "--json"]).stdout)?["meta"] == nil)

        let first = String(list.stdout.prefix(12))
        #expect(try cairn(repo, ["export", first, "-o", t.sub("x.zip")]).status == 0)
        let inspect = try run(cairnBinary(), ["inspect", t.sub("x.zip")])
        #expect(inspect.stdout.contains("meta     app=notes app_version=1.4 schema.v=7"), "\(inspect.stdout)")
        let ij = try #require(parseJSON(try run(cairnBinary(), ["inspect", t.sub("x.zip"), "--json"]).stdout))
        #expect(ij["snapshot"]?["meta"]?["app"]?.string == "notes")

        // Import keeps the metadata; --require-meta checks the manifest before anything is written.
        let repo2 = t.sub("repo2")
        #expect(try cairn(repo2, ["init"]).status == 0)
        let bad = try cairn(repo2, ["import", t.sub("x.zip"), "--require-meta", "app_version=2.0"])
        #expect(bad.status == 23, "\(bad.stderr)")
        #expect(bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("app_version=1.4, wanted app_version=2.0"), "\(bad.stderr)")
        #expect(try cairn(repo2, ["list"]).stdout.isEmpty)
        let warned = try cairn(repo2, ["import", t.sub("x.zip"), "--require-meta", "app=notes", "--warn-meta", "schema.v=8"])
        #expect(warned.status == 0, "\(warned.stderr)")
        #expect(warned.stderr.contains("cairn: warning:") && warned.stderr.contains("schema.v=7, wanted schema.v=8"), "\(warned.stderr)")
        #expect(try cairn(repo2, ["show", "latest"]).stdout.contains("meta     app=notes app_version=1.4 schema.v=7"))
    }

    @Test func restoreRequiresAndWarns() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t)
        #expect(try cairn(repo, ["snapshot", "--meta", "app_version=1.3"]).status == 0)
        try writeFile(t.sub("app/notes.txt"), Array("v2".utf8))
        let before = try cairn(repo, ["list"]).stdout

        let wrong = try cairn(repo, ["restore", "latest", "--require-meta", "app_version=1.4"])
        #expect(wrong.status == 23, "\(wrong.stderr)")
        #expect(wrong.stderr.hasPrefix("cairn: error: snapshot ") && wrong.stderr.contains("app_version=1.3, wanted app_version=1.4"), "\(wrong.stderr)")
        let absent = try cairn(repo, ["restore", "latest", "--require-meta", "app=notes"])
        #expect(absent.status == 23 && absent.stderr.contains("app is absent"), "\(absent.stderr)")
        let wrongJSON = try cairn(repo, ["restore", "latest", "--require-meta", "app=notes", "--json"])
        #expect(parseJSON(wrongJSON.stdout)?["code"]?.string == "metadata-mismatch", "\(wrongJSON.stdout)")
        // Refused: no safety snapshot, the live file untouched.
        #expect(try cairn(repo, ["list"]).stdout == before)
        #expect(try FS.readAll(t.sub("app/notes.txt")) == Array("v2".utf8))

        let warn = try cairn(repo, ["restore", "latest", "--warn-meta", "app_version=1.4"])
        #expect(warn.status == 0, "\(warn.stderr)")
        #expect(warn.stderr.contains("cairn: warning: snapshot") && warn.stderr.contains("proceeding"), "\(warn.stderr)")
        #expect(try FS.readAll(t.sub("app/notes.txt")) == Array("v1".utf8))
        // By id: `latest` may name the safety snapshot the restore above took.
        let ok = try cairn(repo, ["restore", String(before.prefix(12)), "--require-meta", "app_version=1.3", "--dry-run"])
        #expect(ok.status == 0 && ok.stderr.isEmpty, "\(ok.stderr)")
    }

    @Test func hostileMetaIsRefused() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try setUp(t)
        let cases: [(String, String)] = [
            ("App=x", "key 'App' is not valid"),
            ("novalue", "is not KEY=VALUE"),
            ("=x", "key '' is not valid"),
            ("k=" + String(repeating: "v", count: 257), "257 bytes"),
            ("k=a\u{1}b", "control character"),
            (String(repeating: "k", count: 65) + "=1", "is not valid"),
        ]
        for (arg, message) in cases {
            let r = try cairn(repo, ["snapshot", "--meta", arg])
            #expect(r.status == 18, "\(arg): \(r.stderr)")
            #expect(r.stderr.contains(message) && r.stderr.split(separator: "\n").count == 1, "\(arg): \(r.stderr)")
        }
        let twice = try cairn(repo, ["snapshot", "--meta", "a=1", "--meta", "a=2"])
        #expect(twice.status == 18 && twice.stderr.contains("twice"))
        #expect(try cairn(repo, ["list"]).stdout.isEmpty, "a refused snapshot recorded something")
        // Unit level: bounds and the comparison.
        #expect(SnapshotMeta.mismatches(["a": "1"], against: ["a": "1", "b": "2"]) == ["b is absent (wanted b=2)"])
        #expect(throws: CairnError.self) { try SnapshotMeta.parse(Array(repeating: "a=1", count: 33), option: "--meta") }
    }
}
