// ZipReader: round trips of ZipWriter output, archives made by other tools (Info-ZIP, Python,
// bsdtar, 7z), ZIP64 end records, legacy names, and a corpus of hand-crafted hostile archives,
// each rejected with its own message.

import CairnCore
import CairnTestSupport
import CZlib
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Opens the archive and drains every entry.
private func readEverything(_ path: String, limits: ZipLimits = .default) throws -> [String: [UInt8]] {
    let r = try ZipReader(path: path, limits: limits)
    var out: [String: [UInt8]] = [:]
    for e in r.entries { out[e.name] = try r.contents(e) }
    return out
}

@Suite(.serialized) struct ZipReaderTests {
    @Test(arguments: [true, false]) func roundTripsWriterOutput(giveSizes: Bool) throws {
        let t = TempDir("cairn-zipr")
        defer { t.remove() }
        let items = ZipTestKit.mixedItems()
        let archive = t.sub("rt.zip")
        _ = try ZipTestKit.writeFile(items, path: archive, giveSizes: giveSizes)
        let r = try ZipReader(path: archive)
        #expect(r.entries.count == items.count)
        for (e, it) in zip(r.entries, items) {
            #expect(e.name == (it.kind == .directory && !it.name.hasSuffix("/") ? it.name + "/" : it.name))
            #expect(e.kind == it.kind && e.mode == it.mode, "\(e.name)")
            #expect(e.mtime == it.mtimeNs / 1_000_000_000)
            #expect(e.method == (it.method == .store ? 0 : 8))
            if it.kind == .symlink { #expect(e.symlinkTarget == it.target) }
            if it.kind == .file { #expect(try r.contents(e) == it.content, "\(e.name)") }
        }
    }

    @Test func readsArchivesFromOtherTools() throws {
        let t = TempDir("cairn-zipr")
        defer { t.remove() }
        var rng = SeededBytes(seed: 9)
        let files: [String: [UInt8]] = [
            "silo/a.txt": Array("alpha\n".utf8),
            "silo/sub/b.bin": rng.bytes(70_000),
            "silo/sub/c.log": Array(String(repeating: "compress me ", count: 10_000).utf8),
            "silo/ünï.txt": Array("unicode\n".utf8),
            "silo/empty": [],
        ]
        for (k, v) in files { try writeFile(t.sub("src/" + k), v) }
        symlink("sub/b.bin", t.sub("src/silo/link"))
        let makers: [(String, String)] = [
            ("zip", "cd src && zip -qry ../out.zip silo"),
            ("python", "cd src && python3 -c 'import zipfile,os\nz=zipfile.ZipFile(\"../out.zip\",\"w\",zipfile.ZIP_DEFLATED)\nfor d,_,fs in os.walk(\"silo\"):\n  for f in sorted(fs):\n    p=os.path.join(d,f)\n    if not os.path.islink(p): z.write(p)\nz.close()'"),
            ("python-zip64", "cd src && python3 -c 'import zipfile,os\nz=zipfile.ZipFile(\"../out.zip\",\"w\",zipfile.ZIP_STORED)\nfor d,_,fs in os.walk(\"silo\"):\n  for f in sorted(fs):\n    p=os.path.join(d,f)\n    if not os.path.islink(p):\n      with open(p,\"rb\") as i, z.open(p,\"w\",force_zip64=True) as o: o.write(i.read())\nz.close()'"),
            ("bsdtar", "cd src && bsdtar --format zip -cf ../out.zip silo"),
            ("7z", "cd src && 7z a -tzip -snl ../out.zip silo >/dev/null"),
        ]
        for (tool, script) in makers {
            try? FS.removeTree(t.sub("out.zip"))
            let made = try sh("cd \(t.path) && " + script)
            #expect(made.status == 0, "\(tool): \(made.stderr)")
            let r = try ZipReader(path: t.sub("out.zip"))
            var got: [String: [UInt8]] = [:]
            for e in r.entries where e.kind == .file { got[e.path] = try r.contents(e) }
            #expect(got == files, "\(tool): \(got.keys.sorted())")
            if let link = r.entries.first(where: { $0.path == "silo/link" }) {
                #expect(link.kind == .symlink && link.symlinkTarget == "sub/b.bin", "\(tool)")
            } else {
                #expect(tool.hasPrefix("python"), "\(tool) should have stored the symlink")
            }
        }
    }

    @Test func readsZip64EndRecordsLegacyNamesAndDosTimes() throws {
        let t = TempDir("cairn-zipr")
        defer { t.remove() }
        let zip = t.sub("many.zip")
        let w = ZipWriter(sink: try FileSink(path: zip))
        for i in 0..<66_000 { try w.addDirectory(name: "silo/d\(i)", mtimeNs: 0) }
        try w.finish()
        let r = try ZipReader(path: zip)
        #expect(r.entries.count == 66_000 && r.entries.last?.name == "silo/d65999/")

        // An empty archive is just an end record.
        let empty = ZipWriter(sink: try FileSink(path: t.sub("empty.zip")))
        #expect(try empty.finish() == 22)
        #expect(try ZipReader(path: t.sub("empty.zip")).entries.isEmpty)

        // ZIP64 end records written by hand, a CP437 name without the UTF-8 flag, DOS time only.
        var legacy = ZipRaw.Entry("silo/x", "cp437")
        legacy.name = Array("silo/".utf8) + [0x81, 0x94]
        legacy.flags = 0
        legacy.madeBy = 0  // MS-DOS host: no Unix mode
        let bytes = ZipRaw([ZipRaw.Entry("silo/", mode: 0o040755), legacy], zip64: true).build()
        try writeFile(t.sub("raw.zip"), bytes)
        #expect(try ZipTestKit.tool("unzip", ["-tqq", t.sub("raw.zip")]).status == 0)
        let raw = try ZipReader(path: t.sub("raw.zip"))
        #expect(raw.entries.map(\.path) == ["silo", "silo/üö"])
        #expect(raw.entries[1].mode == 0o644 && raw.entries[1].kind == .file)
        var tm = Glibc.tm()
        tm.tm_year = 80; tm.tm_mon = 0; tm.tm_mday = 1; tm.tm_isdst = -1
        #expect(raw.entries[1].mtime == Int64(mktime(&tm)))
        #expect(try raw.contents(raw.entries[1]) == Array("cp437".utf8))

        // Names are bytes: with the UTF-8 flag, invalid UTF-8 is kept byte for byte (shown escaped).
        var odd = ZipRaw.Entry("x", "odd")
        odd.name = Array("silo/".utf8) + [0xFF, 0xFE, 0x1B]
        try writeFile(t.sub("bytes.zip"), ZipRaw([odd]).build())
        let b = try ZipReader(path: t.sub("bytes.zip"))
        #expect(b.entries[0].nameBytes == odd.name && b.entries[0].pathName.bytes == odd.name)
        #expect(b.entries[0].name == "silo/\\xff\\xfe\\x1b")

        // The symlink policy can allow targets outside the silo.
        try writeFile(t.sub("abs.zip"), ZipRaw([.link("silo/l", "/etc/hostname")]).build())
        #expect(throws: CairnError.self) { try ZipReader(path: t.sub("abs.zip")) }
        #expect(try ZipReader(path: t.sub("abs.zip"), limits: ZipLimits(symlinks: .allowAnyTarget)).entries[0].symlinkTarget == "/etc/hostname")
    }

    @Test func hostileArchivesAreRejectedWithDistinctMessages() throws {
        let t = TempDir("cairn-zipr")
        defer { t.remove() }
        typealias E = ZipRaw.Entry
        let text = Array(String(repeating: "some text that deflates well; ", count: 400).utf8)
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        let good = ZipRaw([E("s/", mode: 0o040755), E("s/a.txt", "hello"), .deflated("s/b.txt", text)])
        func with(_ i: Int, _ f: (inout E) -> Void) -> ZipRaw {
            var z = good
            f(&z.entries[i])
            return z
        }
        var strict = ZipLimits.default
        strict.maxRatio = 500
        var oneEntry = ZipLimits.default
        oneEntry.maxEntries = 1
        let small = ZipLimits(maxTotalSize: 1_000_000)

        let cases: [(String, [UInt8], ZipLimits)] = [
            ("has an absolute path", ZipRaw([E("/etc/passwd", "x")]).build(), .default),
            ("has a \"..\" component", ZipRaw([E("s/../../evil", "x")]).build(), .default),
            ("has a backslash", ZipRaw([E("s\\..\\evil", "x")]).build(), .default),
            ("NUL byte in its name", ZipRaw([E("s/a\u{0}b", "x")]).build(), .default),
            ("appears twice", ZipRaw([E("s/a", "1"), E("s/a", "2")]).build(), .default),
            ("has an empty name", ZipRaw([E("", "x")]).build(), .default),
            ("has a \".\" component", ZipRaw([E("s/./a", "x")]).build(), .default),
            ("empty path component", ZipRaw([E("s//a", "x")]).build(), .default),
            ("points outside its top-level folder", ZipRaw([.link("s/l", "../../etc")]).build(), .default),
            ("is a symlink to the absolute path", ZipRaw([.link("s/l", "/etc/passwd")]).build(), .default),
            ("through other symlinks", ZipRaw([.link("s/y", "."), .link("s/a", "y/../x")]).build(), .default),
            ("in a loop", ZipRaw([.link("s/a", "b"), .link("s/b", "a")]).build(), .default),
            ("at the top level", ZipRaw([.link("l", "s")]).build(), .default),
            ("which is a symlink", ZipRaw([.link("s/l", "sub"), E("s/l/f", "x")]).build(), .default),
            ("which is a file", ZipRaw([E("s/f", "x"), E("s/f/g", "y")]).build(), .default),
            ("5000-byte target", ZipRaw([.link("s/l", String(repeating: "a", count: 5000))]).build(), .default),
            ("target contains a NUL byte", ZipRaw([.link("s/l", "a\u{0}b")]).build(), .default),
            ("is a special file", ZipRaw([E("s/dev", "", mode: 0o020644)]).build(), .default),
            ("ends with \"/\" but its attributes", ZipRaw([E("s/d/", "")]).build(), .default),
            ("is a directory but has", ZipRaw([E("s/d/", "xyz", mode: 0o040755)]).build(), .default),
            ("is encrypted; decrypt", with(1) { $0.flags |= 1 }.build(), .default),
            ("is encrypted (local header)", with(1) { $0.localFlags = 0x801 }.build(), .default),
            ("compression method 12", with(1) { $0.method = 12 }.build(), .default),
            ("declares a compression ratio", with(2) { $0.usize = 100 << 20 }.build(), .default),
            ("while inflating", ZipRaw([{ var e = E.deflated("s/bomb", zeros); e.data = ZipRaw.deflate(zeros) + [UInt8](repeating: 7, count: 100_000); return e }()]).build(), strict),
            ("past the size limit", ZipRaw([E("s/a", String(repeating: "a", count: 600_000)), E("s/b", String(repeating: "b", count: 600_000))]).build(), small),
            ("more than the limit of 1", good.build(), oneEntry),
            ("inflates to more than its declared", with(2) { $0.usize = 5000 }.build(), .default),
            ("holds 12000 bytes but declares 20000", with(2) { $0.usize = 20000 }.build(), .default),
            ("its deflate stream ends after", with(2) { $0.data = ZipRaw.deflate(text) + [1, 2, 3] }.build(), .default),
            ("is cut off after", with(2) { $0.data = Array(ZipRaw.deflate(text, level: 0).dropLast(100)) }.build(), .default),
            ("has corrupt deflate data", with(2) { $0.data = [UInt8](repeating: 0xFF, count: 200) }.build(), .default),
            ("fails its CRC-32 check", with(1) { $0.crc = 0xDEAD_BEEF }.build(), .default),
            ("is stored uncompressed but declares", with(1) { $0.usize = 6 }.build(), .default),
            ("no end of central directory record found;", Array(good.build().prefix(60)), .default),
            ("(the file is only 10 bytes)", [UInt8](repeating: 0x50, count: 10), .default),
            ("comment length does not match", good.build() + [1, 2, 3], .default),
            ("lies outside the archive", ZipRaw(good.entries) { b, l in putLE(&b, l.end + 16, 0x7000_0000, 4) }.build(), .default),
            ("unexplained bytes", { var z = good; z.beforeEnd = [0, 0, 0, 0]; return z.build() }(), .default),
            ("claims 500 entries", ZipRaw(good.entries) { b, l in putLE(&b, l.end + 8, 500, 2); putLE(&b, l.end + 10, 500, 2) }.build(), .default),
            ("split or spanned (multi-disk) archives", ZipRaw(good.entries) { b, l in putLE(&b, l.end + 4, 1, 2) }.build(), .default),
            ("ZIP64 end of central directory locator is missing", ZipRaw(good.entries) { b, l in putLE(&b, l.end + 16, 0xFFFF_FFFF, 4) }.build(), .default),
            ("ZIP64 end of central directory record is missing", ZipRaw(good.entries, zip64: true) { b, l in putLE(&b, l.zip64End!, 0, 4) }.build(), .default),
            ("locator points outside", ZipRaw(good.entries, zip64: true) { b, l in putLE(&b, l.locator! + 8, 1 << 40, 8) }.build(), .default),
            ("disagrees with the classic end record", ZipRaw(good.entries, zip64: true) { b, l in putLE(&b, l.end + 12, 77, 4) }.build(), .default),
            ("declares a bad size", ZipRaw(good.entries, zip64: true) { b, l in putLE(&b, l.zip64End! + 4, 5, 8) }.build(), .default),
            ("has no ZIP64 extra field", with(2) { $0.cdCsize32 = 0xFFFF_FFFF }.build(), .default),
            ("too short for the values", with(2) { $0.cdCsize32 = 0xFFFF_FFFF; $0.cdUsize32 = 0xFFFF_FFFF; $0.centralExtra = [1, 0, 8, 0] + [UInt8](repeating: 0, count: 8) }.build(), .default),
            ("malformed extra field", with(1) { $0.centralExtra = [0x55, 0x54, 0x40, 0x00, 1] }.build(), .default),
            ("has a bad signature", ZipRaw(good.entries) { b, l in putLE(&b, l.central[1], 0x1234_5678, 4) }.build(), .default),
            ("central directory is truncated at entry #3", ZipRaw(good.entries) { b, l in putLE(&b, l.central[2] + 28, 900, 2) }.build(), .default),
            ("bytes beyond its 3 entries", { var z = good; z.cdTrailing = [UInt8](repeating: 0, count: 10); return z.build() }(), .default),
            ("has a local header that names it", with(1) { $0.localName = Array("s/A.txt".utf8) }.build(), .default),
            ("has no local header signature", ZipRaw(good.entries) { b, l in putLE(&b, l.local[1], 0, 4) }.build(), .default),
            ("disagree with the central directory", with(1) { $0.localMethod = 8 }.build(), .default),
            ("runs past offset", ZipRaw(good.entries) { b, l in putLE(&b, l.local[1] + 28, 40, 2) }.build(), .default),
            ("overlaps entry", ZipRaw([E("s/a", "aaaa"), { var e = E("s/b", "aaaa"); e.offset = 0; return e }()]).build(), .default),
            ("overlaps the central directory", with(2) { $0.csize = UInt64(ZipRaw.deflate(text).count + 200) }.build(), .default),
        ]
        #expect(cases.count >= 30)
        #expect(Set(cases.map(\.0)).count == cases.count, "each case needs its own message")
        // The unmodified baseline is valid for us and for Info-ZIP.
        try writeFile(t.sub("good.zip"), good.build())
        #expect(try readEverything(t.sub("good.zip"))["s/b.txt"] == text)
        #expect(try ZipTestKit.tool("unzip", ["-tqq", t.sub("good.zip")]).status == 0)
        for (i, (expected, bytes, limits)) in cases.enumerated() {
            let path = t.sub("hostile-\(i).zip")
            try writeFile(path, bytes)
            do {
                _ = try readEverything(path, limits: limits)
                Issue.record("case \(i) (\(expected)) was accepted")
            } catch let e as CairnError {
                #expect(e.code == .invalidInput, "case \(i): \(e)")
                #expect(e.message.contains(expected), "case \(i): expected \(expected) in: \(e.message)")
                #expect(!e.message.contains("\n") && e.message.contains("ZIP "), "case \(i): \(e.message)")
            }
        }
    }

    @Test func randomCorruptionThrowsAndNeverTraps() throws {
        let t = TempDir("cairn-zipr")
        defer { t.remove() }
        let m = MemorySink()
        try ZipTestKit.write(ZipTestKit.mixedItems().filter { $0.content.count < 1000 }, to: ZipWriter(sink: m))
        let pristine = m.bytes
        var rng = SeededBytes(seed: 77)
        var accepted = 0
        for round in 0..<3000 {
            var b = pristine
            if round % 10 == 9 {
                b.removeLast(1 + rng.int(b.count - 1))
            } else {
                for _ in 0...rng.int(3) {
                    // Bias towards header fields: the first 64 bytes and the tail hold most of them.
                    let at = rng.int(3) == 0 ? b.count - 1 - rng.int(min(b.count, 300)) : rng.int(b.count)
                    b[at] = rng.int(4) == 0 ? 0xFF : UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let path = t.sub("fuzz.zip")
            try writeFile(path, b)
            do {
                _ = try readEverything(path)
                accepted += 1
            } catch let e as CairnError {
                #expect(e.code == .invalidInput && !e.message.contains("\n"), "round \(round): \(e)")
            }
        }
        // Some mutations land in harmless places (times, attributes); most must be caught.
        #expect(accepted < 3000 / 2, "accepted \(accepted)")
    }
}
