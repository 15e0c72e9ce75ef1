import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A format-1 repository (Tests/Fixtures/format1/repo, written by cairn at commit f48dafd:
/// silo "docs" with three files and a symlink, snapshots tagged "one" and "two") is read as
/// it is, restores identically to the digests recorded beside it, migrates to format 2 on
/// the next snapshot and checks clean before and after.
@Suite struct FormatMigrationTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/format1").path

    /// Copies the fixture repository (git keeps no empty folders: they are re-created).
    func copyFixture(to dir: String) throws {
        #expect(try sh("cp -R '\(Self.fixture)/repo' '\(dir)' && mkdir -p '\(dir)/locks' '\(dir)/tmp' '\(dir)/packs/tmp'").status == 0)
    }

    func version(_ repo: String) throws -> Int? {
        let obj = try JSONSerialization.jsonObject(with: Data(try FS.readAll(repo + "/config.json"))) as? [String: Any]
        return obj?["version"] as? Int
    }

    func recorded(_ name: String) throws -> [String] {
        String(decoding: try FS.readAll("\(Self.fixture)/\(name)"), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func formatOneIsReadRestoredAndMigrated() throws {
        let t = TempDir("cairn-f1"); defer { t.remove() }
        let repo = t.sub("repo")
        try copyFixture(to: repo)
        #expect(try version(repo) == 1)

        let list = try cairn(repo, ["list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("\"one\"") && list.stdout.contains("\"two\""))
        let ls = try cairn(repo, ["ls", "-r", "latest"])
        #expect(ls.stdout.contains("docs/link -> sub/b.txt") && ls.stdout.contains("docs/sub/c.bin"), "\(ls.stdout)")
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        #expect(try version(repo) == 1, "reading does not migrate")

        // Both snapshots restore to the digests recorded with the format-1 binary.
        for (tag, file) in [("one", "digest-one.txt"), ("two", "digest-two.txt")] {
            let ids = try cairn(repo, ["list", "--tag", tag, "--json"])
            let id = try #require(ids.stdout.split(separator: "\"").first { $0.count == 64 }.map(String.init))
            let out = t.sub("out-\(tag)")
            #expect(try cairn(repo, ["restore", id, "--to", out]).status == 0)
            #expect(try byteTreeDigest(FileName(utf8: out + "/docs")) == recorded(file), "snapshot \(tag)")
        }

        // The next snapshot (of the restored "two" state plus a change) migrates in place.
        let live = t.sub("out-two/docs")
        try writeFile(live + "/new.txt", Array("format 2\n".utf8))
        let silos = String(decoding: try FS.readAll(repo + "/silos.json"), as: UTF8.self).replacingOccurrences(of: "/tmp/f1work/silo", with: live)
        try FS.atomicWrite(repo + "/silos.json", Array(silos.utf8))
        let snap = try cairn(repo, ["snapshot", "--json"])
        #expect(snap.status == 0, "\(snap.stderr)")
        #expect(try version(repo) == RepositoryConfig.currentVersion)
        #expect(try restoreLeftovers(in: repo).isEmpty)
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        // A further snapshot reads nothing again (the CTR2 parent's entries match).
        let again = try cairn(repo, ["snapshot", "--json"])
        #expect(again.status == 0 && jsonFields(again)["filesRead"] as? Int == 0, "\(again.stdout)")
        let ids = try listSnapshotIds(repo)
        #expect(ids.count == 4)
        let diff = try cairn(repo, ["diff", ids[1], ids[2]])
        #expect(diff.stdout.contains("+ docs/new.txt") && !diff.stdout.contains("M "), "\(diff.stdout)")
        let back = t.sub("out-three")
        #expect(try cairn(repo, ["restore", "latest", "--to", back]).status == 0)
        #expect(try byteTreeDigest(FileName(utf8: back + "/docs")) == byteTreeDigest(FileName(utf8: live)))
    }

    /// A newer format than this build knows is refused with exit 11, and nothing is written.
    @Test func newerFormatIsRefused() throws {
        let t = TempDir("cairn-f3"); defer { t.remove() }
        let repo = t.sub("repo")
        try copyFixture(to: repo)
        let cfg = String(decoding: try FS.readAll(repo + "/config.json"), as: UTF8.self)
            .replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : \(RepositoryConfig.currentVersion + 1)")
        try FS.atomicWrite(repo + "/config.json", Array(cfg.utf8))
        for args in [["list"], ["snapshot"]] {
            let r = try cairn(repo, args)
            #expect(r.status == 11 && r.stderr.contains("format version \(RepositoryConfig.currentVersion + 1)"), "\(args): \(r.stderr)")
        }
        #expect(try version(repo) == RepositoryConfig.currentVersion + 1)
    }
}
