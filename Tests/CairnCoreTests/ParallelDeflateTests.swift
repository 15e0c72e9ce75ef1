import CairnCore
import CairnTestSupport
import Foundation
import Testing

/// Deflate on all cores (pigz-style independent 128 KiB blocks primed with the previous 32 KiB):
/// the output is one valid Deflate stream per entry, read by five ZIP tools and by Cairn's own
/// reader, identical whatever the number of workers, and about the size of one zlib stream.
@Suite struct ParallelDeflateTests {
    static let block = 128 << 10

    /// Entries around every boundary: empty, one byte, one block, a whole batch (4 blocks per
    /// worker; 1, 2 and 3 workers), a batch plus one byte, and several MiB of mixed content.
    static func items() -> [ZipTestKit.Item] {
        var rng = SeededBytes(seed: 16)
        let words = (0..<200).map { i in Array("word\(i * 7919 % 1013) ".utf8) }
        func text(_ n: Int) -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(n + 16)
            while out.count < n { out += words[rng.int(words.count)] }
            return Array(out[0..<n])
        }
        let t: Int64 = 1_700_000_000_000_000_000
        var items: [ZipTestKit.Item] = []
        func add(_ name: String, _ content: [UInt8], level: Int32 = 1) {
            items.append(ZipTestKit.Item(name: name, kind: .file, mode: 0o644, mtimeNs: t, content: content, method: .deflate(level: level)))
        }
        add("empty", [])
        add("one", [0x41])
        add("block", text(block))
        for w in 1...3 { add("batch\(w)", text(4 * w * block)) }
        add("batch2-plus-one", text(8 * block + 1))
        add("mixed", text(1_500_000) + rng.bytes(700_000) + text(1_300_001), level: 6)
        add("level9", text(3 * block + 12345), level: 9)
        return items
    }

    static func archive(_ items: [ZipTestKit.Item], workers: Int) throws -> [UInt8] {
        let sink = MemorySink()
        try ZipTestKit.write(items, to: ZipWriter(sink: sink, deflateWorkers: workers))
        return sink.bytes
    }

    @Test func fiveToolsReadTheParallelOutput() throws {
        let t = TempDir("cairn-pdeflate")
        defer { t.remove() }
        let items = Self.items()
        let bytes = try Self.archive(items, workers: 2)
        // The bytes do not depend on the number of workers (nor on timing).
        #expect(try Self.archive(items, workers: 1) == bytes)
        #expect(try Self.archive(items, workers: 3) == bytes)
        let path = t.sub("p.zip")
        try writeFile(path, bytes)
        func expectSame(_ dir: String, _ tool: String) throws {
            for it in items {
                #expect(try FS.readAll(dir + "/" + it.name) == it.content, "\(tool): \(it.name)")
            }
        }
        // 1. Info-ZIP unzip: test and extract.
        let ut = try ZipTestKit.tool("unzip", ["-t", path])
        #expect(ut.status == 0 && ut.stdout.contains("No errors detected"), "\(ut.stdout)\(ut.stderr)")
        #expect(try ZipTestKit.tool("unzip", ["-q", path, "-d", t.sub("unzip")]).status == 0)
        try expectSame(t.sub("unzip"), "unzip")
        // 2. Python's zipfile (zlib inflate, CRC checked on read).
        let py = try ZipTestKit.python("""
        import zipfile, sys, os
        z = zipfile.ZipFile(sys.argv[1])
        assert z.testzip() is None
        z.extractall(sys.argv[2])
        print(len(z.namelist()))
        """, [path, t.sub("python")])
        #expect(py.status == 0 && py.stdout == "\(items.count)\n", "\(py.stdout)\(py.stderr)")
        try expectSame(t.sub("python"), "python")
        // 3. libarchive's bsdtar.
        try FS.mkdirs(t.sub("bsdtar"))
        let bt = try ZipTestKit.tool("bsdtar", ["-xf", path, "-C", t.sub("bsdtar")])
        #expect(bt.status == 0, "\(bt.stderr)")
        try expectSame(t.sub("bsdtar"), "bsdtar")
        // 4. 7-Zip: test and extract.
        let st = try ZipTestKit.tool("7z", ["t", path])
        #expect(st.status == 0 && st.stdout.contains("Everything is Ok"), "\(st.stdout)\(st.stderr)")
        #expect(try ZipTestKit.tool("7z", ["x", "-y", "-o" + t.sub("7z"), path]).status == 0)
        try expectSame(t.sub("7z"), "7z")
        // 5. The JDK's jar (java.util.zip's Inflater).
        try FS.mkdirs(t.sub("jar"))
        let jr = try run("/bin/sh", ["-c", "cd \"$1\" && exec jar xf \"$2\"", "sh", t.sub("jar"), path])
        #expect(jr.status == 0, "\(jr.stderr)")
        try expectSame(t.sub("jar"), "jar")
        // And Cairn's own hardened reader.
        let r = try ZipReader(path: path)
        #expect(r.entries.count == items.count)
        for (e, it) in zip(r.entries, items) { #expect(try r.contents(e) == it.content, "cairn: \(it.name)") }
    }

    @Test func sizeIsCloseToOneZlibStream() throws {
        let items = Self.items().filter { $0.name == "mixed" }
        let bytes = try Self.archive(items, workers: 2)
        // One zlib stream at the same level (raw deflate), from Python.
        let t = TempDir("cairn-pdeflate")
        defer { t.remove() }
        try writeFile(t.sub("in"), items[0].content)
        let one = try ZipTestKit.python("""
        import zlib, sys
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = open(sys.argv[1], "rb").read()
        print(len(c.compress(data) + c.flush()))
        """, [t.sub("in")])
        let single = try #require(Int(one.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let parallel = bytes.count - 200   // headers, descriptor and central directory of one entry
        print("FIGURE parallel deflate: \(parallel) B against one zlib stream's \(single) B")
        #expect(Double(parallel) <= Double(single) * 1.01)
    }
}
