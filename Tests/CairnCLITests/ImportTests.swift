// `cairn import` through the built binary: a Cairn export comes back with the same tree ids
// (from a file and from a pipe), a `zip -r` archive becomes silos, and a generated corpus of
// hostile archives is refused entry by entry with the repository left as it was.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Rewrites a Cairn export with Python's zipfile to forge a damaged or altered copy.
let forgeScript = """
import json, sys, zipfile
src, dst, how = sys.argv[1], sys.argv[2], sys.argv[3]
zin = zipfile.ZipFile(src)
zout = zipfile.ZipFile(dst, "w")
done = False
for info in zin.infolist():
    data = zin.read(info)
    name = info.filename
    if name == "cairn-snapshot.json":
        m = json.loads(data)
        if how == "version": m["formatVersion"] = 99
        if how == "format": m["format"] = "something-else"
        if how == "silo-twice": m["silos"].append(m["silos"][0])
        if how == "dup-manifest-entry": m["entries"].append(m["entries"][-1])
        if how == "bad-sha": m["entries"][-1]["sha256"] = "xyz"
        if how == "escape": m["entries"].append(dict(m["entries"][-1], path="outside.txt"))
        data = json.dumps(m).encode()
        if how == "garbage": data = b"{ not json"
    elif not done and how == "alter" and not name.endswith("/") and (info.external_attr >> 16) & 0o170000 == 0o100000 and len(data) > 0:
        data = bytes([data[0] ^ 1]) + data[1:]; done = True
    elif not done and how == "drop" and not name.endswith("/") and (info.external_attr >> 16) & 0o170000 == 0o100000 and name.startswith("data/"):
        done = True; continue
    elif not done and how == "relink" and (info.external_attr >> 16) & 0o170000 == 0o120000:
        data = b"elsewhere"; done = True
    elif not done and how == "no-silo-folder" and name == "data/":
        done = True; continue
    elif not done and how == "retype" and (info.external_attr >> 16) & 0o170000 == 0o120000:
        info.external_attr = 0o100644 << 16; done = True
    zout.writestr(info, data)
if how == "extra":
    i = zipfile.ZipInfo("data/smuggled.txt"); i.external_attr = 0o100644 << 16
    zout.writestr(i, b"not in the manifest")
zout.close()
"""

func snapshotCount(_ repo: String) throws -> Int {
    let r = try cairn(repo, ["list", "--json"])
    return (try JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [Any])?.count ?? -1
}

func siloTrees(_ repo: String, _ ref: String = "latest") throws -> [String: String] {
    let r = try cairn(repo, ["show", ref, "--json"])
    let o = try JSONSerialization.jsonObject(with: Data(r.stdoutBytes)) as? [String: Any]
    let rec = (o?["record"] as? [String: Any]) ?? o ?? [:]
    var out: [String: String] = [:]
    for s in (rec["silos"] as? [[String: Any]]) ?? [] { out[s["name"] as? String ?? ""] = s["tree"] as? String }
    return out
}

/// Files of a repository that an import must not change when it fails.
func repositoryFiles(_ repo: String) throws -> [String] {
    try sh("cd '\(repo)' && find packs snapshots tmp -type f | sort").stdout.split(separator: "\n").map(String.init)
}

