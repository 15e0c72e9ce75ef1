// ZipWriter: archives validated with external tools (unzip, zipinfo, python zipfile, bsdtar,
// 7z), streaming through a pipe, the exact stored-size estimate, ZIP64 (>65,535 entries and a
// sparse 4.3 GiB entry) and misuse errors. Shared fixtures (ZipTestKit) serve ZipReaderTests too.

import CairnCore
import CairnTestSupport
import CZlib
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Fixtures and helpers shared by the ZIP test suites.
enum ZipTestKit {
    struct Item {
        var name: String
        var kind: ZipEntryKind
        var mode: UInt32
        var mtimeNs: Int64
        var content: [UInt8] = []
        var target: String = ""
        var method: ZipMethod = .store
        var precomputedCRC = false
    }

    /// A mix of kinds, methods, modes and UTF-8 names.
    static func mixedItems() -> [Item] {
        var rng = SeededBytes(seed: 42)
        let text = Array(String(repeating: "cairn zip line with some repetition 0123456789\n", count: 40_000).utf8)
        let t: Int64 = 1_600_000_000_123_456_789
        return [
            Item(name: "silo/", kind: .directory, mode: 0o755, mtimeNs: t),
            Item(name: "silo/empty-dir", kind: .directory, mode: 0o700, mtimeNs: t + 1_000_000_000),
            Item(name: "silo/empty.txt", kind: .file, mode: 0o644, mtimeNs: t + 2_000_000_000),
            Item(name: "silo/empty-deflated.txt", kind: .file, mode: 0o600, mtimeNs: t, method: .deflate),
            Item(name: "silo/ünïcödé-日本語.txt", kind: .file, mode: 0o640, mtimeNs: t, content: Array("héllo wörld ✓\n".utf8), method: .deflate),
            Item(name: "silo/emoji-🪨.md", kind: .file, mode: 0o444, mtimeNs: t, content: Array("# rock\n".utf8)),
            Item(name: "silo/bin/", kind: .directory, mode: 0o755, mtimeNs: t),
            Item(name: "silo/bin/tool", kind: .file, mode: 0o755, mtimeNs: t, content: rng.bytes(300_000), method: .deflate(level: 1)),
            Item(name: "silo/data/compressible.log", kind: .file, mode: 0o644, mtimeNs: t, content: text, method: .deflate(level: 9)),
            Item(name: "silo/data/stored.bin", kind: .file, mode: 0o600, mtimeNs: t, content: rng.bytes(100_000), precomputedCRC: true),
            Item(name: "silo/odd name & 'quote'.txt", kind: .file, mode: 0o644, mtimeNs: t, content: [1, 2, 3], method: .deflate(level: 0)),
            Item(name: "silo/link-to-tool", kind: .symlink, mode: 0o777, mtimeNs: t, target: "bin/tool"),
        ]
    }

    /// Writes `items` (files in 7,777-byte pieces) and finishes the archive.
    @discardableResult
    static func write(_ items: [Item], to w: ZipWriter, giveSizes: Bool = true) throws -> UInt64 {
        for it in items {
            switch it.kind {
            case .directory: try w.addDirectory(name: it.name, mode: it.mode, mtimeNs: it.mtimeNs)
            case .symlink: try w.addSymlink(name: it.name, target: it.target, mode: it.mode, mtimeNs: it.mtimeNs)
            case .file:
                try w.beginFile(name: it.name, mode: it.mode, mtimeNs: it.mtimeNs, method: it.method,
                                size: giveSizes ? UInt64(it.content.count) : nil, precomputedCRC: it.precomputedCRC)
                try it.content.withUnsafeBytes { b in
                    var off = 0
                    while off < b.count {
                        let n = min(7777, b.count - off)
                        try w.writeData(UnsafeRawBufferPointer(rebasing: b[off..<off + n]))
                        off += n
                    }
                }
                try w.finishFile(knownCRC: it.precomputedCRC ? CRC32.checksum(it.content) : nil)
            }
        }
        return try w.finish()
    }

