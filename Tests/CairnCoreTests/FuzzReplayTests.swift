// Replays every committed fuzz input (seed corpus and crashers, Tests/Fixtures/fuzz/<harness>/)
// through the same harness bodies libFuzzer runs (FuzzTargets). A trap here is a regression of
// a fixed crash; the harnesses swallow `CairnError`, so returning is the pass condition.

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite struct FuzzReplayTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fuzz").path

    @Test func everyHarnessHasACorpusFolder() throws {
        for name in FuzzTargets.all.keys {
            #expect(FS.exists(FuzzReplayTests.fixtures + "/" + name), "no Tests/Fixtures/fuzz/\(name)")
        }
    }

    @Test func committedInputsReplayWithoutTrapping() throws {
        var replayed = 0
        for (name, harness) in FuzzTargets.all.sorted(by: { $0.key < $1.key }) {
            let dir = FuzzReplayTests.fixtures + "/" + name
            guard FS.exists(dir) else { continue }
            for file in try FS.list(dir).sorted() where !file.hasPrefix(".") {
                harness(try FS.readAll(dir + "/" + file))
                replayed += 1
            }
        }
        #expect(replayed >= 10, "only \(replayed) inputs")
    }

    /// Inputs that once trapped, written out so they stay covered even if a corpus is pruned.
    @Test func knownCrashersAreErrors() throws {
        // A negative pack size in an index row (packList converted it with UInt64(_:)).
        let t = TempDir("cairn-fuzz-index"); defer { t.remove() }
        let index = try RepositoryIndex(path: t.sub("index.sqlite"))
        try index.addPack(name: "p", size: 10, entries: [])
        let db = try SQLiteDB(path: t.sub("index.sqlite"))
        try db.exec("UPDATE packs SET size = -1")
        #expect(throws: CairnError.self) { try index.packList() }
    }
}
