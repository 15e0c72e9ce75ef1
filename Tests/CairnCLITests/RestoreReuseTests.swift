import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// In-place restore reuses unchanged live files (linked into staging, same inode afterwards)
/// and rewrites every file the rule cannot prove unchanged: content rewritten with the same
/// size and the old mtime put back (its ctime moved), a mode change, an append, a deletion.
@Suite struct RestoreReuseTests {
    static func inode(_ p: String) throws -> UInt64 { try FS.lstat(p).inode }

    @Test func unchangedLiveFilesAreReusedAndChangedOnesRewritten() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = t.sub("repo"), app = t.sub("app")
        try FS.mkdirs(app + "/sub")
        var rng = SeededBytes(seed: 5)
        let original: [String: [UInt8]] = [
            "same.bin": rng.bytes(300_000), "sub/same.txt": Array("kept as is\n".utf8),
            "forged.bin": rng.bytes(70_000), "mode.txt": Array("mode\n".utf8),
            "gone.txt": Array("deleted later\n".utf8), "grown.log": Array("line\n".utf8),
        ]
        for (n, b) in original { try writeFile(app + "/" + n, b) }
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "app", app]).status == 0)
        let s = try cairn(repo, ["snapshot", "--json"])
        #expect(s.status == 0, "\(s.stderr)")
        let obj: [String: Any]? = jsonFields(s)
        let id = try #require(obj?["id"] as? String)
        let before = try Dictionary(uniqueKeysWithValues: original.keys.filter { $0 != "gone.txt" }.map { ($0, try Self.inode(app + "/" + $0)) })

        // Same size, different bytes, the old mtime put back: only ctime shows the change.
        let forged = app + "/forged.bin"
        let mtime = try FS.lstat(forged).mtime
        var other = original["forged.bin"]!
        other[1234] ^= 0xFF
        let fd = open(forged, O_WRONLY)
        #expect(fd >= 0)
        _ = other.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) }
        close(fd)
        #expect(cairnTouch(forged, mtime.seconds * 1_000_000_000 + Int64(mtime.nanoseconds)))
        #expect(try FS.lstat(forged).mtime == mtime && FS.lstat(forged).size == UInt64(other.count))
        #expect(chmod(app + "/mode.txt", 0o600) == 0)
        #expect(unlink(app + "/gone.txt") == 0)
        try writeFile(app + "/grown.log", Array("line\nmore\n".utf8))

        let r = try cairn(repo, ["restore", id, "--json", "--no-safety-snapshot"])
        #expect(r.status == 0, "\(r.stderr)")
        for (n, b) in original { #expect(try FS.readAll(app + "/" + n) == b, "\(n) restored") }
        #expect(try FS.lstat(app + "/mode.txt").mode & 0o7777 == 0o644)
        // Reused: the live inodes survive the swap. Rewritten: new inodes.
        #expect(try Self.inode(app + "/same.bin") == before["same.bin"])
        #expect(try Self.inode(app + "/sub/same.txt") == before["sub/same.txt"])
        for n in ["forged.bin", "mode.txt", "grown.log"] {
            #expect(try Self.inode(app + "/" + n) != before[n], "\(n) must be rewritten")
        }
        #expect(try FS.lstat(app + "/same.bin").links == 1)
        #expect(try restoreLeftovers(in: t.path).isEmpty)

        // --force (processes may hold files open and keep writing): nothing is reused.
        let kept = try Self.inode(app + "/sub/same.txt")
        let f = try cairn(repo, ["restore", id, "--json", "--no-safety-snapshot", "--force"])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(try Self.inode(app + "/sub/same.txt") != kept)
        #expect(try FS.readAll(app + "/sub/same.txt") == original["sub/same.txt"])
    }
}
