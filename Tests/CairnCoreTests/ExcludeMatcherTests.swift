import CairnCore
import CairnTestSupport
import Testing

/// The exclude pattern language (Docs/CLI.md "Exclude patterns"), on bytes.
@Suite struct ExcludeMatcherTests {
    func ex(_ m: ExcludeMatcher, _ rel: String, dir: Bool = false) -> Bool {
        let r = FileName(utf8: rel)
        return m.excludes(r, name: r.lastComponent, isDirectory: dir)
    }

    @Test func gitignoreLikeRules() {
        let m = ExcludeMatcher(fileBytes: Array("# c\n\n*.log\n!keep.log\nbuild/\n/top\na/*.o\n**/deep/x?\n[ab]c\n\\#hash\ntrail\\ \n".utf8))
        #expect(ex(m, "x.log") && ex(m, "d/e/x.log"))
        #expect(!ex(m, "keep.log") && !ex(m, "d/keep.log"))
        #expect(ex(m, "build", dir: true) && ex(m, "q/build", dir: true) && !ex(m, "build"))
        #expect(ex(m, "top") && !ex(m, "q/top"))
        #expect(ex(m, "a/b.o") && !ex(m, "a/b/c.o") && !ex(m, "q/a/b.o"))
        #expect(ex(m, "deep/x1") && ex(m, "p/q/deep/xy") && !ex(m, "deep/x12"))
        #expect(ex(m, "ac") && ex(m, "q/bc") && !ex(m, "cc"))
        #expect(ex(m, "#hash") && !ex(m, "c"))
        #expect(ex(m, "trail "))
        #expect(ExcludeMatcher.patternLines(Array("# c\n\n*.log \n".utf8)) == [Array("*.log".utf8)])
    }

    @Test func bytesAndHostilePatterns() {
        let m = ExcludeMatcher(patterns: [[0xFF, 0x2A], [0x5B], Array("**/**/**/z".utf8), Array("*a*a*a*a*a*a*b".utf8)])
        let odd = FileName(bytes: [0xFF, 0x00 + 0x41])
        #expect(m.excludes(odd, name: odd, isDirectory: false))
        #expect(ex(m, "["))                     // an unclosed class is a literal
        #expect(ex(m, "z") && ex(m, "a/b/c/d/z"))
        #expect(!ex(m, String(repeating: "a", count: 5000)))  // linear, no blow-up
        #expect(!ExcludeMatcher([]).active && !ex(ExcludeMatcher([""]), "x"))
    }

    @Test func unchangedRule() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("f"), Array("x".utf8))
        let st = try FS.lstat(t.sub("f"))
        var e = TreeEntry(name: "f", kind: .file, mode: st.mode, mtimeNs: 0, inode: st.inode, size: st.size)
        e.mtime = st.mtime
        e.ctime = st.ctime
        #expect(Unchanged.file(e, st, path: FileName(utf8: t.sub("f"))))
        var torn = e
        torn.flags |= TreeEntry.flagChangedWhileReading
        #expect(!Unchanged.file(torn, st, path: FileName(utf8: t.sub("f"))))
        var db = e
        db.flags |= TreeEntry.flagSQLite
        #expect(Unchanged.file(db, st, path: FileName(utf8: t.sub("f"))))
        try writeFile(t.sub("f-wal"), [1])
        #expect(!Unchanged.file(db, st, path: FileName(utf8: t.sub("f"))))
        var moved = e
        moved.inode &+= 1
        #expect(!Unchanged.file(moved, st, path: FileName(utf8: t.sub("f"))))
    }
}
