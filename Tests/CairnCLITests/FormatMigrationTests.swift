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

    static let fixture2 = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/format2").path

    /// Copies the format-2 fixture; returns the environment giving this copy its own cache and
    /// state folders (every copy has the fixture's repository id).
    func copyFixture2(_ t: TempDir) throws -> (repo: String, env: [String: String]) {
        let repo = t.sub("repo")
        #expect(try sh("cp -R '\(Self.fixture2)/repo' '\(repo)' && mkdir -p '\(repo)/locks' '\(repo)/tmp' '\(repo)/packs/tmp'").status == 0)
        return (repo, ["CAIRN_CACHE_DIR": t.sub("host/cache"), "CAIRN_STATE_DIR": t.sub("host/state")])
    }

    func recorded2(_ name: String) throws -> [String] {
        String(decoding: try FS.readAll("\(Self.fixture2)/\(name)"), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Both snapshots of the format-2 fixture restore to the digests recorded with the format-2 binary.
    func expectFixture2Restores(_ repo: String, _ env: [String: String], _ t: TempDir, _ label: String) throws {
        for (tag, file) in [("one", "digest-one.txt"), ("two", "digest-two.txt")] {
            let ids = try cairn(repo, ["list", "--tag", tag, "--json"], env: env)
            let id = try #require(ids.stdout.split(separator: "\"").first { $0.count == 64 }.map(String.init), "\(label): \(ids.stderr)")
            let out = t.sub("out-\(label)-\(tag)")
            #expect(try cairn(repo, ["restore", id, "--to", out], env: env).status == 0)
            #expect(try byteTreeDigest(FileName(utf8: out + "/docs")) == recorded2(file), "\(label) snapshot \(tag)")
        }
    }

    /// The format-2 fixture is read as it is, `cairn migrate` moves it to format 3 (index objects
    /// written, silos.json and index.sqlite leave the repository folder), and it checks clean and
    /// restores identically before and after; the cache can then be deleted and is rebuilt.
    @Test func formatTwoIsReadMigratedAndRestored() throws {
        let t = TempDir("cairn-f2"); defer { t.remove() }
        let (repo, env) = try copyFixture2(t)
        #expect(try version(repo) == 2)
        #expect(try cairn(repo, ["check", "--read-data"], env: env).status == 0)
        try expectFixture2Restores(repo, env, t, "v2")
        #expect(try version(repo) == 2, "reading does not migrate")
        let m = try cairn(repo, ["migrate", "--json"], env: env)
        #expect(m.status == 0, "\(m.stderr)")
        #expect(jsonFields(m)["indexObjectsWritten"] as? Int == 2 && jsonFields(m)["fromVersion"] as? Int == 2, "\(m.stdout)")
        #expect(try version(repo) == 3)
        #expect(!FS.exists(repo + "/silos.json") && !FS.exists(repo + "/index.sqlite"))
        #expect(FS.exists(t.sub("host/state/\(repositoryId(repo))/silos.json")))
        #expect(try cairn(repo, ["check", "--read-data"], env: env).status == 0)
        try expectFixture2Restores(repo, env, t, "v3")
        try FS.removeTree(t.sub("host/cache"))
        #expect(try cairn(repo, ["check", "--read-data"], env: env).status == 0, "the cache is rebuilt from the index objects")
        let again = try cairn(repo, ["migrate", "--json"], env: env)
        #expect(again.status == 0 && jsonFields(again)["migrated"] as? Bool == false, "\(again.stdout)")
    }

    /// `cairn migrate` SIGKILLed at random points (each step paused by the test hook
    /// CAIRN_TEST_MIGRATION_PAUSE_MS): after every kill the repository opens, checks clean and
    /// lists both snapshots, whichever format it has; a last run completes the migration.
    @Test func migrationKilledAtRandomPointsLeavesAnOpenableRepository() throws {
        var versions: [Int: Int] = [:]
        for round in 0..<24 {
            let t = TempDir("cairn-f2kill"); defer { t.remove() }
            var (repo, env) = try copyFixture2(t)
            env["CAIRN_TEST_MIGRATION_PAUSE_MS"] = "40"
            let p = try Child.spawn(cairnBinary(), ["migrate", "--repo", repo], env: env, stdout: t.sub("o"), stderr: t.sub("e"))
            usleep(UInt32.random(in: 0...450_000))
            p.kill(SIGKILL)
            _ = p.wait()
            env["CAIRN_TEST_MIGRATION_PAUSE_MS"] = nil
            let v = try version(repo) ?? 0
            versions[v, default: 0] += 1
            #expect(v == 2 || v == 3, "round \(round): version \(v)")
            let c = try cairn(repo, ["check", "--read-data"], env: env)
            #expect(c.status == 0, "round \(round) (format \(v)): \(c.stdout)\(c.stderr)")
            #expect(try listSnapshotIds(repo, env: env).count == 2, "round \(round)")
            let m = try cairn(repo, ["migrate"], env: env)
            let after = try version(repo)
            #expect(m.status == 0 && after == 3, "round \(round): \(m.stderr)")
            #expect(try cairn(repo, ["check", "--read-data"], env: env).status == 0, "round \(round) after migrate")
            if round % 8 == 0 { try expectFixture2Restores(repo, env, t, "r\(round)") }
        }
        print("migration kill rounds by format left: \(versions)")
    }
}
