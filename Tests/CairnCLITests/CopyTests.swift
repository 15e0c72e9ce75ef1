// `cairn copy` through the built binary, between two local repositories: a copy restores
// bit-exact, a second copy of a near-identical snapshot sends only the changed blocks, copying
// again is a no-op, a damaged source block stops the copy with nothing recorded, a missing
// target is refused, and --from, filters and usage errors behave as documented.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The last JSON line of a `--json` run (the summary).
func copySummary(_ r: RunResult) throws -> [String: Any] {
    let last = try #require(r.stdout.split(separator: "\n").last, "no output: \(r.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "not an object: \(last)")
}

/// Two repositories, `src` with silo `data` over `t/data`, `dst` empty.
func copyFixture(_ t: TempDir) throws -> (src: String, dst: String) {
    let src = t.sub("src"), dst = t.sub("dst")
    #expect(try cairn(src, ["init"]).status == 0)
    #expect(try cairn(dst, ["init"]).status == 0)
    #expect(try cairn(src, ["silo", "add", "data", t.sub("data")]).status == 0)
    return (src, dst)
}

@Suite(.serialized) struct CopyTests {
    @Test func copyRestoresBitExactAndRecordsItsOrigin() throws {
        let t = TempDir(); defer { t.remove() }
        var rng = SeededBytes(seed: 131)
        try writeFile(t.sub("data/big.bin"), rng.bytes(1_500_000))          // a content list (indirect)
        try writeFile(t.sub("data/text.txt"), Array(String(repeating: "compressible line\n", count: 4000).utf8))
        try writeFile(t.sub("data/sub/deeper/small"), Array("x".utf8), mode: 0o600)
        try writeFile(t.sub("data/empty"), [])
        try writeFile(t.sub("data/zeros"), [UInt8](repeating: 0, count: 300_000))
        symlink("sub/deeper/small", t.sub("data/link"))
        try writeFile(bytes: FileName(utf8: t.sub("data")).appending(FileName(bytes: [0x6E, 0xFF, 0x0A])), Array("byte name".utf8))
        let (src, dst) = try copyFixture(t)
        #expect(try cairn(src, ["snapshot", "--tag", "nightly"]).status == 0)
        let srcId = try #require(parseJSON(try cairn(src, ["show", "latest", "--json"]).stdout)?["id"]?.string)

        let r = try cairn(src, ["copy", "latest", "--to", dst, "--json"], env: ["CAIRN_STATUS_INTERVAL": "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let sum = try copySummary(r)
        #expect(sum["copied"] as? Int == 1 && sum["alreadyPresent"] as? Int == 0, "\(sum)")
        #expect((sum["blocksSent"] as? Int ?? 0) > 0 && (sum["bytesSent"] as? Int ?? 0) >= 1_500_000, "\(sum)")

        // The copy is a normal snapshot: same trees, origin recorded, restores bit-exact, checks clean.
        let shown = try #require(parseJSON(try cairn(dst, ["show", "latest", "--json"]).stdout))
        #expect(shown["copied"]?["snapshot"]?.string == srcId)
        #expect(shown["copied"]?["repository"]?.string == repositoryId(src))
        #expect(shown["tags"] == .array([.string("nightly")]))
        #expect(try siloTrees(dst) == siloTrees(src))
        #expect(try cairn(dst, ["restore", "latest", "--to", t.sub("out")]).status == 0)
        #expect(try byteTreeDigest(FileName(utf8: t.sub("out/data"))) == byteTreeDigest(FileName(utf8: t.sub("data"))))
        let check = try cairn(dst, ["check", "--read-data"])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")

        // Again: found by its origin, nothing sent, no second record.
        let again = try copySummary(try cairn(src, ["copy", "latest", "--to", dst, "--json"]))
        #expect(again["copied"] as? Int == 0 && again["alreadyPresent"] as? Int == 1 && again["blocksSent"] as? Int == 0, "\(again)")
        #expect(try snapshotCount(dst) == 1)
    }

    @Test func aSecondCopySendsOnlyTheChangedBlocks() throws {
        let t = TempDir(); defer { t.remove() }
        var rng = SeededBytes(seed: 132)
        for i in 0..<8 { try writeFile(t.sub("data/f\(i).bin"), rng.bytes(200_000)) }
        let (src, dst) = try copyFixture(t)
        #expect(try cairn(src, ["snapshot"]).status == 0)
        #expect(try cairn(src, ["copy", "latest", "--to", dst]).status == 0)
        // Change 5 000 bytes in the middle of one file: a few blocks of 1.6 MB are new.
        var f = try FS.readAll(t.sub("data/f3.bin"))
        for i in 100_000..<105_000 { f[i] ^= 0x5A }
        try writeFile(t.sub("data/f3.bin"), f)
        #expect(try cairn(src, ["snapshot"]).status == 0)
        let r = try cairn(dst, ["copy", "latest", "--from", src, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let sum = try copySummary(r)
        let sent = sum["bytesSent"] as? Int ?? -1, skipped = sum["bytesSkipped"] as? Int ?? -1
        // The changed data blocks (at most 2 x 64 KiB around the change) plus two trees and one list.
        #expect(sent > 5_000 && sent < 200_000, "\(sum)")
        #expect(skipped >= 1_400_000, "\(sum)")
        #expect(try snapshotCount(dst) == 2)
        let latest = try #require(parseJSON(try cairn(dst, ["show", "latest", "--json"]).stdout))
        let list = try JSONSerialization.jsonObject(with: Data(try cairn(dst, ["list", "--json"]).stdoutBytes)) as? [[String: Any]]
        let first = try #require(list?.first?["id"] as? String)
        #expect(latest["parent"]?.string == first, "the copy's parent is the copy of its source parent")
        #expect(try cairn(dst, ["restore", "latest", "--to", t.sub("out")]).status == 0)
        #expect(try fileSHA(t.sub("out/data/f3.bin")) == fileSHA(t.sub("data/f3.bin")))
    }

    @Test func aDamagedSourceBlockIsRefusedAndNothingIsRecorded() throws {
        let t = TempDir(); defer { t.remove() }
        var rng = SeededBytes(seed: 133)
        try writeFile(t.sub("data/a.bin"), rng.bytes(100_000))
        let (src, dst) = try copyFixture(t)
        #expect(try cairn(src, ["snapshot"]).status == 0)
        let pack = try #require(try packFiles(src).sorted().first)
        // Incompressible data is stored raw right after the pack header: flip one byte of the first block.
        #expect(try sh("chmod u+w '\(pack)' && printf 'Z' | dd of='\(pack)' bs=1 seek=1000 conv=notrunc 2>/dev/null").status == 0)
        let r = try cairn(src, ["copy", "latest", "--to", dst])
        #expect(r.status == 15, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("damaged") && lines[0].contains(pack) && lines[0].contains("source repository"), "\(r.stderr)")
        #expect(try snapshotCount(dst) == 0)
        #expect(try cairn(dst, ["check"]).status == 0)
    }

    @Test func aMissingTargetIsRefusedAndNotCreated() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("data/a"), Array("a".utf8))
        let (src, _) = try copyFixture(t)
        #expect(try cairn(src, ["snapshot"]).status == 0)
        let r = try cairn(src, ["copy", "latest", "--to", t.sub("nowhere"), "--json"])
        #expect(r.status == 10, "\(r.stderr)")
        #expect(parseJSON(r.stdout)?["code"]?.string == "repository-not-found", "\(r.stdout)")
        #expect(!FS.exists(t.sub("nowhere")))
        let same = try cairn(src, ["copy", "latest", "--to", src])
        #expect(same.status == 18 && same.stderr.contains("same repository"), "\(same.stderr)")
        #expect(try cairn(src, ["copy", "latest"]).status == 64)
        #expect(try cairn(src, ["copy", "latest", "--to", t.sub("dst"), "--from", t.sub("dst")]).status == 64)
        #expect(try cairn(src, ["copy", "nosuch", "--to", t.sub("dst")]).status == 18)
    }

    @Test func filtersChooseTheSnapshots() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("data/a"), Array("a".utf8))
        try writeFile(t.sub("other/b"), Array("b".utf8))
        let (src, dst) = try copyFixture(t)
        #expect(try cairn(src, ["silo", "add", "other", t.sub("other")]).status == 0)
        #expect(try cairn(src, ["snapshot", "--silo", "data", "--tag", "keep"]).status == 0)
        #expect(try cairn(src, ["snapshot", "--silo", "other"]).status == 0)
        #expect(try cairn(src, ["snapshot", "--silo", "data"]).status == 0)
        let bySilo = try copySummary(try cairn(src, ["copy", "--silo", "other", "--to", dst, "--json"]))
        #expect(bySilo["copied"] as? Int == 1, "\(bySilo)")
        let byTag = try copySummary(try cairn(src, ["copy", "latest", "--tag", "keep", "--to", dst, "--json"]))
        #expect(byTag["copied"] as? Int == 1, "\(byTag)")
        let all = try copySummary(try cairn(src, ["copy", "--to", dst, "--json"]))
        #expect(all["copied"] as? Int == 1 && all["alreadyPresent"] as? Int == 2, "\(all)")
        #expect(try snapshotCount(dst) == 3)
        #expect(try cairn(src, ["copy", "--tag", "none", "--to", dst]).status == 13)
    }