    static func writeFile(_ items: [Item], path: String, giveSizes: Bool = true) throws -> UInt64 {
        let sink = try FileSink(path: path)
        return try write(items, to: ZipWriter(sink: sink), giveSizes: giveSizes)
    }

    /// Runs a tool from PATH.
    static func tool(_ name: String, _ args: [String]) throws -> RunResult {
        try run("/bin/sh", ["-c", "exec \"$0\" \"$@\"", name] + args)
    }

    /// Runs a Python snippet with arguments.
    static func python(_ script: String, _ args: [String]) throws -> RunResult {
        try run("/bin/sh", ["-c", "exec python3 -c \"$ZIPTEST_SCRIPT\" \"$@\"", "sh"] + args, env: ["ZIPTEST_SCRIPT": script])
    }

    /// CRC-32 of `n` zero bytes without touching `n` bytes (crc32_combine doubling).
    static func crcOfZeros(_ n: UInt64) -> UInt32 {
        var result: UInt32 = 0
        var block = CRC32.checksum([0])
        var blockLength: UInt64 = 1
        var m = n
        while m > 0 {
            if m & 1 == 1 { result = CRC32.combine(result, block, lengthB: blockLength) }
            block = CRC32.combine(block, block, lengthB: blockLength)
            blockLength <<= 1
            m >>= 1
        }
        return result
    }

    /// Streams `count` zero bytes into the open entry, 1 MiB at a time.
    static func writeZeros(_ w: ZipWriter, _ count: UInt64) throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var left = count
        try zeros.withUnsafeBytes { z in
            while left > 0 {
                let n = Int(min(UInt64(z.count), left))
                try w.writeData(UnsafeRawBufferPointer(rebasing: z[0..<n]))
                left -= UInt64(n)
            }
        }
    }
}

/// Counts bytes and keeps nothing.
final class ZipCountingSink: ByteSink {
    private(set) var count: UInt64 = 0
    func write(_ bytes: UnsafeRawBufferPointer) throws { count += UInt64(bytes.count) }
}

/// Writes to a file, turning runs of zeros into holes so multi-GiB test archives stay sparse.
final class ZipSparseSink: ByteSink {
    let fd: Int32
    private(set) var position: UInt64 = 0
    private static let zeros = [UInt8](repeating: 0, count: 1 << 20)

    init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CairnError.posix("cannot create", path: path) }
    }

    deinit { close(fd) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let allZero = bytes.count >= 4096 && bytes.count <= ZipSparseSink.zeros.count
            && ZipSparseSink.zeros.withUnsafeBytes { memcmp($0.baseAddress!, base, bytes.count) == 0 }
        if !allZero {
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, base + done, bytes.count - done, off_t(position) + off_t(done))
                if n < 0 { throw CairnError.posix("cannot write", path: "sparse sink") }
                done += n
            }
        }
        position += UInt64(bytes.count)
    }

    func finish() throws {
        if ftruncate(fd, off_t(position)) != 0 { throw CairnError.posix("cannot truncate", path: "sparse sink") }
    }
}

/// Python check: testzip, then one JSON line per entry: name, mode, size, sha256, date_time.
let zipPythonInspect = """
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
print(json.dumps({"bad": bad, "count": len(z.infolist())}))
if len(sys.argv) > 2:
    z.extractall(sys.argv[2])
    for i in z.infolist():
        print(json.dumps([i.filename, i.external_attr >> 16, i.file_size, hashlib.sha256(z.read(i)).hexdigest(), list(i.date_time)]))
"""

