import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Names are bytes: non-UTF-8 names, NFC/NFD twins, control characters and a symlink target
/// with "/" before a combining mark survive snapshot -> restore (in place and --to) ->
/// export -> import -> restore byte for byte; human output never carries a raw ESC.
@Suite struct ByteNameTests {
    /// The names of the test silo (each a file with distinct content unless noted).
    static let names: [[UInt8]] = [
        [0xFF, 0xFE],                                  // not UTF-8 at all
        Array("caf".utf8) + [0xE9],                    // Latin-1 "café"
        [0xC3, 0xA9],                                  // "é" NFC (U+00E9)
        [0x65, 0xCC, 0x81],                            // "é" NFD ("e" + U+0301)
        Array("new\nline".utf8),
        Array("tab\there".utf8),
        Array("esc\u{1B}[31mred\u{1B}[0m".utf8),      // a terminal escape sequence
        Array("back\\slash".utf8),
    ]

    /// Builds the silo: the names above as files, a non-UTF-8 directory holding an NFD file,
    /// a symlink whose target is "a/" + U+0301 (a "/" followed by a combining mark).
    static func makeSilo(_ root: FileName) throws {
        try makeDirectory(bytes: root)
        for (i, n) in names.enumerated() {
            try writeFile(bytes: root.appending(FileName(bytes: n)), Array("content \(i)\n".utf8) + n)
        }
        let dir = root.appending(FileName(bytes: [0x64, 0x80, 0x81]))  // "d" + two stray continuation bytes
        try makeDirectory(bytes: dir)
        try writeFile(bytes: dir.appending(FileName(bytes: [0x65, 0xCC, 0x81])), Array("inner\n".utf8))
        try makeSymlink(bytes: root.appending("combining-link"), target: FileName(bytes: [0x61, 0x2F, 0xCC, 0x81]))
        try makeSymlink(bytes: root.appending("esc-link"), target: FileName(bytes: Array("x\u{1B}]0;owned\u{07}".utf8)))
    }