@Suite(.serialized) struct ImportTests {
    @Test func cairnExportRoundTripsToTheSameTreeIds() throws {
        let t = TempDir("cairn-import"); defer { t.remove() }
        try makeTortureTree(at: t.sub("src"), files: 500, seed: 21)
        // 64 MiB of zeros: deflate level 9 squeezes it past 1000:1, the foreign-archive bomb limit.
        let z = try PosixFile.open(t.sub("src/zeros.img"), O_WRONLY | O_CREAT | O_TRUNC)
        _ = ftruncate(z.fd, 64 << 20)
        z.close()
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "data", t.sub("src")]).status == 0)
        try writeFile(t.sub("one/config.ini"), Array("[x]\ny=1\n".utf8), mode: 0o600)
        #expect(try cairn(repo, ["silo", "add", "cfg", t.sub("one/config.ini")]).status == 0)
        #expect(try cairn(repo, ["snapshot", "--tag", "weekly", "--message", "before upgrade"]).status == 0)
        let zip = t.sub("export.zip")
        #expect(try cairn(repo, ["export", "latest", "--level", "9", "--output", zip]).status == 0)
        let zeros = try lenientZipReader(zip).entries.first { $0.path == "data/zeros.img" }
        #expect(zeros.map { $0.method == 8 && $0.size / $0.compressedSize > 1000 } == true, "the zeros entry exceeds 1000:1")

        let repo2 = t.sub("repo2")
        #expect(try cairn(repo2, ["init"]).status == 0)
        let imp = try cairn(repo2, ["import", zip])
        #expect(imp.status == 0, "\(imp.stderr)")
        #expect(imp.stdout.contains("every SHA-256 verified"))
        #expect(try siloTrees(repo2) == siloTrees(repo))
        let show = try cairn(repo2, ["show", "latest"]).stdout
        #expect(show.contains("weekly") && show.contains("before upgrade"))
        #expect(try cairn(repo, ["show", "latest"]).stdout.contains(show.split(separator: "\n")[1]), "same time")
        let check = try cairn(repo2, ["check", "--read-data"])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(try cairn(repo2, ["cat", "latest", "cfg/config.ini"]).stdout == "[x]\ny=1\n")
        // Importing the same export again is refused; nothing is added.
        let again = try cairn(repo2, ["import", zip])
        #expect(again.status == 20 && again.stderr.contains("already holds this export"))
        #expect(try snapshotCount(repo2) == 1)

        // From a pipe, into a third repository, with an extra tag and a renamed silo.
        let repo3 = t.sub("repo3")
        #expect(try cairn(repo3, ["init"]).status == 0)
        let piped = try sh("cat '\(zip)' | '\(cairnBinary())' import - --tag moved --as-silo data=files --repo '\(repo3)'")
        #expect(piped.status == 0, "\(piped.stderr)")
        let trees3 = try siloTrees(repo3)
        #expect(trees3["files"] == (try siloTrees(repo))["data"] && trees3["cfg"] != nil)
        #expect(try cairn(repo3, ["list", "--tag", "moved"]).stdout.contains("weekly"))
        #expect(try FS.list(repo3 + "/tmp").isEmpty && FS.list(repo2 + "/tmp").isEmpty, "spool files are removed")
        #expect(try cairn(repo3, ["check", "--read-data"]).status == 0)
        // `inspect` shows the snapshot and its silos without extracting.
        let ins = try run(cairnBinary(), ["inspect", zip])
        #expect(ins.status == 0 && ins.stdout.contains("Cairn export of snapshot") && ins.stdout.contains("silo cfg: 1 files"))
    }

    @Test func foreignZipBecomesSilos() throws {
        let t = TempDir("cairn-import"); defer { t.remove() }
        var rng = SeededBytes(seed: 31)
        let big = rng.bytes(300_000)
        try writeFile(t.sub("src/alpha/notes.txt"), Array("alpha notes\n".utf8))
        try writeFile(t.sub("src/alpha/sub/big.bin"), big, mode: 0o600)
        try writeFile(t.sub("src/alpha/sub/log.txt"), Array(String(repeating: "line\n", count: 20_000).utf8))
        try FS.mkdirs(t.sub("src/alpha/empty"))
        symlink("sub/big.bin", t.sub("src/alpha/link"))
        try writeFile(t.sub("src/beta/b.txt"), Array("beta\n".utf8), mode: 0o755)
        #expect(try sh("cd '\(t.sub("src"))' && zip -qry ../app.zip alpha beta").status == 0)
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        let imp = try cairn(repo, ["import", t.sub("app.zip"), "--tag", "legacy"])
        #expect(imp.status == 0, "\(imp.stderr)")
        #expect(Set(try siloTrees(repo).keys) == ["alpha", "beta"])
        #expect(try cairn(repo, ["cat", "latest", "alpha/sub/big.bin"]).stdoutBytes == big)
        #expect(try cairn(repo, ["cat", "latest", "beta/b.txt"]).stdout == "beta\n")
        let ls = try cairn(repo, ["ls", "latest", "alpha", "-r", "--json"])
        let rows = (try JSONSerialization.jsonObject(with: Data(ls.stdoutBytes)) as? [[String: Any]]) ?? []
        let byPath = Dictionary(uniqueKeysWithValues: rows.map { (($0["silo"] as? String ?? "") + "/" + ($0["path"] as? String ?? ""), $0) })
        #expect(byPath["alpha/link"]?["target"] as? String == "sub/big.bin")
        #expect(byPath["alpha/empty"]?["type"] as? String == "dir")
        #expect((byPath["alpha/sub/big.bin"]?["mode"] as? Int).map { $0 & 0o777 } == 0o600, "\(byPath["alpha/sub/big.bin"] ?? [:])")
        #expect(try cairn(repo, ["list", "--tag", "legacy"]).status == 0)
        #expect(try cairn(repo, ["check", "--read-data"]).status == 0)
        // The whole archive as one silo, and a renamed folder.
        let whole = try cairn(repo, ["import", t.sub("app.zip"), "--as-silo", "old-app"])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(try cairn(repo, ["cat", "latest", "old-app/alpha/notes.txt"]).stdout == "alpha notes\n")
        let renamed = try cairn(repo, ["import", t.sub("app.zip"), "--as-silo", "alpha=gamma"])
        let renamedTrees = try siloTrees(repo)
        #expect(renamed.status == 0 && Set(renamedTrees.keys) == ["gamma", "beta"])
        #expect(try siloTrees(repo)["gamma"] == (try siloTrees(repo, String(try cairn(repo, ["list", "--tag", "legacy"]).stdout.prefix(12))))["alpha"])
        // `inspect` of a foreign archive lists its top-level folders.
        let ins = try run(cairnBinary(), ["inspect", t.sub("app.zip")])
        #expect(ins.stdout.contains("not a Cairn export") && ins.stdout.contains("alpha: 3 files"), "\(ins.stdout)")
    }

    @Test func hostileArchivesAreRefusedAndTheRepositoryIsUnchanged() throws {
        let t = TempDir("cairn-import-hostile"); defer { t.remove() }
        typealias E = ZipRaw.Entry
        let text = Array(String(repeating: "some text that deflates well; ", count: 400).utf8)
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        let good = ZipRaw([E("s/", mode: 0o040755), E("s/a.txt", "hello"), .deflated("s/b.txt", text)])
        func with(_ i: Int, _ f: (inout E) -> Void) -> ZipRaw {
            var z = good
            f(&z.entries[i])
            return z
        }
        // A genuine Cairn export to forge from.
        try writeFile(t.sub("src/a.txt"), Array("alpha\n".utf8))
        var rng = SeededBytes(seed: 2)
        try writeFile(t.sub("src/sub/b.bin"), rng.bytes(5000))
        symlink("a.txt", t.sub("src/link"))
        let repo = try exportFixture(t, source: t.sub("src"))
        let genuine = t.sub("genuine.zip")
        #expect(try cairn(repo, ["export", "latest", "--output", genuine, "--compression", "store"]).status == 0)
        func forged(_ how: String) throws -> [UInt8] {
            let out = t.sub("forged-\(how).zip")
            let r = try zipTool("python3", ["-c", forgeScript, genuine, out, how])
            #expect(r.status == 0, "forge \(how): \(r.stderr)")
            return try FS.readAll(out)
        }
        var deep = "s"
        for _ in 0..<1001 { deep += "/d" }

        let cases: [(String, [UInt8], [String], Int32)] = [
            ("has an absolute path", ZipRaw([E("/etc/passwd", "x")]).build(), [], 18),
            ("has a \"..\" component", ZipRaw([E("s/../../evil", "x")]).build(), [], 18),
            ("has a backslash", ZipRaw([E("s\\..\\evil", "x")]).build(), [], 18),
            ("NUL byte in its name", ZipRaw([E("s/a\u{0}b", "x")]).build(), [], 18),
            ("appears twice", ZipRaw([E("s/a", "1"), E("s/a", "2")]).build(), [], 18),
            ("has a \".\" component", ZipRaw([E("s/./a", "x")]).build(), [], 18),
            ("empty path component", ZipRaw([E("s//a", "x")]).build(), [], 18),
            ("points outside its top-level folder", ZipRaw([.link("s/l", "../../etc")]).build(), [], 18),
            ("is a symlink to the absolute path", ZipRaw([.link("s/l", "/etc/passwd")]).build(), [], 18),
            ("through other symlinks", ZipRaw([.link("s/y", "."), .link("s/a", "y/../x")]).build(), [], 18),
            ("in a loop", ZipRaw([.link("s/a", "b"), .link("s/b", "a")]).build(), [], 18),
            ("which is a symlink", ZipRaw([.link("s/l", "sub"), E("s/l/f", "x")]).build(), [], 18),
            ("which is a file", ZipRaw([E("s/f", "x"), E("s/f/g", "y")]).build(), [], 18),
            ("is a special file", ZipRaw([E("s/dev", "", mode: 0o020644)]).build(), [], 18),
            ("is encrypted; decrypt", with(1) { $0.flags |= 1 }.build(), [], 18),
            ("compression method 12", with(1) { $0.method = 12 }.build(), [], 18),
            ("declares a compression ratio", with(2) { $0.usize = 100 << 20 }.build(), [], 18),
            ("while inflating", ZipRaw([{ var e = E.deflated("s/bomb", zeros); e.data = ZipRaw.deflate(zeros) + [UInt8](repeating: 7, count: 7000); return e }()]).build(), [], 18),
            ("inflates to more than its declared", with(2) { $0.usize = 5000 }.build(), [], 18),
            ("holds 12000 bytes but declares 20000", with(2) { $0.usize = 20000 }.build(), [], 18),
            ("fails its CRC-32 check", with(1) { $0.crc = 0xDEAD_BEEF }.build(), [], 18),
            ("is cut off after", with(2) { $0.data = Array(ZipRaw.deflate(text, level: 0).dropLast(100)) }.build(), [], 18),
            ("no end of central directory record found;", Array(good.build().prefix(60)), [], 18),
            ("comment length does not match", good.build() + [1, 2, 3], [], 18),
            ("ZIP64 end of central directory record is missing", ZipRaw(good.entries, zip64: true) { b, l in putLE(&b, l.zip64End!, 0, 4) }.build(), [], 18),
            ("disagrees with the classic end record", ZipRaw(good.entries, zip64: true) { b, l in putLE(&b, l.end + 12, 77, 4) }.build(), [], 18),
            ("has no ZIP64 extra field", with(2) { $0.cdCsize32 = 0xFFFF_FFFF }.build(), [], 18),
            ("has a local header that names it", with(1) { $0.localName = Array("s/A.txt".utf8) }.build(), [], 18),
            ("overlaps entry", ZipRaw([E("s/a", "aaaa"), { var e = E("s/b", "aaaa"); e.offset = 0; return e }()]).build(), [], 18),
            ("than --max-size 100", good.build(), ["--max-size", "100"], 18),
            ("past the size limit of 2000", ZipRaw([.deflated("s/a", [UInt8](repeating: 97, count: 1500)), .deflated("s/b", [UInt8](repeating: 98, count: 1500))]).build(), ["--max-size", "2000"], 18),
            ("lies at the top level of the archive", ZipRaw([E("loose.txt", "x")]).build(), [], 18),
            ("not a valid silo name", ZipRaw([E("bad name!/f", "x")]).build(), [], 18),
            ("folders deep, more than the limit", ZipRaw([E(deep, "x")]).build(), [], 18),
            ("has SHA-256", try forged("alter"), [], 18),
            ("is not listed in cairn-snapshot.json", try forged("extra"), [], 18),
            ("which the archive lacks", try forged("drop"), [], 18),
            ("does not match cairn-snapshot.json", try forged("relink"), [], 18),
            ("has no folder", try forged("no-silo-folder"), [], 18),
            ("which lists a symlink", try forged("retype"), [], 18),
            ("is not a valid Cairn manifest", try forged("garbage"), [], 18),
            ("has format \"something-else\"", try forged("format"), [], 18),
            ("of manifest version 99", try forged("version"), [], 11),
            ("lists silo 'data' twice", try forged("silo-twice"), [], 18),
            ("is listed twice in cairn-snapshot.json", try forged("dup-manifest-entry"), [], 18),
            ("has no valid SHA-256", try forged("bad-sha"), [], 18),
            ("outside the silos it declares", try forged("escape"), [], 18),
        ]
        #expect(cases.count >= 30)
        #expect(Set(cases.map(\.0)).count == cases.count, "each case has its own message")
        // The baseline of the generated cases and the genuine export both import.
        let target = t.sub("target")
        #expect(try cairn(target, ["init"]).status == 0)
        try writeFile(t.sub("good.zip"), good.build())
        #expect(try cairn(target, ["import", t.sub("good.zip")]).status == 0)
        let check = t.sub("check")
        #expect(try cairn(check, ["init"]).status == 0)
        #expect(try cairn(check, ["import", genuine]).status == 0)
        let snapshotsBefore = try snapshotCount(target)
        let filesBefore = try repositoryFiles(target)
        let outside = try sh("ls -a '\(t.path)' | sort").stdout
        for (i, (expected, bytes, args, code)) in cases.enumerated() {
            let path = t.sub("hostile-\(i).zip")
            try writeFile(path, bytes)
            // Every fifth archive arrives through a pipe, to cover the spool.
            let r = i % 5 == 4
                ? try sh("cat '\(path)' | '\(cairnBinary())' import - --repo '\(target)' " + args.map { "'\($0)'" }.joined(separator: " "))
                : try cairn(target, ["import", path] + args)
            #expect(r.status == code, "case \(i) (\(expected)): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(expected), "case \(i): expected \(expected) in: \(r.stderr)")
            #expect(r.stderr.hasPrefix("cairn: error: ") && r.stderr.split(separator: "\n").count == 1, "case \(i): \(r.stderr)")
            unlink(path)
        }
        #expect(try snapshotCount(target) == snapshotsBefore)
        #expect(try repositoryFiles(target) == filesBefore, "no packs, snapshots or temporary files were added")
        #expect(try sh("ls -a '\(t.path)' | sort").stdout == outside, "nothing was written outside the repository")
        #expect(!FS.exists("/etc/evil") && !FS.exists(t.sub("evil")))
    }
}