@Suite(.serialized) struct ZipWriterTests {
    @Test func mixedArchivePassesExternalTools() throws {
        let t = TempDir("cairn-zip")
        defer { t.remove() }
        let items = ZipTestKit.mixedItems()
        let zip = t.sub("mixed.zip")
        let size = try ZipTestKit.writeFile(items, path: zip)
        #expect(try FS.lstat(zip).size == size)

        let u = try ZipTestKit.tool("unzip", ["-t", zip])
        #expect(u.status == 0 && u.stdout.contains("No errors detected"), "\(u.stdout)\(u.stderr)")
        let zi = try ZipTestKit.tool("zipinfo", [zip])
        #expect(zi.status == 0, "\(zi.stderr)")
        #expect(zi.stdout.contains("-rwxr-xr-x") && zi.stdout.contains("lrwxrwxrwx") && zi.stdout.contains("drwx------"), "\(zi.stdout)")
        #expect(zi.stdout.contains("-r--r--r--") && zi.stdout.contains("-rw-r-----"), "\(zi.stdout)")
        let bt = try ZipTestKit.tool("bsdtar", ["-tf", zip])
        #expect(bt.status == 0 && bt.stdout.contains("silo/ünïcödé-日本語.txt") && bt.stdout.contains("silo/emoji-🪨.md"), "\(bt.stdout)\(bt.stderr)")
        let sz = try ZipTestKit.tool("7z", ["t", zip])
        #expect(sz.status == 0 && sz.stdout.contains("Everything is Ok"), "\(sz.stdout)\(sz.stderr)")

        // Python: testzip, extract, compare bytes and modes.
        let py = try ZipTestKit.python(zipPythonInspect, [zip, t.sub("py")])
        #expect(py.status == 0, "\(py.stderr)")
        let lines = py.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "{\"bad\": null, \"count\": \(items.count)}")
        var seen = 0
        for line in lines.dropFirst() {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])
            let name = row[0] as! String, mode = (row[1] as! NSNumber).uint32Value
            let item = try #require(items.first { $0.name == name || $0.name + "/" == name })
            let type: UInt32 = item.kind == .directory ? 0o040000 : item.kind == .symlink ? 0o120000 : 0o100000
            #expect(mode == type | item.mode, "\(name): mode \(String(mode, radix: 8))")
            if item.kind == .file {
                #expect(try FS.readAll(t.sub("py/" + name)) == item.content, "\(name)")
                #expect((row[2] as! NSNumber).intValue == item.content.count)
            }
            seen += 1
        }
        #expect(seen == items.count)

        // unzip restores modes, symlinks and the 0x5455 mtime.
        let x = try ZipTestKit.tool("unzip", ["-q", zip, "-d", t.sub("ux")])
        #expect(x.status == 0, "\(x.stderr)")
        #expect(try FS.readlink(t.sub("ux/silo/link-to-tool")) == "bin/tool")
        #expect(try FS.lstat(t.sub("ux/silo/bin/tool")).mode == 0o755)
        #expect(try FS.readAll(t.sub("ux/silo/data/compressible.log")) == items[8].content)
        #expect(try FS.lstat(t.sub("ux/silo/empty-dir")).kind == .directory)
        #expect(try FS.lstat(t.sub("ux/silo/ünïcödé-日本語.txt")).mtimeNs == 1_600_000_000 * 1_000_000_000)
    }

    @Test func writerWithoutSizesUsesZip64DescriptorsAndStillValidates() throws {
        let t = TempDir("cairn-zip")
        defer { t.remove() }
        let zip = t.sub("nosizes.zip")
        let size = try ZipTestKit.writeFile(ZipTestKit.mixedItems(), path: zip, giveSizes: false)
        let compact = try ZipTestKit.write(ZipTestKit.mixedItems(), to: ZipWriter(sink: MemorySink()))
        #expect(size == compact + 8 * (20 + 8), "eight files carry a local ZIP64 extra and a ZIP64 descriptor")
        for (tool, args, ok) in [("unzip", ["-t", zip], "No errors detected"), ("7z", ["t", zip], "Everything is Ok")] {
            let r = try ZipTestKit.tool(tool, args)
            #expect(r.status == 0 && r.stdout.contains(ok), "\(tool): \(r.stdout)\(r.stderr)")
        }
        let py = try ZipTestKit.python(zipPythonInspect, [zip])
        #expect(py.stdout.hasPrefix("{\"bad\": null"), "\(py.stdout)\(py.stderr)")
    }

    @Test func streamsThroughAPipeToAStreamingReader() throws {
        let t = TempDir("cairn-zip")
        defer { t.remove() }
        signal(SIGPIPE, SIG_IGN)
        try FS.mkdirs(t.sub("out"))
        // bsdtar reading from stdin uses libarchive's streaming (local-header) ZIP reader.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/bsdtar")
        p.arguments = ["-xvf", "-", "-C", t.sub("out")]
        let pipe = Pipe()
        p.standardInput = pipe
        _ = FileManager.default.createFile(atPath: t.sub("log"), contents: nil)
        let log = FileHandle(forWritingAtPath: t.sub("log"))!
        p.standardOutput = log
        p.standardError = log
        try p.run()
        let items = ZipTestKit.mixedItems()
        let fd = dup(pipe.fileHandleForWriting.fileDescriptor)
        try pipe.fileHandleForWriting.close()
        do {
            let sink = FileSink(file: PosixFile(fd: fd, path: "<pipe>"))
            try ZipTestKit.write(items, to: ZipWriter(sink: sink))
            sink.file.close()
        }
        p.waitUntilExit()
        try log.close()
        let out = String(decoding: try FS.readAll(t.sub("log")), as: UTF8.self)
        #expect(p.terminationStatus == 0, "\(out)")
        for it in items where it.kind == .file {
            #expect(try FS.readAll(t.sub("out/" + it.name)) == it.content, "\(it.name)")
        }
        // Local headers carry no Unix mode, so a streaming reader sees the link as a small file
        // holding its target.
        #expect(try FS.readAll(t.sub("out/silo/link-to-tool")) == Array("bin/tool".utf8))
    }

    @Test func estimateIsExactForManyShapes() throws {
        let g: UInt64 = 1 << 30
        let m32: UInt64 = 0xFFFF_FFFF
        let longName = "silo/" + String(repeating: "n", count: 1000)
        var shapes: [[ZipEntrySpec]] = [
            [],
            [ZipEntrySpec(name: "a", kind: .file, size: 0)],
            [ZipEntrySpec(name: "d", kind: .directory), ZipEntrySpec(name: "d/l", kind: .symlink, size: 7), ZipEntrySpec(name: "d/ü", kind: .file, size: 12345)],
            [ZipEntrySpec(name: longName, kind: .file, size: 99), ZipEntrySpec(name: "x/", kind: .directory)],
            [ZipEntrySpec(name: "big", kind: .file, size: m32 - 1), ZipEntrySpec(name: "after", kind: .file, size: 10)],
            [ZipEntrySpec(name: "edge", kind: .file, size: m32), ZipEntrySpec(name: "after", kind: .file, size: 10)],
            [ZipEntrySpec(name: "over", kind: .file, size: m32 + 1)],
            // Offsets cross 4 GiB mid-archive, then the central directory sits above 4 GiB.
            [ZipEntrySpec(name: "a", kind: .file, size: 2 * g), ZipEntrySpec(name: "b", kind: .file, size: 2 * g - 40),
             ZipEntrySpec(name: "c", kind: .file, size: 1000), ZipEntrySpec(name: "d/", kind: .directory), ZipEntrySpec(name: "e", kind: .symlink, size: 3)],
        ]
        shapes.append((0..<65_534).map { ZipEntrySpec(name: "f\($0)", kind: .file, size: UInt64($0 % 3)) })
        shapes.append((0..<65_535).map { ZipEntrySpec(name: "f\($0)", kind: .file, size: 1) })
        shapes.append((0..<70_000).map { (i: Int) -> ZipEntrySpec in
            let dir = i % 10 == 0
            return ZipEntrySpec(name: "d\(i % 7)/f\(i)", kind: dir ? .directory : .file, size: dir ? 0 : UInt64(i % 5))
        })
        for (i, shape) in shapes.enumerated() {
            let sink = ZipCountingSink()
            let w = ZipWriter(sink: sink)
            for e in shape {
                switch e.kind {
                case .directory: try w.addDirectory(name: e.name, mtimeNs: 0)
                case .symlink: try w.addSymlink(name: e.name, target: FileName(utf8: String(repeating: "t", count: Int(e.size))), mtimeNs: 0)
                case .file:
                    try w.beginFile(name: e.name, mtimeNs: 0, method: .store, size: e.size, precomputedCRC: true)
                    try ZipTestKit.writeZeros(w, e.size)
                    try w.finishFile(knownCRC: 0)
                }
            }
            let total = try w.finish()
            #expect(total == sink.count)
            #expect(try ZipWriter.estimateStoredSize(entries: shape) == total, "shape \(i)")
        }
    }

    @Test func manyEntriesUseZip64EndRecords() throws {
        let t = TempDir("cairn-zip")
        defer { t.remove() }
        let zip = t.sub("many.zip")
        let sink = try FileSink(path: zip)
        let w = ZipWriter(sink: sink)
        let n = 70_000
        for i in 0..<n {
            let body = Array("entry \(i)\n".utf8)
            try w.beginFile(name: "silo/d\(i % 100)/f\(i).txt", mtimeNs: 1_700_000_000_000_000_000, method: i % 2 == 0 ? .store : .deflate(level: 1), size: UInt64(body.count))
            try body.withUnsafeBytes { try w.writeData($0) }
            try w.finishFile()
        }
        let size = try w.finish()
        #expect(w.entryCount == n)
        let bytes = try FS.readAll(zip)
        #expect(UInt64(bytes.count) == size)
        // The classic end record says 0xFFFF; a ZIP64 record and locator precede it.
        let end = bytes.count - 22
        #expect(Array(bytes[end..<end + 4]) == [0x50, 0x4b, 0x05, 0x06] && bytes[end + 10] == 0xFF && bytes[end + 11] == 0xFF)
        #expect(Array(bytes[end - 20..<end - 16]) == [0x50, 0x4b, 0x06, 0x07])
        let u = try ZipTestKit.tool("unzip", ["-tqq", zip])
        #expect(u.status == 0, "\(u.stdout)\(u.stderr)")
        let py = try ZipTestKit.python(zipPythonInspect, [zip])
        #expect(py.stdout.hasPrefix("{\"bad\": null, \"count\": \(n)}"), "\(py.stdout)\(py.stderr)")
        let sz = try ZipTestKit.tool("7z", ["t", zip])
        #expect(sz.status == 0 && sz.stdout.contains("Everything is Ok"), "\(sz.stdout.suffix(500))")
        let bt = try ZipTestKit.tool("bsdtar", ["-tf", zip])
        #expect(bt.status == 0 && bt.stdout.split(separator: "\n").count == n, "\(bt.stderr)")
    }

    @Test func sparseEntryOver4GiBWithPrecomputedCRC() throws {
        let t = TempDir("cairn-zip")
        defer { t.remove() }
        #expect(ZipTestKit.crcOfZeros(100_001) == CRC32.checksum([UInt8](repeating: 0, count: 100_001)))
        let big: UInt64 = (4400 << 20) + 12345  // ~4.3 GiB
        let zip = t.sub("big.zip")
        let sink = try ZipSparseSink(path: zip)
        let w = ZipWriter(sink: sink)
        try w.addDirectory(name: "silo", mtimeNs: 0)
        try w.beginFile(name: "silo/zeros.bin", mtimeNs: 1_650_000_000_000_000_000, method: .store, size: big, precomputedCRC: true)
        try ZipTestKit.writeZeros(w, big)
        try w.finishFile(knownCRC: ZipTestKit.crcOfZeros(big))
        // This entry's local header offset and the central directory lie above 4 GiB.
        try w.beginFile(name: "silo/after.txt", mtimeNs: 0, method: .deflate, size: 6)
        try [UInt8]("after\n".utf8).withUnsafeBytes { try w.writeData($0) }
        try w.finishFile()
        let total = try w.finish()
        #expect(try FS.lstat(zip).size == total)

        let u = try ZipTestKit.tool("unzip", ["-t", zip])
        #expect(u.status == 0 && u.stdout.contains("No errors detected"), "\(u.stdout)\(u.stderr)")
        let zi = try ZipTestKit.tool("zipinfo", ["-l", zip])
        #expect(zi.stdout.contains("\(big)"), "\(zi.stdout)")
        let py = try ZipTestKit.python(zipPythonInspect, [zip])
        #expect(py.stdout.hasPrefix("{\"bad\": null, \"count\": 3}"), "\(py.stdout)\(py.stderr)")
        // Our own reader streams and verifies it too.
        let r = try ZipReader(path: zip)
        #expect(r.entries.map(\.size) == [0, big, 6])
        #expect(r.entries[2].localHeaderOffset > 0xFFFF_FFFF)
        // Exact estimate, correcting for the one deflated entry.
        let specs = [ZipEntrySpec(name: "silo", kind: .directory), ZipEntrySpec(name: "silo/zeros.bin", kind: .file, size: big),
                     ZipEntrySpec(name: "silo/after.txt", kind: .file, size: 6)]
        #expect(try ZipWriter.estimateStoredSize(entries: specs) - 6 + r.entries[2].compressedSize == total)
        #expect(try r.contents(r.entries[2]) == Array("after\n".utf8))
        let s = try r.open(r.entries[1])
        var n: UInt64 = 0
        var buf = [UInt8](repeating: 0, count: 4 << 20)
        while true {
            let k = try buf.withUnsafeMutableBytes { try s.read(into: $0) }
            if k == 0 { break }
            n += UInt64(k)
        }
        #expect(n == big)
    }

    @Test func misuseAndBadInputAreRejected() throws {
        func expectError(_ code: CairnError.Code, _ text: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("expected an error containing \(text)")
            } catch let e as CairnError {
                #expect(e.code == code && e.message.contains(text), "\(e.message)")
            } catch { Issue.record("unexpected \(error)") }
        }
        for bad in ["/abs", "a/../b", "a//b", "./a", "", "nul\u{0}", "dir/"] {
            expectError(.invalidInput, "cannot add") {
                try ZipWriter(sink: MemorySink()).beginFile(name: bad, mtimeNs: 0)
            }
        }
        let body: [UInt8] = Array("hello".utf8)
        expectError(.integrity, "CRC-32") {
            let w = ZipWriter(sink: MemorySink())
            try w.beginFile(name: "a", mtimeNs: 0, size: 5)
            try body.withUnsafeBytes { try w.writeData($0) }
            try w.finishFile(knownCRC: 1234)
        }
        expectError(.internalError, "needs knownCRC") {
            let w = ZipWriter(sink: MemorySink())
            try w.beginFile(name: "a", mtimeNs: 0, precomputedCRC: true)
            try w.finishFile()
        }
        expectError(.invalidInput, "more than its declared 3 bytes") {
            let w = ZipWriter(sink: MemorySink())
            try w.beginFile(name: "a", mtimeNs: 0, size: 3)
            try body.withUnsafeBytes { try w.writeData($0) }
        }
        expectError(.invalidInput, "got 5 bytes but declared 9") {
            let w = ZipWriter(sink: MemorySink())
            try w.beginFile(name: "a", mtimeNs: 0, size: 9)
            try body.withUnsafeBytes { try w.writeData($0) }
            try w.finishFile()
        }
        expectError(.internalError, "another entry is open") {
            let w = ZipWriter(sink: MemorySink())
            try w.beginFile(name: "a", mtimeNs: 0)
            try w.addDirectory(name: "b", mtimeNs: 0)
        }
        // A failed writer stays failed.
        let w = ZipWriter(sink: MemorySink())
        try w.beginFile(name: "a", mtimeNs: 0, size: 1)
        #expect(throws: CairnError.self) { try body.withUnsafeBytes { try w.writeData($0) } }
        #expect(throws: CairnError.self) { try w.finish() }
        // The memory sink holds exactly what was reported.
        let m = MemorySink()
        let n = try ZipTestKit.write(Array(ZipTestKit.mixedItems().prefix(4)), to: ZipWriter(sink: m))
        #expect(UInt64(m.bytes.count) == n)
    }
}
