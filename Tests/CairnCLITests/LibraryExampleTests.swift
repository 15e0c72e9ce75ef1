// The library entry point through the example app (Examples/SnapshotOnLaunch, built as
// `cairn-example` beside `cairn`): it snapshots a temp folder through `CairnSession` and
// `cairn list` sees the snapshot, with its tag and metadata; the repository's hooks run for
// the app too, and a failing before-snapshot hook stops the app's snapshot (exit 24).

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct LibraryExampleTests {
    func example() -> String { FS.parent(cairnBinary()) + "/cairn-example" }

    @Test func exampleSnapshotsThroughTheLibrary() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("data/state.json"), Array(#"{"n":1}"#.utf8))
        let repo = t.sub("repo")
        let first = try run(example(), [repo, t.sub("data")])
        #expect(first.status == 0 && first.stdout.contains("taken at launch"), "\(first.stderr)")
        let list = try cairn(repo, ["list"])
        #expect(list.status == 0 && list.stdout.split(separator: "\n").count == 1, "\(list.stdout)")
        #expect(list.stdout.contains("[startup]") && list.stdout.contains("{app=snapshot-on-launch app_version=1.0}"), "\(list.stdout)")
        #expect(try cairn(repo, ["cat", "latest", "data/state.json"]).stdout == #"{"n":1}"#)

        // Hooks set through the CLI run for the app; the stored policy is applied after its snapshot.
        #expect(try cairn(repo, ["hook", "set", "after-snapshot", "echo \"$CAIRN_SNAPSHOT_ID\" > \(t.sub("after"))"]).status == 0)
        #expect(try cairn(repo, ["policy", "set", "--keep-last", "1"]).status == 0)
        let second = try run(example(), [repo, t.sub("data")])
        #expect(second.status == 0, "\(second.stderr)")
        let ids = try cairn(repo, ["list", "--json"]).stdout
        let after = String(decoding: try FS.readAll(t.sub("after")), as: UTF8.self).trimmingCharacters(in: .newlines)
        #expect(after.count == 64 && ids.contains(after), "\(after) / \(ids)")
        #expect(try cairn(repo, ["list"]).stdout.split(separator: "\n").count == 1, "the stored policy was not applied")

        #expect(try cairn(repo, ["hook", "set", "before-snapshot", "exit 9"]).status == 0)
        let refused = try run(example(), [repo, t.sub("data")])
        #expect(refused.status == 24 && refused.stderr.contains("exited with status 9"), "\(refused.stderr)")
    }
}
