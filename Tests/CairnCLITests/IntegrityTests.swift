import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct IntegrityTests {
    /// A repository with two silos and two snapshots.
    func fixture(_ t: TempDir) throws -> String {
        let repo = t.sub("repo")
        var rng = SeededBytes(seed: 3)
        for i in 0..<30 { try writeFile(t.sub("a/dir\(i % 3)/f\(i).bin"), rng.bytes(20_000 + i * 1000)) }
        try writeFile(t.sub("b/notes.txt"), Array(String(repeating: "note ", count: 5000).utf8))
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "a", t.sub("a")]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "b", t.sub("b")]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        try writeFile(t.sub("a/dir0/new.bin"), rng.bytes(5000))
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        return repo
    }

    @Test func flippedByteIsDetectedAndFilesNamed() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try fixture(t)
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        let packs = try sh("find \(repo)/packs -name '*.pack' | sort").stdout.split(separator: "\n").map(String.init)
        let pack = try #require(packs.first)
        // Flip one byte inside the first block's data (after the 8-byte header).
        _ = try sh("chmod u+w \(pack) && printf '\\x5a' | dd of=\(pack) bs=1 seek=100 conv=notrunc status=none")
        let structural = try cairn(repo, ["check"])
        #expect(structural.status == 0, "without --read-data only structure is checked")
        let r = try cairn(repo, ["check", "--read-data"])
        #expect(r.status == 15)
        #expect(r.stdout.contains("damaged block"))
        #expect(r.stdout.contains("at byte offset"))
        #expect(r.stdout.contains("used by"))
        #expect(r.stdout.contains(":a/") || r.stdout.contains(":b/"))
        // Reading the damaged file fails with an integrity error, never wrong bytes.
        let used = r.stdout.split(separator: "\n").first { $0.contains("used by") }.map { String($0) } ?? ""
        if let path = used.split(separator: ":").last.map(String.init), !path.hasSuffix("/") {
            let c = try cairn(repo, ["cat", String(used.split(separator: " ").last!.split(separator: ":")[0]), path])
            #expect(c.status == 15)
        }
    }

    @Test func rebuildIndexFromFilesAlone() throws {
        let t = TempDir(); defer { t.remove() }
        let repo = try fixture(t)
        let before = try cairn(repo, ["ls", "--recursive", "latest"]).stdout
        for s in ["", "-wal", "-shm"] { unlink(cacheIndexPath(repo) + s) }
        // The cache is gone: it is rebuilt from the index objects alone.
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        // The index objects and the cache are gone: snapshots are re-adopted from their records, blocks are not indexed.
        try FS.removeTree(repo + "/index")
        for s in ["", "-wal", "-shm"] { unlink(cacheIndexPath(repo) + s) }
        let broken = try cairn(repo, ["check"])
        #expect(broken.status == 15)
        let rb = try cairn(repo, ["check", "--rebuild-index", "--read-data"])
        #expect(rb.status == 0, "\(rb.stdout)\(rb.stderr)")
        #expect(rb.stdout.contains("index rebuilt"))
        #expect(!(try FS.list(repo + "/index")).isEmpty, "the index objects are written again")
        #expect(try cairn(repo, ["ls", "--recursive", "latest"]).stdout == before)
        let list = try JSONSerialization.jsonObject(with: Data(try cairn(repo, ["list", "--json"]).stdoutBytes)) as? [[String: Any]]
        #expect(list?.count == 2)
        for snap in list ?? [] {
            let id = snap["id"] as! String
            for i in 0..<30 {
                let c = try cairn(repo, ["cat", id, "a/dir\(i % 3)/f\(i).bin"])
                #expect(c.status == 0)
                #expect(try fileSHA(t.sub("a/dir\(i % 3)/f\(i).bin")) == BlockId.hash(c.stdoutBytes).hex)
            }
        }
    }
}