    func snapshotId(_ repo: String, _ extra: [String] = []) throws -> String {
        let r = try cairn(repo, ["snapshot", "--json"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        return CairnTestSupport.snapshotId(fromJSON: r) ?? ""
    }

    @Test func byteNamesRoundTripEverywhere() throws {
        let t = TempDir("cairn-bytes"); defer { t.remove() }
        let live = FileName(utf8: t.sub("live"))
        try Self.makeSilo(live)
        // A silo whose symlink target is not UTF-8 (a ZIP reader refuses those, so it is not exported).
        let raw = FileName(utf8: t.sub("raw"))
        try makeDirectory(bytes: raw)
        try makeSymlink(bytes: raw.appending(FileName(bytes: [0xFF, 0x41])), target: FileName(bytes: [0x2E, 0x2E, 0x2F, 0xFE]))
        let want = try byteTreeDigest(live)
        let wantRaw = try byteTreeDigest(raw)
        #expect(want.count == Self.names.count + 4)

        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "names", t.sub("live")]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "raw", t.sub("raw")]).status == 0)
        let id = try snapshotId(repo)
        let show = try cairn(repo, ["show", id, "--json"])
        #expect(show.status == 0 && !show.stdout.contains("skipped"), "every name is backed up, none skipped: \(show.stdout)")

        // restore --to: the same bytes.
        #expect(try cairn(repo, ["restore", id, "--to", t.sub("to")]).status == 0)
        #expect(try byteTreeDigest(FileName(utf8: t.sub("to/names"))) == want)
        #expect(try byteTreeDigest(FileName(utf8: t.sub("to/raw"))) == wantRaw)

        // Human ls and diff: names escaped, no raw ESC byte; JSON carries the bytes.
        let ls = try cairn(repo, ["ls", "-r", id])
        #expect(ls.status == 0)
        #expect(!ls.stdoutBytes.contains(0x1B), "ls prints no raw ESC")
        #expect(ls.stdout.contains("names/\\xff\\xfe") && ls.stdout.contains("names/esc\\x1b[31mred"))
        let lsj = try cairn(repo, ["ls", "-r", id, "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(lsj.stdoutBytes)) as? [[String: Any]])
        // Paths are `{silo, path}` (Docs/JSON.md), the path silo-relative.
        let paths = Set(rows.compactMap { r in (r["silo"] as? String).flatMap { silo in
            FileName.fromJSON(text: r["path"] as? String, base64: r["pathBytes"] as? String).map { FileName(utf8: silo).appending($0) } } })
        for n in Self.names { #expect(paths.contains(FileName(utf8: "names").appending(FileName(bytes: n))), "ls --json holds \(FileName(bytes: n).escaped)") }
        let targets = Set(rows.compactMap { FileName.fromJSON(text: $0["target"] as? String, base64: $0["targetBytes"] as? String) })
        #expect(targets.contains(FileName(bytes: [0x2E, 0x2E, 0x2F, 0xFE])) && targets.contains(FileName(bytes: [0x61, 0x2F, 0xCC, 0x81])))

        // `cat` of a path given as raw bytes on the command line (the shell passes 0xFF 0xFE).
        let cat = try sh("'\(cairnBinary())' cat \(id) \"names/$(printf '\\377\\376')\" --repo '\(repo)'")
        #expect(cat.status == 0 && cat.stdoutBytes == Array("content 0\n".utf8) + [0xFF, 0xFE], "\(cat.stderr)")

        // Damage the live silo, restore in place: the bytes come back and the repository stays usable.
        #expect(unlinkBytes(live.appending(FileName(bytes: [0xFF, 0xFE]))))
        try writeFile(bytes: live.appending(FileName(bytes: [0xC3, 0xA9])), Array("changed".utf8))
        try writeFile(bytes: live.appending(FileName(bytes: [0xFE, 0x1B])), Array("stray".utf8))
        let d = try cairn(repo, ["diff", id, "live"])
        #expect(d.status == 0 && !d.stdoutBytes.contains(0x1B), "diff prints no raw ESC: \(d.stdout)")
        #expect(d.stdout.contains("- names/\\xff\\xfe") && d.stdout.contains("+ names/\\xfe\\x1b"), "\(d.stdout)")
        let dj = try cairn(repo, ["diff", id, "live", "--json"])
        #expect(dj.stdout.contains(#""pathBytes":"//4=""#), "the non-UTF-8 path is in base64: \(dj.stdout)")
        let dry = try cairn(repo, ["restore", id, "--dry-run", "--verbose"])
        #expect(dry.status == 0 && !dry.stdoutBytes.contains(0x1B))
        let inPlace = try cairn(repo, ["restore", id])
        #expect(inPlace.status == 0, "\(inPlace.stderr)")
        #expect(try byteTreeDigest(live) == want)
        #expect(try byteTreeDigest(raw) == wantRaw)
        #expect(try cairn(repo, ["check"]).status == 0)
        #expect(try cairn(repo, ["list"]).status == 0)
        _ = try snapshotId(repo)

        // Export -> import -> restore in a second repository.
        let zip = t.sub("names.zip")
        let ex = try cairn(repo, ["export", id, "--silo", "names", "--output", zip])
        #expect(ex.status == 0, "\(ex.stderr)")
        let repo2 = t.sub("repo2")
        #expect(try cairn(repo2, ["init"]).status == 0)
        let im = try cairn(repo2, ["import", zip, "--json"])
        #expect(im.status == 0, "\(im.stderr)")
        let imported = try #require(jsonFields(im)["snapshot"] as? String)
        #expect(try cairn(repo2, ["restore", imported, "--to", t.sub("to2")]).status == 0)
        #expect(try byteTreeDigest(FileName(utf8: t.sub("to2/names"))) == want)
        // The same trees: the import rebuilt the exported tree bit for bit.
        let ls1 = try cairn(repo, ["ls", "-r", id, "names", "--json"]).stdout
        let ls2 = try cairn(repo2, ["ls", "-r", imported, "names", "--json"]).stdout
        #expect(ls1 == ls2)
    }

    /// Excluded live files are carried through an in-place restore by their bytes too.
    @Test func excludedNonUTF8NamesSurviveInPlaceRestore() throws {
        let t = TempDir("cairn-bytes-ex"); defer { t.remove() }
        let live = FileName(utf8: t.sub("ex"))
        try makeDirectory(bytes: live)
        try makeDirectory(bytes: live.appending(FileName(bytes: [0xE9])))
        try writeFile(bytes: live.appending(FileName(bytes: [0xE9, 0x2F, 0xFF] + Array(".tmp".utf8))), Array("excluded".utf8))
        try writeFile(bytes: live.appending(FileName(bytes: [0xFE])), Array("kept".utf8))
        // Directory mtimes are not compared: carrying excluded files in touches their directory.
        let want = try byteTreeDigest(live, ByteDigestOptions(mtimes: false))
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "ex", t.sub("ex"), "--exclude", "*.tmp"]).status == 0)
        let id = try snapshotId(repo)
        #expect(unlinkBytes(live.appending(FileName(bytes: [0xFE]))))
        let r = try cairn(repo, ["restore", id])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try byteTreeDigest(live, ByteDigestOptions(mtimes: false)) == want)
    }

    func unlinkBytes(_ p: FileName) -> Bool { p.withCString { unlink($0) } == 0 }
}
