// A command silo does not block a plain in-place restore: `cairn restore latest` restores the
// other silos and reports the command silo as skipped; naming it alone is still refused.

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct CommandSiloRestoreTests {
    @Test func plainRestoreSkipsCommandSilos() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("app/a.txt"), Array("v1".utf8))
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "app", t.sub("app")]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "dump", "--command", "echo dumped", "--filename", "dump.txt"]).status == 0)
        #expect(try cairn(repo, ["snapshot"]).status == 0)
        let id = String(try cairn(repo, ["list"]).stdout.prefix(12))
        try writeFile(t.sub("app/a.txt"), Array("v2".utf8))
        let dry = try cairn(repo, ["restore", id, "--dry-run"])
        #expect(dry.status == 0 && dry.stderr.contains("silo 'dump' skipped"), "\(dry.stderr)")
        let r = try cairn(repo, ["restore", id])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("cairn: warning: silo 'dump' skipped: it is a command silo"), "\(r.stderr)")
        #expect(try FS.readAll(t.sub("app/a.txt")) == Array("v1".utf8))
        let only = try cairn(repo, ["restore", id, "--silo", "dump"])
        #expect(only.status == 18 && only.stderr.contains("is a command silo"), "\(only.stderr)")
    }
}
