// Local folder specifics: format 1 paths, no temporary file left by a failed put, stale
// temporaries of a crashed put removed (young ones kept).

import CairnStorage
import Foundation
import Testing

@Suite struct LocalBackendTests {
    @Test func failedPutLeavesNoTemporaryAndStaleOnesAreRemoved() async throws {
        let dir = try TempDir.make()
        let b = LocalBackend(path: dir)
        let h = handle(.pack, "abcdef")
        try await b.put(h, bytes: [1, 2, 3])
        #expect(FileManager.default.fileExists(atPath: dir + "/packs/ab/abcdef.pack"))
        #expect(await storageError { try await b.put(h, bytes: [4]) }?.kind == .alreadyExists)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/tmp").isEmpty)
        // What a crash mid-put leaves: one old temporary, one young (a writer still busy), one foreign file.
        let old = dir + "/tmp/pack-0123.77.tmp", young = dir + "/tmp/index-4567.78.tmp", other = dir + "/tmp/capture.sqlite"
        for p in [old, young, other] { #expect(FileManager.default.createFile(atPath: p, contents: Data([1]))) }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: old)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: other)
        #expect(try b.removeStaleTemporaries(olderThan: 3600) == 1)
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(FileManager.default.fileExists(atPath: young) && FileManager.default.fileExists(atPath: other))
        #expect(try await b.listAll(.pack).map(\.handle.name) == ["abcdef"])
    }

    @Test func missingRepositoryFolderIsNotFound() async throws {
        let b = LocalBackend(path: try TempDir.make() + "/absent")
        let e = await storageError { try await b.put(handle(.pack, "abcdef"), bytes: [1]) }
        #expect(e?.kind == .notFound && e?.message.contains("does not exist") == true, "\(e?.message ?? "")")
        #expect(try await b.listAll(.snapshot).isEmpty)
    }
}