    /// A format-1 repository (CTR1 trees) copies into a format-2 one block for block: same
    /// trees, restores as the source does, the target checks clean. The source stays format 1.
    @Test func aFormatOneSourceCopiesAsItIs() throws {
        let t = TempDir(); defer { t.remove() }
        let src = t.sub("f1"), dst = t.sub("dst")
        #expect(try sh("cp -R '\(FormatMigrationTests.fixture)/repo' '\(src)' && mkdir -p '\(src)/locks' '\(src)/tmp' '\(src)/packs/tmp'").status == 0)
        #expect(try cairn(dst, ["init"]).status == 0)
        let r = try cairn(src, ["copy", "--to", dst, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try copySummary(r)["copied"] as? Int == 2)
        #expect(try siloTrees(dst, "latest:two") == siloTrees(src, "latest:two"))
        #expect(try siloTrees(dst, "latest:one") == siloTrees(src, "latest:one"))
        for tag in ["one", "two"] {
            #expect(try cairn(src, ["restore", "latest:\(tag)", "--to", t.sub("a-\(tag)")]).status == 0)
            #expect(try cairn(dst, ["restore", "latest:\(tag)", "--to", t.sub("b-\(tag)")]).status == 0)
            #expect(try byteTreeDigest(FileName(utf8: t.sub("b-\(tag)/docs"))) == byteTreeDigest(FileName(utf8: t.sub("a-\(tag)/docs"))))
        }
        #expect(try cairn(dst, ["check", "--read-data"]).status == 0)
        let config = try JSONSerialization.jsonObject(with: Data(try FS.readAll(src + "/config.json"))) as? [String: Any]
        #expect(config?["version"] as? Int == 1, "the source is only read")
    }

    /// kill -9 at random moments of copies: the target always checks clean, holds only whole
    /// copies (each restores its file), and the next copy completes the rest.
    @Test func killNineDuringCopies() throws {
        let t = TempDir(); defer { t.remove() }
        var rng = SeededBytes(seed: 134)
        try FS.mkdirs(t.sub("data"))
        let (src, dst) = try copyFixture(t)
        for i in 0..<10 {
            try writeFile(t.sub("data/r\(i).bin"), rng.bytes(3 << 20))
            #expect(try cairn(src, ["snapshot"]).status == 0)
        }
        var interrupted = 0, progressed = 0
        for round in 0..<10 {
            let before = try snapshotCount(dst)
            let p = try Child.spawn(cairnBinary(), ["copy", "--to", dst, "--repo", src])
            usleep(UInt32(round % 2 == 0 ? rng.int(200_000) : rng.int(1_500_000)))
            p.kill()
            if p.wait() != 0 { interrupted += 1 }
            let after = try snapshotCount(dst)
            #expect(after >= before)
            if after > before { progressed += 1 }
            let chk = try cairn(dst, ["check", "--read-data"])
            #expect(chk.status == 0, "round \(round): \(chk.stdout) \(chk.stderr)")
            if after > 0 {
                // The newest copy is complete: its newest file reads back whole.
                #expect(try cairn(dst, ["cat", "latest", "data/r\(after - 1).bin"]).stdoutBytes.count == 3 << 20, "round \(round)")
            }
        }
        let left = 10 - (try snapshotCount(dst))
        let final = try copySummary(try cairn(src, ["copy", "--to", dst, "--json"]))
        #expect(final["copied"] as? Int == left && final["alreadyPresent"] as? Int == 10 - left, "\(final)")
        #expect(try snapshotCount(dst) == 10)
        #expect(try cairn(dst, ["check", "--read-data"]).status == 0)
        #expect(interrupted >= 2, "only \(interrupted) of 10 copies were interrupted")
        print("FIGURE copy kill -9 loop: \(interrupted) of 10 copies interrupted, \(progressed) rounds recorded new copies, target checked clean after each")
    }
}
