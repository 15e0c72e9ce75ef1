// The hostile archive suite (issue #11): well over 150 generated archives by class, each with
// its exact outcome: a one-line refusal (error code = exit code, message fragment) or a safe
// import whose `restore --to` stays inside the target. A sentinel tree beside the repository
// and the target is digested before and after every case; a refused case must leave the
// repository's packs, snapshots and tmp unchanged. All cases run in one process (fast).

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private typealias E = ZipRaw.Entry

private func raw(_ name: [UInt8], _ content: String = "x", mode: UInt32 = 0o100644, flags: UInt16 = 0x800) -> E {
    var e = E("", content, mode: mode)
    e.name = name
    e.flags = flags
    return e
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
private func refused(_ fragment: String, _ code: CairnError.Code = .invalidInput) -> HostileExpectation { .refused(code, fragment) }

/// An import that must succeed; `check` may look at the result.
private func imports(_ check: @escaping @Sendable (ImportResult, Repository) throws -> String? = { _, _ in nil }) -> HostileExpectation { .imported(check) }

/// Imported with exactly these paths in silo `s` (bytes, sorted).
private func importsPaths(_ expected: [[UInt8]], silo: String = "s") -> HostileExpectation {
    .imported { r, repo in
        let snap = try repo.resolve(r.snapshot)
        guard let part = snap.record.silo(silo), let id = BlockId(hex: part.tree) else { return "no silo \(silo)" }
        var got: [[UInt8]] = []
        let reader = repo.makeReader()
        func walk(_ tree: BlockId, _ prefix: [UInt8]) throws {
            for e in try repo.tree(tree, reader: reader, path: silo).entries {
                let p = prefix + e.name.bytes
                got.append(p)
                if let sub = e.subtree { try walk(sub, p + [0x2F]) }
            }
        }
        try walk(id, [])
        let want = expected.sorted { $0.lexicographicallyPrecedes($1) }
        return got.sorted { $0.lexicographicallyPrecedes($1) } == want ? nil : "paths \(got.map { FileName.escape($0) }) != \(want.map { FileName.escape($0) })"
    }
}

// MARK: - Classes

/// Traversal in every spelling, as a file, a directory and a symlink name.
private func traversalCases() -> [HostileCase] {
    let spellings: [(String, [UInt8], String)] = [
        ("dotdot", bytes("../x"), "has a \"..\" component"),
        ("dotdot-inner", bytes("s/../x"), "has a \"..\" component"),
        ("dotdot-sentinel", bytes("s/../../sentinel/pwned"), "has a \"..\" component"),
        ("dotdot-last", bytes("s/x/.."), "has a \"..\" component"),
        ("dotdot-many", bytes("s/a/../../../../../../sentinel/pwned"), "has a \"..\" component"),
        ("absolute", bytes("/tmp/pwned"), "has an absolute path"),
        ("absolute-double", bytes("//tmp/pwned"), "has an absolute path"),
        ("absolute-silo", bytes("/s/x"), "has an absolute path"),
        ("dot-inner", bytes("s/./x"), "has a \".\" component"),
        ("dot-lead", bytes("./s/x"), "has a \".\" component"),
        ("dot-only", bytes("."), "has a \".\" component"),
        ("dotdot-only", bytes(".."), "has a \"..\" component"),
        ("empty-component", bytes("s//x"), "has an empty path component"),
        ("backslash-dotdot", bytes("s\\..\\..\\sentinel\\pwned"), "has a backslash"),
        ("backslash-plain", bytes("s\\x"), "has a backslash"),
        ("backslash-lead", bytes("\\tmp\\pwned"), "has a backslash"),
        ("nul-inner", bytes("s/a") + [0] + bytes("/../../x"), "has a NUL byte"),
        ("nul-only", [0], "has a NUL byte"),
        ("empty", [], "has an empty name"),
        ("slash-only", bytes("/"), "ends with \"/\""),
        ("dotdot-backslash-mix", bytes("s/..\\x"), "has a backslash"),
    ]
    var out: [HostileCase] = []
    for (label, name, fragment) in spellings {
        out.append(HostileCase("traversal file \(label)", ZipRaw([raw(name)]).build(), refused(fragment)))
        if !name.isEmpty && name.last != 0x2F {
            out.append(HostileCase("traversal dir \(label)", ZipRaw([raw(name + [0x2F], "", mode: 0o040755)]).build(), refused(fragment)))
            out.append(HostileCase("traversal link \(label)", ZipRaw([raw(name, "x", mode: 0o120777)]).build(), refused(fragment)))
        }
    }
    return out
}

/// Bytes and Unicode that only look like separators or dots: ordinary name bytes.
private func unicodeCases() -> [HostileCase] {
    var out: [HostileCase] = []
    let lookalikes: [(String, String)] = [
        ("fullwidth solidus", "..\u{FF0F}..\u{FF0F}sentinel"),
        ("division slash", "..\u{2215}sentinel"),
        ("fraction slash", "..\u{2044}x"),
        ("fullwidth dots", "\u{FF0E}\u{FF0E}"),
        ("one dot leader", "\u{2024}\u{2024}"),
        ("small full stop", "\u{FE52}\u{FE52}"),
        ("combining mark after dots", "..\u{0338}"),
        ("right-to-left override", "\u{202E}txt.exe"),
        ("zero width joiner", "..\u{200D}"),
        ("trailing space dots", ".. "),
        ("three dots", "..."),
        ("escape sequence", "\u{1B}[31mred\u{1B}[0m"),
        ("newline", "line\nbreak"),
        ("bell and delete", "\u{07}\u{7F}"),
        ("byte order mark", "\u{FEFF}.."),
        ("hangul filler", "\u{3164}"),
    ]
    for (label, name) in lookalikes {
        out.append(HostileCase("lookalike \(label)", ZipRaw([raw(bytes("s/" + name))]).build(), importsPaths([bytes(name)])))
    }
    // A "/" followed by a combining mark is one Character in Swift but two components in bytes.
    out.append(HostileCase("slash + combining mark", ZipRaw([raw(bytes("s/d/\u{0338}x"))]).build(), importsPaths([bytes("d"), bytes("d/\u{0338}x")])))
    // Normalization and case twins are different names: both are kept.
    out.append(HostileCase("NFC and NFD twins", ZipRaw([raw(bytes("s/\u{E9}"), "nfc"), raw(bytes("s/e\u{301}"), "nfd")]).build(),
                           importsPaths([bytes("\u{E9}"), bytes("e\u{301}")])))
    out.append(HostileCase("case twins", ZipRaw([raw(bytes("s/Readme"), "1"), raw(bytes("s/README"), "2"), raw(bytes("s/readme"), "3")]).build(),
                           importsPaths([bytes("README"), bytes("Readme"), bytes("readme")])))
    out.append(HostileCase("case twin silos", ZipRaw([raw(bytes("s/a")), raw(bytes("S/a"))]).build(), imports { r, _ in r.silos.count == 2 ? nil : "silos \(r.silos.map(\.name))" }))
    // Invalid and overlong UTF-8 (0xC0 0xAF is an overlong "/", 0xC0 0xAE an overlong ".").
    let invalid: [(String, [UInt8])] = [
        ("overlong slash", bytes("s/..") + [0xC0, 0xAF] + bytes("sentinel")),
        ("overlong dots", bytes("s/") + [0xC0, 0xAE, 0xC0, 0xAE]),
        ("overlong slash 3-byte", bytes("s/..") + [0xE0, 0x80, 0xAF] + bytes("x")),
        ("lone continuation", bytes("s/") + [0x80]),
        ("truncated sequence", bytes("s/a") + [0xE2, 0x82]),
        ("surrogate", bytes("s/") + [0xED, 0xA0, 0x80]),
        ("0xFF byte", bytes("s/") + [0xFF, 0xFE]),
    ]
    for (label, name) in invalid {
        // Names are bytes: each is one safe component, imported byte for byte.
        out.append(HostileCase("invalid UTF-8 \(label)", ZipRaw([raw(name)]).build(), importsPaths([Array(name.dropFirst(2))])))
    }
    // Legacy (no UTF-8 flag) names are code page 437: 0x81 is "ü"; mapped to UTF-8 bytes.
    out.append(HostileCase("cp437 name", ZipRaw([raw(bytes("s/") + [0x81], flags: 0)]).build(), importsPaths([bytes("\u{FC}")])))
    // ... so a CP437 spelling and a UTF-8 spelling of one name are the same name: duplicate.
    out.append(HostileCase("cp437 and UTF-8 duplicate", ZipRaw([raw(bytes("s/") + [0x81], flags: 0), raw(bytes("s/\u{FC}"))]).build(), refused("appears twice")))
    return out
}

/// Symlink tricks: escapes, chains, loops, and entries written through links made earlier.
private func symlinkCases() -> [HostileCase] {
    func link(_ n: String, _ t: String) -> E { .link(n, t) }
    let cases: [(String, [E], HostileExpectation)] = [
        ("up and out", [link("s/l", "../../sentinel")], refused("points outside its top-level folder")),
        ("up one", [link("s/l", "..")], refused("points outside its top-level folder")),
        ("up into other silo", [E("t/x", "x"), link("s/l", "../t/x")], refused("points outside its top-level folder")),
        ("absolute", [link("s/l", "/etc/passwd")], refused("is a symlink to the absolute path")),
        ("absolute root", [link("s/l", "/")], refused("is a symlink to the absolute path")),
        ("via dot link", [link("s/y", "."), link("s/a", "y/../x")], refused("through other symlinks")),
        ("chain escapes", [link("s/a", "b"), link("s/b", "c"), link("s/c", "../../sentinel")], refused("points outside")),
        ("chain to absolute", [link("s/a", "b"), link("s/b", "/etc")], refused("through the absolute symlink")),
        ("loop", [link("s/a", "b"), link("s/b", "a")], refused("in a loop")),
        ("self loop", [link("s/a", "a")], refused("in a loop")),
        ("long chain", (0..<45).map { link("s/l\($0)", "l\($0 + 1)") } + [E("s/l45", "end")], refused("in a loop or a chain")),
        ("write through earlier link", [link("s/l", "sub"), E("s/l/f", "x")], refused("which is a symlink")),
        ("write through escaping link", [link("s/l", "../../sentinel"), E("s/l/pwned", "x")], refused("which is a symlink")),
        ("write through link deep", [E("s/d/", mode: 0o040755), link("s/d/l", "../.."), E("s/d/l/sentinel/pwned", "x")], refused("which is a symlink")),
        ("write through link later entry first", [E("s/l/f", "x"), link("s/l", "sub")], refused("which is a symlink")),
        ("write under file", [E("s/f", "x"), E("s/f/g", "y")], refused("which is a file")),
        ("dir under link with slash", [link("s/l", "d"), E("s/l/", mode: 0o040755)], refused("appears twice")),
        ("top-level link", [link("l", "s")], refused("at the top level of the archive")),
        ("link target with NUL", [link("s/l", "a\u{0}b")], refused("contains a NUL byte")),
        ("empty target", [link("s/l", "")], refused("with a 0-byte target")),
        ("huge target", [link("s/l", String(repeating: "a/", count: 2100))], refused("-byte target")),
        ("link named like a dir", [{ var e = link("s/l/", "x"); e.mode = 0o120777; return e }()], refused("ends with \"/\"")),
        ("confined chain", [E("s/d/f", "x"), link("s/a", "b"), link("s/b", "d/f")], importsPaths([bytes("a"), bytes("b"), bytes("d"), bytes("d/f")])),
        ("confined up and down", [E("s/d/f", "x"), link("s/d/l", "../d/f")], importsPaths([bytes("d"), bytes("d/f"), bytes("d/l")])),
        ("dangling inside", [link("s/l", "missing")], importsPaths([bytes("l")])),
    ]
    var out = cases.map { HostileCase("symlink \($0.0)", ZipRaw($0.1).build(), $0.2) }
    // With --as-silo the whole archive is one silo: a top-level link must still stay inside it.
    var whole = ImportOptions(asSilo: ["w"])
    out.append(HostileCase("symlink as-silo escape", ZipRaw([link("a/l", "../../x")]).build(), refused("points outside"), options: whole))
    whole.tags = ["t"]
    out.append(HostileCase("symlink as-silo top-level link", ZipRaw([link("l", "x")]).build(), refused("at the top level of the archive"), options: whole))
    return out
}

/// Duplicates under every equivalence that could make two entries one path.
private func duplicateCases() -> [HostileCase] {
    let cases: [(String, [E], HostileExpectation)] = [
        ("same file twice", [E("s/a", "1"), E("s/a", "2")], refused("appears twice")),
        ("file and dir", [E("s/a", "1"), E("s/a/", mode: 0o040755)], refused("appears twice")),
        ("dir twice", [E("s/d/", mode: 0o040755), E("s/d/", mode: 0o040755)], refused("appears twice")),
        ("file and link", [E("s/a", "1"), .link("s/a", "b")], refused("appears twice")),
        ("link and dir", [.link("s/a", "b"), E("s/a/", mode: 0o040755)], refused("appears twice")),
        ("silo folder twice", [E("s/", mode: 0o040755), E("s/", mode: 0o040755)], refused("appears twice")),
        ("dot spelling", [E("s/a", "1"), E("s/./a", "2")], refused("has a \".\" component")),
        ("double slash spelling", [E("s/a", "1"), E("s//a", "2")], refused("has an empty path component")),
        ("backslash spelling", [E("s/d/a", "1"), E("s/d\\a", "2")], refused("has a backslash")),
        ("dotdot spelling", [E("s/a", "1"), E("s/d/../a", "2")], refused("has a \"..\" component")),
        ("many twins", (0..<50).map { E("s/f\($0 % 25)", "\($0)") }, refused("appears twice")),
        ("distinct by trailing space", [E("s/a", "1"), E("s/a ", "2")], importsPaths([bytes("a"), bytes("a ")])),
        ("implied and explicit dir", [E("s/d/f", "1"), E("s/d/", mode: 0o040755)], importsPaths([bytes("d"), bytes("d/f")])),
    ]
    return cases.map { HostileCase("duplicate \($0.0)", ZipRaw($0.1).build(), $0.2) }
}

/// Bombs: ratio (declared and while inflating), count, nesting depth, archives in archives, totals.
private func bombCases() -> [HostileCase] {
    let zeros = [UInt8](repeating: 0, count: 8 << 20)
    let bomb = ZipRaw.deflate(zeros)
    var out: [HostileCase] = []
    var declared = E.deflated("s/b", Array("tiny".utf8))
    declared.usize = 100 << 20
    out.append(HostileCase("bomb declared ratio", ZipRaw([declared]).build(), refused("declares a compression ratio")))
    var hidden = E.deflated("s/b", zeros)
    hidden.data = bomb + [UInt8](repeating: 7, count: 7000)
    out.append(HostileCase("bomb ratio while inflating", ZipRaw([hidden]).build(), refused("while inflating")))
    var under = E.deflated("s/b", zeros)
    under.usize = 4096
    out.append(HostileCase("bomb declared small", ZipRaw([under]).build(), refused("inflates to more than its declared")))
    var overlapped: [E] = [E.deflated("s/a", zeros)]
    for i in 1...20 { var e = E.deflated("s/a\(i)", zeros); e.offset = 0; overlapped.append(e) }
    out.append(HostileCase("bomb overlapping entries", ZipRaw(overlapped).build(), refused("overlaps entry")))
    out.append(HostileCase("bomb total over max-size", ZipRaw([.deflated("s/a", zeros)]).build(), refused("past the size limit"), options: ImportOptions(maxSize: 1 << 20)))
    out.append(HostileCase("bomb archive over max-size", ZipRaw([E("s/a", "x")]).build(), refused("than --max-size 10"), options: ImportOptions(maxSize: 10)))
    var deep = "s"
    for _ in 0..<1001 { deep += "/d" }
    out.append(HostileCase("bomb nesting depth", ZipRaw([E(deep, "x")]).build(), refused("folders deep")))
    // A ZIP inside a ZIP is a file: stored as is, never expanded.
    let inner = ZipRaw([.deflated("s/zeros", zeros)]).build()
    out.append(HostileCase("bomb nested zip", ZipRaw([{ var e = E("s/inner.zip"); e.content = inner; return e }()]).build(), importsPaths([bytes("inner.zip")])))
    // Many small entries import (count is bounded by the central directory's size).
    out.append(HostileCase("bomb many entries", ZipRaw((0..<2000).map { E("s/f\($0)", "") }).build(), imports { r, _ in r.files == 2000 ? nil : "files \(r.files)" }))
    out.append(HostileCase("bomb count claims", ZipRaw([E("s/a", "x")]) { b, l in putLE(&b, l.end + 8, 0xFFFE, 2); putLE(&b, l.end + 10, 0xFFFE, 2) }.build(),
                           refused("claims 65534 entries")))
    return out
}

/// Lying sizes, offsets, counts, CRCs, disks and end records.
private func lyingCases() -> [HostileCase] {
    let text = Array(String(repeating: "some text that deflates well; ", count: 200).utf8)
    let good = ZipRaw([E("s/", mode: 0o040755), E("s/a.txt", "hello"), .deflated("s/b.txt", text)])
    func with(_ i: Int, _ f: (inout E) -> Void) -> [UInt8] {
        var z = good
        f(&z.entries[i])
        return z.build()
    }
    func patched(_ p: @escaping (inout [UInt8], ZipRaw.Layout) -> Void) -> [UInt8] { ZipRaw(good.entries, patch: p).build() }
    let whole = good.build()
    var out: [HostileCase] = [
        HostileCase("baseline", whole, importsPaths([bytes("a.txt"), bytes("b.txt")])),
        HostileCase("crc wrong stored", with(1) { $0.crc = 0xDEAD_BEEF }, refused("fails its CRC-32 check")),
        HostileCase("crc wrong deflated", with(2) { $0.crc = 1 }, refused("fails its CRC-32 check")),
        HostileCase("usize too big", with(2) { $0.usize = 20000 }, refused("holds 6000 bytes but declares 20000")),
        HostileCase("usize too small", with(2) { $0.usize = 100 }, refused("inflates to more than its declared")),
        HostileCase("csize short", with(2) { $0.csize = 10 }, refused("cut off after 10 compressed bytes")),
        HostileCase("stored csize != usize", with(1) { $0.usize = 4 }, refused("is stored uncompressed but declares")),
        HostileCase("deflate cut off", with(2) { $0.data = Array(ZipRaw.deflate(text, level: 0).dropLast(100)) }, refused("is cut off after")),
        HostileCase("deflate garbage", with(2) { $0.data = [UInt8](repeating: 0xFF, count: 64) }, refused("corrupt deflate data")),
        HostileCase("deflate trailing bytes", with(2) { $0.data = ZipRaw.deflate(text) + [1, 2, 3] }, refused("its deflate stream ends after")),
        HostileCase("local method differs", with(1) { $0.localMethod = 8 }, refused("disagree with the central directory")),
        HostileCase("local name differs", with(1) { $0.localName = bytes("s/A.txt") }, refused("has a local header that names it")),
        HostileCase("local name traversal", with(1) { $0.localName = bytes("../../x") }, refused("has a local header that names it")),
        HostileCase("local flags encrypted", with(1) { $0.localFlags = 0x801 }, refused("is encrypted (local header)")),
        HostileCase("offset past end", with(1) { $0.offset = 1 << 30 }, refused("has data that overlaps the central directory")),
        HostileCase("offset into central directory", patched { b, l in putLE(&b, l.central[1] + 42, UInt64(l.cdOffset), 4) }, refused("has data that overlaps")),
        HostileCase("local signature wrong", patched { b, l in b[l.local[1]] = 0 }, refused("no local header signature")),
        HostileCase("cd offset wrong", patched { b, l in putLE(&b, l.end + 16, 0x7000_0000, 4) }, refused("lies outside the archive")),
        HostileCase("cd offset short", patched { b, l in putLE(&b, l.end + 16, UInt64(l.cdOffset - 1), 4) }, refused("unexplained bytes")),
        HostileCase("cd signature wrong", patched { b, l in b[l.central[1]] = 0 }, refused("has a bad signature")),
        HostileCase("cd size too big", patched { b, l in putLE(&b, l.end + 12, UInt64(l.end - l.cdOffset + 10), 4) }, refused("lies outside the archive")),
        HostileCase("cd size too small", patched { b, l in putLE(&b, l.end + 12, UInt64(l.end - l.cdOffset - 10), 4) }, refused("unexplained bytes")),
        HostileCase("count too small", patched { b, l in putLE(&b, l.end + 8, 2, 2); putLE(&b, l.end + 10, 2, 2) }, refused("bytes beyond its 2 entries")),
        HostileCase("count too large", patched { b, l in putLE(&b, l.end + 8, 4, 2); putLE(&b, l.end + 10, 4, 2) }, refused("claims 4 entries")),
        HostileCase("count disk mismatch", patched { b, l in putLE(&b, l.end + 8, 2, 2) }, refused("split or spanned")),
        HostileCase("end disk number", patched { b, l in putLE(&b, l.end + 4, 1, 2) }, refused("split or spanned")),
        HostileCase("end cd disk number", patched { b, l in putLE(&b, l.end + 6, 3, 2) }, refused("split or spanned")),
        HostileCase("entry disk number", patched { b, l in putLE(&b, l.central[1] + 34, 2, 2) }, refused("starts on another disk")),
        HostileCase("name length past cd", patched { b, l in putLE(&b, l.central[2] + 28, 0xFFFF, 2) }, refused("is truncated at entry #3")),
        HostileCase("extra length past cd", patched { b, l in putLE(&b, l.central[2] + 30, 0x7FFF, 2) }, refused("is truncated at entry #3")),
        HostileCase("extra field runs past", with(1) { $0.centralExtra = [0x55, 0x54, 0xFF, 0x00, 1] }, refused("malformed extra field")),
        HostileCase("extra field header cut", with(1) { $0.centralExtra = [0x55, 0x54] }, refused("malformed extra field")),
        HostileCase("comment length wrong", whole + [1, 2, 3], refused("comment length does not match")),
        HostileCase("garbage prepended", [UInt8](repeating: 0x41, count: 64) + whole, refused("unexplained bytes")),
        HostileCase("not a zip", Array("just some text, no archive at all\n".utf8), refused("no end of central directory record found")),
        HostileCase("empty file", [], refused("the file is only 0 bytes")),
        HostileCase("special file fifo", ZipRaw([E("s/p", "", mode: 0o010644)]).build(), refused("is a special file")),
        HostileCase("special file device", ZipRaw([E("s/dev", "", mode: 0o020644)]).build(), refused("is a special file")),
        HostileCase("dir with content", ZipRaw([E("s/d/", "content", mode: 0o040755)]).build(), refused("is a directory but has")),
        HostileCase("slash name marked file", ZipRaw([E("s/d/", "", mode: 0o100644)]).build(), refused("ends with \"/\"")),
        HostileCase("no entries", ZipRaw([]).build(), refused("holds no entries")),
    ]
    for cut in [21, 40, 60, 100, whole.count - 30, whole.count - 1] where cut < whole.count {
        out.append(HostileCase("truncated at \(cut)", Array(whole.prefix(cut)), refused("no end of central directory record found")))
    }
    return out
}

/// ZIP64: extras too short, huge sizes and offsets, lying end records and locators.
private func zip64Cases() -> [HostileCase] {
    let good = [E("s/", mode: 0o040755), E("s/a.txt", "hello"), E("s/b.txt", "world")]
    func z64(_ p: @escaping (inout [UInt8], ZipRaw.Layout) -> Void) -> [UInt8] { ZipRaw(good, zip64: true, patch: p).build() }
    func extra(_ values: [UInt64], width: Int = 8) -> [UInt8] {
        var b: [UInt8] = [1, 0, UInt8(values.count * width), 0]
        for v in values { for i in 0..<width { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        return b
    }
    func entry(_ f: (inout E) -> Void) -> [UInt8] {
        var e = E("s/a.txt", "hello")
        f(&e)
        return ZipRaw([e]).build()
    }
    let huge: UInt64 = .max
    return [
        HostileCase("zip64 baseline", ZipRaw(good, zip64: true).build(), importsPaths([bytes("a.txt"), bytes("b.txt")])),
        HostileCase("zip64 record missing", z64 { b, l in putLE(&b, l.zip64End!, 0, 4) }, refused("ZIP64 end of central directory record is missing")),
        HostileCase("zip64 disagrees", z64 { b, l in putLE(&b, l.end + 12, 77, 4) }, refused("disagrees with the classic end record")),
        HostileCase("zip64 locator far", z64 { b, l in putLE(&b, l.locator! + 8, huge, 8) }, refused("locator points outside")),
        HostileCase("zip64 locator self", z64 { b, l in putLE(&b, l.locator! + 8, UInt64(l.locator!), 8) }, refused("locator points outside")),
        HostileCase("zip64 locator disk", z64 { b, l in putLE(&b, l.locator! + 4, 1, 4) }, refused("split or spanned")),
        HostileCase("zip64 total disks", z64 { b, l in putLE(&b, l.locator! + 16, 9, 4) }, refused("split or spanned")),
        HostileCase("zip64 record size huge", z64 { b, l in putLE(&b, l.zip64End! + 4, huge, 8) }, refused("declares a bad size")),
        HostileCase("zip64 record size small", z64 { b, l in putLE(&b, l.zip64End! + 4, 3, 8) }, refused("declares a bad size")),
        HostileCase("zip64 record disk", z64 { b, l in putLE(&b, l.zip64End! + 16, 1, 4) }, refused("split or spanned")),
        HostileCase("zip64 count huge", z64 { b, l in putLE(&b, l.zip64End! + 24, huge, 8); putLE(&b, l.zip64End! + 32, huge, 8) }, refused("entries, more than the limit")),
        HostileCase("zip64 count 2^40", z64 { b, l in putLE(&b, l.zip64End! + 24, 1 << 40, 8); putLE(&b, l.zip64End! + 32, 1 << 40, 8) }, refused("more than the limit")),
        HostileCase("zip64 count vs size", z64 { b, l in putLE(&b, l.zip64End! + 24, 1000, 8); putLE(&b, l.zip64End! + 32, 1000, 8) }, refused("claims 1000 entries")),
        HostileCase("zip64 cd size huge", z64 { b, l in putLE(&b, l.zip64End! + 40, huge, 8) }, refused("lies outside the archive")),
        HostileCase("zip64 cd size 2^62", z64 { b, l in putLE(&b, l.zip64End! + 40, 1 << 62, 8) }, refused("lies outside the archive")),
        HostileCase("zip64 cd offset huge", z64 { b, l in putLE(&b, l.zip64End! + 48, huge, 8) }, refused("lies outside the archive")),
        HostileCase("zip64 cd offset + size wrap", z64 { b, l in putLE(&b, l.zip64End! + 48, huge - 5, 8); putLE(&b, l.zip64End! + 40, 10, 8) }, refused("lies outside the archive")),
        HostileCase("zip64 markers without locator", ZipRaw(good) { b, l in putLE(&b, l.end + 16, 0xFFFF_FFFF, 4) }.build(), refused("locator is missing")),
        HostileCase("zip64 extra missing", entry { $0.cdCsize32 = 0xFFFF_FFFF }, refused("has no ZIP64 extra field")),
        HostileCase("zip64 extra too short", entry { $0.cdUsize32 = 0xFFFF_FFFF; $0.cdCsize32 = 0xFFFF_FFFF; $0.centralExtra = extra([5]) }, refused("too short for the values")),
        HostileCase("zip64 extra empty", entry { $0.cdUsize32 = 0xFFFF_FFFF; $0.centralExtra = [1, 0, 0, 0] }, refused("too short for the values")),
        HostileCase("zip64 usize max", entry { $0.cdUsize32 = 0xFFFF_FFFF; $0.centralExtra = extra([huge]) }, refused("is stored uncompressed but declares")),
        HostileCase("zip64 usize max deflated", { var e = E.deflated("s/a", Array("hello".utf8)); e.cdUsize32 = 0xFFFF_FFFF; e.centralExtra = extra([huge]); return ZipRaw([e]).build() }(),
                    refused("declares a compression ratio")),
        HostileCase("zip64 usize max as-silo", { var e = E.deflated("a", Array("hello".utf8)); e.cdUsize32 = 0xFFFF_FFFF; e.centralExtra = extra([huge]); return ZipRaw([e]).build() }(),
                    refused("declares a compression ratio"), options: ImportOptions(asSilo: ["w"])),
        HostileCase("zip64 two huge sizes sum", { () -> [UInt8] in
            var a = E.deflated("s/a", Array("hello".utf8)); a.cdUsize32 = 0xFFFF_FFFF; a.centralExtra = extra([huge / 2 + 1])
            var b = a; b.name = bytes("s/b")
            return ZipRaw([a, b]).build()
        }(), refused("past the size limit"), options: ImportOptions(maxSize: 1 << 40)),
        HostileCase("zip64 csize max", entry { $0.cdCsize32 = 0xFFFF_FFFF; $0.cdUsize32 = 0xFFFF_FFFF; $0.centralExtra = extra([huge, huge]) }, refused("has data that overlaps")),
        HostileCase("zip64 offset max", entry { $0.offset = 0xFFFF_FFFF; $0.centralExtra = extra([huge]) }, refused("has data that overlaps")),
        HostileCase("zip64 offset 2^63", entry { $0.offset = 0xFFFF_FFFF; $0.centralExtra = extra([1 << 63]) }, refused("has data that overlaps")),
        HostileCase("zip64 offset near max", entry { $0.offset = 0xFFFF_FFFF; $0.centralExtra = extra([huge - 20]) }, refused("has data that overlaps")),
        HostileCase("zip64 disk field", entry { $0.offset = 0; $0.centralExtra = [1, 0, 4, 0, 1, 0, 0, 0] }, imports()),
        HostileCase("zip64 disk marker", { () -> [UInt8] in
            ZipRaw([E("s/a.txt", "hello")]) { b, l in putLE(&b, l.central[0] + 34, 0xFFFF, 2) }.build()
        }(), refused("has no ZIP64 extra field")),
    ]
}

/// Encryption flags and compression methods Cairn does not read.
private func methodCases() -> [HostileCase] {
    func entry(_ f: (inout E) -> Void) -> [UInt8] {
        var e = E("s/a.txt", "hello")
        f(&e)
        return ZipRaw([e]).build()
    }
    var out: [HostileCase] = [
        HostileCase("encrypted bit 0", entry { $0.flags |= 1 }, refused("is encrypted")),
        HostileCase("strong encryption bit 6", entry { $0.flags |= 1 << 6 }, refused("is encrypted")),
        HostileCase("masked headers bit 13", entry { $0.flags |= 1 << 13 }, refused("is encrypted")),
        HostileCase("AES method 99", entry { $0.method = 99 }, refused("is encrypted")),
        HostileCase("local header only encrypted", entry { $0.localFlags = 0x801 }, refused("is encrypted (local header)")),
    ]
    for m: UInt16 in [1, 6, 9, 12, 14, 19, 93, 95, 98, 0xFFFF] {
        out.append(HostileCase("method \(m)", entry { $0.method = m; $0.localMethod = m }, refused("uses compression method \(m)")))
    }
    return out
}

/// Special permission bits from a foreign archive: dropped unless asked for.
private func modeCases() -> [HostileCase] {
    func modes(_ expected: [String: UInt32]) -> HostileExpectation {
        .imported { r, repo in
            let snap = try repo.resolve(r.snapshot)
            guard let id = snap.record.silo("s").flatMap({ BlockId(hex: $0.tree) }) else { return "no silo" }
            let got = Dictionary(uniqueKeysWithValues: try repo.tree(id, reader: repo.makeReader(), path: "s").entries.map { ($0.name.escaped, $0.mode) })
            return got == expected ? nil : "modes \(got.mapValues { String($0, radix: 8) })"
        }
    }
    let entries = [E("s/suid", "x", mode: 0o104755), E("s/sgid", "x", mode: 0o102755), E("s/world", "x", mode: 0o100666),
                   E("s/sticky/", mode: 0o041777), E("s/plain", "x", mode: 0o100640)]
    let zip = ZipRaw(entries).build()
    return [
        HostileCase("special modes dropped", zip, modes(["suid": 0o755, "sgid": 0o755, "world": 0o664, "sticky": 0o775, "plain": 0o640])),
        HostileCase("special modes kept", zip, modes(["suid": 0o4755, "sgid": 0o2755, "world": 0o666, "sticky": 0o1777, "plain": 0o640]),
                    options: ImportOptions(keepSpecialModes: true)),
    ]
}

// MARK: - Forged Cairn manifests

nonisolated(unsafe) private var forgeCount: Int64 = 0

/// A genuine Cairn export, taken apart so a case can change its manifest and entries.
private struct Genuine {
    var entries: [E]
    var manifest: [String: Any]

    init(dir: TempDir) throws {
        let src = dir.sub("genuine-src")
        try writeFile(src + "/a.txt", Array("alpha\n".utf8))
        try writeFile(src + "/sub/b.bin", Array(repeating: 7, count: 3000))
        symlink("a.txt", src + "/link")
        let repo = try Repository.create(at: dir.sub("genuine-repo"))
        try repo.addSilo(Silo(name: "data", path: src))
        _ = try Snapshotter(repository: repo, options: SnapshotOptions()).run()
        let zip = dir.sub("genuine.zip")
        _ = try SnapshotExporter(repository: repo, snapshot: try repo.resolve("latest"), options: ExportOptions(compression: .store)).export(toFile: zip)
        var limits = ZipLimits(symlinks: .allowAnyTarget)
        limits.allowBackslash = true
        let reader = try ZipReader(path: zip, limits: limits)
        entries = []
        manifest = [:]
        for z in reader.entries {
            let content = z.kind == .directory ? [] : try reader.contents(z)
            if z.path == ExportManifest.fileName {
                manifest = try JSONSerialization.jsonObject(with: Data(content)) as! [String: Any]
                continue
            }
            let type: UInt32 = z.kind == .directory ? 0o040000 : z.kind == .symlink ? 0o120000 : 0o100000
            var e = E("", "", mode: type | z.mode)
            e.name = z.nameBytes
            e.content = content
            entries.append(e)
        }
    }

    var manifestEntries: [[String: Any]] { manifest["entries"] as! [[String: Any]] }

    /// The archive with `edit` applied to the manifest (and `entries` to the entry list). Each
    /// forgery gets its own snapshot time first, so none is refused as "already imported".
    func forged(_ edit: (inout [String: Any]) -> Void = { _ in }, entries change: ([E]) -> [E] = { $0 }) -> [UInt8] {
        var m = manifest
        forgeCount += 1
        snapshotField("timeNs", 1_600_000_000_000_000_000 + forgeCount)(&m)
        edit(&m)
        let json = try! JSONSerialization.data(withJSONObject: m, options: [.sortedKeys])
        var e = E(ExportManifest.fileName)
        e.content = Array(json)
        return ZipRaw([e] + change(entries)).build()
    }

    /// Changes one manifest entry (by path).
    func entry(_ path: String, _ edit: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
        { m in
            var list = m["entries"] as! [[String: Any]]
            for i in list.indices where list[i]["path"] as? String == path { edit(&list[i]) }
            m["entries"] = list
        }
    }

    func snapshotField(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
        { m in
            var s = m["snapshot"] as! [String: Any]
            s[key] = value
            m["snapshot"] = s
        }
    }

    func siloField(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
        { m in
            var list = m["silos"] as! [[String: Any]]
            list[0][key] = value
            m["silos"] = list
        }
    }
}

private func forgedCases(_ g: Genuine) -> [HostileCase] {
    let sha0 = String(repeating: "0", count: 64)
    let future: Int64 = 9_000_000_000_000_000_000  // year 2255, in ns: far in the future
    func record(_ check: @escaping @Sendable (SnapshotRecord) -> String?) -> HostileExpectation {
        .imported { r, repo in check(try repo.resolve(r.snapshot).record) }
    }
    var out: [HostileCase] = [
        HostileCase("forged genuine", g.forged(), imports { r, _ in r.cairnExport && r.silos.allSatisfy { $0.treeMatches == true } ? nil : "tree ids differ" }),
        HostileCase("forged wrong sha", g.forged(g.entry("data/a.txt") { $0["sha256"] = sha0 }), refused("has SHA-256")),
        HostileCase("forged bad sha", g.forged(g.entry("data/a.txt") { $0["sha256"] = "xyz" }), refused("has no valid SHA-256")),
        HostileCase("forged missing sha", g.forged(g.entry("data/a.txt") { $0["sha256"] = nil }), refused("has no valid SHA-256")),
        HostileCase("forged wrong size", g.forged(g.entry("data/a.txt") { $0["size"] = 7 }), refused("does not match cairn-snapshot.json")),
        HostileCase("forged huge size", g.forged(g.entry("data/a.txt") { $0["size"] = UInt64.max }), refused("does not match cairn-snapshot.json")),
        HostileCase("forged size overflow", g.forged(g.entry("data/a.txt") { $0["size"] = 1e30 }), refused("is not a valid Cairn manifest")),
        HostileCase("forged negative size", g.forged(g.entry("data/a.txt") { $0["size"] = -1 }), refused("is not a valid Cairn manifest")),
        HostileCase("forged type dir", g.forged(g.entry("data/a.txt") { $0["type"] = "dir" }), refused("does not match cairn-snapshot.json")),
        HostileCase("forged type symlink", g.forged(g.entry("data/a.txt") { $0["type"] = "symlink"; $0["target"] = "x" }), refused("does not match cairn-snapshot.json")),
        HostileCase("forged unknown type", g.forged(g.entry("data/a.txt") { $0["type"] = "fifo" }), refused("which is not file, dir or symlink")),
        HostileCase("forged link target", g.forged(g.entry("data/link") { $0["target"] = "../../sentinel" }), refused("does not match cairn-snapshot.json")),
        HostileCase("forged link no target", g.forged(g.entry("data/link") { $0["target"] = nil }), refused("is a symlink without a target in cairn-snapshot.json")),
        HostileCase("forged path traversal", g.forged(g.entry("data/a.txt") { $0["path"] = "data/../../x" }), refused("has a \"..\" component")),
        HostileCase("forged path outside", g.forged(g.entry("data/a.txt") { $0["path"] = "other/a.txt" }), refused("outside the silos it declares")),
        HostileCase("forged path silo root", g.forged(g.entry("data/a.txt") { $0["path"] = "data" }), refused("outside the silos it declares")),
        HostileCase("forged path absolute", g.forged(g.entry("data/a.txt") { $0["path"] = "/data/a.txt" }), refused("has an absolute path")),
        HostileCase("forged duplicate entry", g.forged { m in m["entries"] = (m["entries"] as! [[String: Any]]) + [(m["entries"] as! [[String: Any]])[0]] }, refused("twice")),
        HostileCase("forged entry dropped", g.forged { m in m["entries"] = Array((m["entries"] as! [[String: Any]]).dropLast()) }, refused("is not listed in cairn-snapshot.json")),
        HostileCase("forged archive entry dropped", g.forged(entries: { $0.filter { $0.name != bytes("data/a.txt") } }), refused("which the archive lacks")),
        HostileCase("forged extra archive entry", g.forged(entries: { $0 + [E("data/extra", "x")] }), refused("is not listed in cairn-snapshot.json")),
        HostileCase("forged extra top-level entry", g.forged(entries: { $0 + [E("evil/extra", "x")] }), refused("is not listed in cairn-snapshot.json")),
        HostileCase("forged content changed", g.forged(entries: { $0.map { var e = $0; if e.name == bytes("data/a.txt") { e.content = Array("ALPHA\n".utf8) }; return e } }),
                    refused("has SHA-256")),
        HostileCase("forged silo folder missing", g.forged(entries: { $0.filter { $0.name != bytes("data/") } }), refused("has no folder")),
        HostileCase("forged silo twice", g.forged { m in m["silos"] = (m["silos"] as! [[String: Any]]) + (m["silos"] as! [[String: Any]]) }, refused("twice or with a malformed tree id")),
        HostileCase("forged silo tree bad", g.forged(g.siloField("tree", "nothex")), refused("malformed tree id")),
        HostileCase("forged silo name bad", g.forged(g.siloField("name", "../x")), refused("is not valid")),
        HostileCase("forged no silos", g.forged { m in m["silos"] = [] as [Any] }, refused("outside the silos it declares")),
        HostileCase("forged not json", { var e = E(ExportManifest.fileName, "{not json"); e.flags = 0x800; return ZipRaw([e] + g.entries).build() }(), refused("is not a valid Cairn manifest")),
        HostileCase("forged manifest is dir", ZipRaw([E(ExportManifest.fileName + "/", mode: 0o040755)] + g.entries).build(), refused("lies at the top level")),
        HostileCase("forged format", g.forged { $0["format"] = "something-else" }, refused("has format")),
        HostileCase("forged version", g.forged { $0["formatVersion"] = 99 }, refused("of manifest version 99", .unsupportedFormat)),
        HostileCase("forged version huge", g.forged { $0["formatVersion"] = Int.max }, refused("of manifest version", .unsupportedFormat)),
        HostileCase("forged chunker zero", g.forged { m in var c = m["chunker"] as! [String: Any]; c["minSize"] = 0; c["avgSize"] = 0; c["maxSize"] = 0; m["chunker"] = c }, refused("is not supported by this version", .unsupportedFormat)),
        HostileCase("forged chunker huge", g.forged { m in var c = m["chunker"] as! [String: Any]; c["maxSize"] = Int.max; m["chunker"] = c }, refused("is not supported by this version", .unsupportedFormat)),
        HostileCase("forged manifest huge declared", { () -> [UInt8] in
            var e = E.deflated(ExportManifest.fileName, Array("{}".utf8)); e.usize = 2 << 30
            return ZipRaw([e] + g.entries).build()
        }(), refused("-byte limit for a manifest")),
        HostileCase("forged future time", g.forged(g.snapshotField("timeNs", future)), .imported { r, repo in
            let all = try repo.snapshots()
            let rec = try repo.resolve(r.snapshot).record
            // The record keeps its claim, but orders at its import time, not in the future.
            guard rec.imported != nil, rec.timeNs == future else { return "record \(rec.timeNs) imported \(String(describing: rec.imported))" }
            return SnapshotOrder.orderTime(all.first { $0.id == r.snapshot }!, now: SnapshotOrder.nowNs()) <= SnapshotOrder.nowNs() ? nil : "orders in the future"
        }),
        HostileCase("forged time max", g.forged(g.snapshotField("timeNs", Int64.max)), record { $0.imported == nil ? "not marked imported" : nil }),
        HostileCase("forged time min", g.forged(g.snapshotField("timeNs", Int64.min)), record { $0.timeNs == .min ? nil : "time \($0.timeNs)" }),
        HostileCase("forged time overflow", g.forged(g.snapshotField("timeNs", 1e300)), refused("is not a valid Cairn manifest")),
        HostileCase("forged hostname local", g.forged(g.snapshotField("hostname", FS.hostname())), record { $0.imported != nil ? nil : "not marked imported" }),
        HostileCase("forged safety tag", g.forged(g.snapshotField("tags", [RetentionPolicy.safetyTag])), record { $0.tags.contains(RetentionPolicy.safetyTag) ? nil : "tag lost" }),
        HostileCase("forged message escapes", g.forged(g.snapshotField("message", "\u{1B}]0;pwned\u{07}\nline")), imports()),
        HostileCase("forged huge counts", g.forged { m in
            var list = m["silos"] as! [[String: Any]]
            list[0]["files"] = Int.max; list[0]["bytes"] = UInt64.max; list[0]["dirs"] = Int.max; list[0]["filesRead"] = Int.max
            m["silos"] = list
        }, record { r in
            let s = r.silos[0]
            return s.files == 2 && s.bytes == 3006 && s.filesRead <= 2 && s.dirs == 2 ? nil : "counts \(s.files) \(s.bytes) \(s.dirs) \(s.filesRead)"
        }),
        HostileCase("forged negative counts", g.forged { m in
            var list = m["silos"] as! [[String: Any]]
            list[0]["filesRead"] = -5; list[0]["sqliteDatabases"] = -1
            m["silos"] = list
        }, record { $0.silos[0].filesRead == 0 && $0.silos[0].sqliteDatabases == 0 ? nil : "negative counts kept" }),
        HostileCase("forged huge inode and times", g.forged(g.entry("data/a.txt") { $0["inode"] = UInt64.max; $0["ctimeNs"] = Int64.min; $0["mtimeNs"] = Int64.max }), imports()),
        HostileCase("forged setuid mode", g.forged(g.entry("data/a.txt") { $0["mode"] = 0o4777 }), .imported { r, repo in
            let rec = try repo.resolve(r.snapshot).record
            let tree = try repo.tree(BlockId(hex: rec.silos[0].tree)!, reader: repo.makeReader(), path: "data")
            return tree.entry(named: "a.txt")?.mode == 0o777 ? nil : "mode \(String(tree.entry(named: "a.txt")?.mode ?? 0, radix: 8))"
        }),
        HostileCase("forged mode huge", g.forged(g.entry("data/a.txt") { $0["mode"] = UInt32.max }), imports()),
        HostileCase("forged mode overflow", g.forged(g.entry("data/a.txt") { $0["mode"] = UInt64.max }), refused("is not a valid Cairn manifest")),
        HostileCase("forged flags overflow", g.forged(g.entry("data/a.txt") { $0["flags"] = 300 }), refused("is not a valid Cairn manifest")),
        HostileCase("forged entries not array", g.forged { $0["entries"] = "x" }, refused("is not a valid Cairn manifest")),
        HostileCase("forged snapshot missing", g.forged { $0["snapshot"] = nil }, refused("is not a valid Cairn manifest")),
    ]
    // Symlink in a forged export that later entries would write through.
    out.append(HostileCase("forged write through link", g.forged({ m in
        var list = m["entries"] as! [[String: Any]]
        list.append(["path": "data/link/pwned", "type": "file", "mode": 420, "mtimeNs": 0, "ctimeNs": 0, "inode": 0, "size": 1, "flags": 0, "fingerprint": 0,
                     "sha256": String(repeating: "a", count: 64)])
        m["entries"] = list
    }, entries: { $0 + [E("data/link/pwned", "x")] }), refused("which is a symlink")))
    return out
}

// MARK: - Tests

@Suite(.serialized) struct HostileArchiveTests {
    @Test func everyHostileArchiveIsRefusedOrImportedSafely() throws {
        let bench = try HostileBench("cairn-hostile")
        let genuine = try Genuine(dir: bench.dir)
        let classes: [(String, [HostileCase])] = [
            ("traversal", traversalCases()), ("unicode", unicodeCases()), ("symlinks", symlinkCases()), ("duplicates", duplicateCases()),
            ("bombs", bombCases()), ("lies", lyingCases()), ("zip64", zip64Cases()), ("methods", methodCases()), ("modes", modeCases()),
            ("forged", forgedCases(genuine)),
        ]
        var total = 0
        var failures: [String] = []
        for (_, cases) in classes {
            for c in cases {
                if let f = bench.run(c, index: total) { failures.append(f) }
                total += 1
            }
        }
        print("hostile archives: \(total) (" + classes.map { "\($0.0) \($0.1.count)" }.joined(separator: ", ") + ")")
        #expect(total >= 150, "only \(total) archives")
        #expect(failures.isEmpty, "\(failures.count) of \(total) cases misbehaved:\n\(failures.joined(separator: "\n"))")
        // The imported snapshots never became the parent of, or `latest` over, a local snapshot.
        #expect(try bench.repo.snapshots().allSatisfy { $0.record.imported != nil })
    }

    /// A sample of the suite through the real binary: exit code and one line on stderr.
    @Test func refusalsAreOneLineWithTheDocumentedExitCode() throws {
        let t = TempDir("cairn-hostile-cli"); defer { t.remove() }
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        let sample = traversalCases().prefix(8) + zip64Cases().dropFirst().prefix(8) + methodCases().prefix(4)
        for (i, c) in sample.enumerated() {
            guard case .refused(let code, let fragment) = c.expect else { continue }
            let path = t.sub("c\(i).zip")
            try writeFile(path, c.bytes)
            let r = try cairn(repo, ["import", path])
            #expect(r.status == code.exitCode, "\(c.label): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(fragment) && r.stderr.split(separator: "\n").count == 1, "\(c.label): \(r.stderr)")
        }
        #expect(try snapshotCount(repo) == 0)
    }
}
