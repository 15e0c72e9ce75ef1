import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Reads every path of a snapshot silo back through the manifest API: path -> state.
func digestSnapshot(_ r: Repository, _ snap: Snapshot, silo: String) throws -> [String: PathState] {
    let reader = r.makeReader()
    var out: [String: PathState] = [:]
    try r.list(snap, path: FileName(utf8: silo), recursive: true, reader: reader) { le in
        let rel = String(le.path.jsonText.dropFirst(silo.count + 1))
        let e = le.entry
        switch e.kind {
        case .directory: out[rel] = PathState(kind: "dir", mode: e.mode, mtimeNs: 0, size: 0, sha: "", target: "")
        case .symlink: out[rel] = PathState(kind: "symlink", mode: 0, mtimeNs: 0, size: 0, sha: "", target: e.target?.jsonText ?? "")
        case .file:
            let h = SHA256Hasher()
            h.reset()
            try r.readContent(e, path: le.path.escaped, reader: reader) { h.update($0) }
            out[rel] = PathState(kind: "file", mode: e.mode, mtimeNs: e.mtimeNs, size: e.size, sha: h.finish().hex, target: "")
        }
    }
    return out
}

@Suite(.serialized) struct SnapshotTests {
    @Test func tortureTreeRoundTripsThroughTheManifestAPI() throws {
        let t = TempDir()
        defer { t.remove() }
        let n = try makeTortureTree(at: t.sub("silo"), files: 10_000, largeSparseBytes: (1 << 30) + 12345)
        #expect(n >= 10_000)
        let r = try makeRepository(t, silos: ["torture": t.sub("silo")])
        let res = try snapshot(r)
        #expect(res.warnings.isEmpty, "\(res.warnings)")
        let snap = try #require(res.snapshot)
        let live = try digestTree(t.sub("silo"))
        let stored = try digestSnapshot(r, snap, silo: "torture")
        #expect(live.count == stored.count)
        for (k, v) in live where stored[k] != v {
            Issue.record("mismatch at \(k): live \(v) stored \(String(describing: stored[k]))")
        }
        #expect(stored["large.sparse"]?.size == (1 << 30) + 12345)
        #expect(stored["d0/link-dangling"]?.target == "/nonexistent/target")
        #expect(stored["empty/e3/deeper"]?.kind == "dir")
        #expect(stored["odd/new\nline.txt"] != nil)
        #expect(try r.check(readData: false).ok)
    }

    @Test func unchangedSecondSnapshotReadsNoContent() throws {
        let t = TempDir()
        defer { t.remove() }
        try makeTortureTree(at: t.sub("a"), files: 2000)
        try writeFile(t.sub("b/one.txt"), Array("hello".utf8))
        let r = try makeRepository(t, silos: ["a": t.sub("a"), "b": t.sub("b")])
        let first = try snapshot(r)
        #expect(first.filesRead >= 2000)
        let second = try snapshot(r)
        #expect(second.filesRead == 0)
        #expect(second.bytesRead == 0)
        #expect(second.stats.blocksAdded == 0)
        #expect(second.snapshot?.record.silos.map(\.filesRead) == [0, 0])
        // Same trees: unchanged subtrees share ids.
        #expect(first.trees == second.trees)
        // Touching one file makes exactly that one be read again.
        try writeFile(t.sub("b/one.txt"), Array("hello!".utf8))
        let third = try snapshot(r)
        #expect(third.filesRead == 1)
    }

    @Test func dedupAndSmallChangesAddLittle() throws {
        let t = TempDir()
        defer { t.remove() }
        var rng = SeededBytes(seed: 99)
        let hundred = rng.bytes(100 << 20)
        try writeFile(t.sub("a/data.bin"), hundred)
        try writeFile(t.sub("b/copy.bin"), hundred)
        let r = try makeRepository(t, silos: ["a": t.sub("a"), "b": t.sub("b")])
        let first = try #require(try snapshot(r).snapshot)
        // Two silos with the same 100 MiB: stored once (random data does not compress).
        #expect(first.record.bytesAdded < (100 << 20) + (2 << 20))
        #expect(first.record.bytesAdded > (100 << 20) - (1 << 20))

        // Append 1 KB to the 100 MB file.
        let f = try PosixFile.open(t.sub("a/data.bin"), O_WRONLY | O_APPEND)
        try f.write(rng.bytes(1024))
        f.close()
        let appended = try #require(try snapshot(r).snapshot)
        print("FIGURE append 1 KiB to 100 MiB: added \(appended.record.bytesAdded) bytes")
        #expect(appended.record.bytesAdded < 1 << 20)

        // 100 random 4 KiB page writes into a 300 MiB file.
        try writeFile(t.sub("c/vectors.f32"), rng.bytes(300 << 20))
        try r.addSilo(Silo(name: "c", path: t.sub("c")))
        let base = try #require(try snapshot(r, silos: ["c"]).snapshot)
        let g = try PosixFile.open(t.sub("c/vectors.f32"), O_WRONLY)
        for _ in 0..<100 {
            let page = UInt64(rng.int((300 << 20) / 4096))
            _ = rng.bytes(4096).withUnsafeBytes { p in pwrite(g.fd, p.baseAddress, 4096, off_t(page * 4096)) }
        }
        g.close()
        let paged = try #require(try snapshot(r, silos: ["c"]).snapshot)
        let ratio = Double(paged.record.bytesAdded) / Double(100 * 4096)
        print("FIGURE 100 random 4 KiB pages in 300 MiB: added \(paged.record.bytesAdded) bytes = \(String(format: "%.2f", ratio))x the 400 KiB written; \(paged.record.blocksAdded) new blocks; mean block \((300 << 20) / max(1, base.record.blocksAdded)) B")
        // Content-defined chunking re-cuts about two 9 KiB blocks per page (Docs/Format.md, "Chunk sizes").
        #expect(ratio < 8)
    }

    @Test func commandSiloRoundTripsAndFailureIsIsolated() throws {
        let t = TempDir()
        defer { t.remove() }
        try writeFile(t.sub("plain/x.txt"), Array("x".utf8))
        let r = try makeRepository(t, silos: ["plain": t.sub("plain")])
        try r.addSilo(Silo(name: "dump", command: "seq 1 200000", filename: "numbers.txt"))
        try r.addSilo(Silo(name: "broken", command: "echo partial; exit 3", filename: "b.txt"))
        let res = try snapshot(r)
        #expect(res.failedSilos["broken"]?.contains("exited with status 3") == true)
        let snap = try #require(res.snapshot)
        #expect(snap.record.silos.map(\.name).sorted() == ["dump", "plain"])
        #expect(snap.record.partial)
        let reader = r.makeReader()
        let le = try r.lookup(snap, path: "dump/numbers.txt", reader: reader)
        var got: [UInt8] = []
        try r.readContent(le.entry, path: le.path.escaped, reader: reader) { got += $0 }
        let expected = try sh("seq 1 200000").stdoutBytes
        #expect(got == expected)
    }
}
