// ZIP fixtures shared by core and CLI tests: `ZipRaw` hand-crafts archives with every field
// under the test's control (hostile corpora), plus helpers to run the archive tools.

import CairnCore
import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Hand-crafts ZIP bytes with every field under the test's control.
public struct ZipRaw {
    public struct Entry {
        public var name: [UInt8]
        public var content: [UInt8] = []
        /// Bytes after the local header; default: `content`, deflated when `method` is 8.
        public var data: [UInt8]?
        public var method: UInt16 = 0
        public var flags: UInt16 = 0x800
        public var localFlags: UInt16?
        public var crc: UInt32?
        public var csize: UInt64?
        public var usize: UInt64?
        public var madeBy: UInt16 = 3 << 8 | 63
        public var mode: UInt32 = 0o100644
        public var centralExtra: [UInt8] = []
        public var localName: [UInt8]?
        public var localMethod: UInt16?
        public var offset: UInt64?
        public var cdCsize32: UInt32?
        public var cdUsize32: UInt32?

        public init(_ name: String, _ content: String = "", mode: UInt32 = 0o100644) {
            self.name = Array(name.utf8)
            self.content = Array(content.utf8)
            self.mode = mode
        }
    }

    /// Where things landed, for patches.
    public struct Layout {
        public var local: [Int] = []
        public var central: [Int] = []
        public var cdOffset = 0
        public var zip64End: Int?
        public var locator: Int?
        public var end = 0
    }

    public var entries: [Entry]
    public var zip64 = false
    public var cdTrailing: [UInt8] = []
    public var beforeEnd: [UInt8] = []
    public var patch: (inout [UInt8], Layout) -> Void = { _, _ in }

    public init(_ entries: [Entry], zip64: Bool = false, patch: @escaping (inout [UInt8], Layout) -> Void = { _, _ in }) {
        self.entries = entries
        self.zip64 = zip64
        self.patch = patch
    }

    public func build() -> [UInt8] {
        var w = BinaryWriter(capacity: 4096)
        var layout = Layout()
        var resolved: [(Entry, [UInt8], UInt32, UInt64, UInt64, UInt64)] = []
        for e in entries {
            let data = e.data ?? (e.method == 8 ? ZipRaw.deflate(e.content) : e.content)
            let crc = e.crc ?? CRC32.checksum(e.content)
            let cs = e.csize ?? UInt64(data.count), us = e.usize ?? UInt64(e.content.count)
            let name = e.localName ?? e.name
            layout.local.append(w.bytes.count)
            let offset = UInt64(w.bytes.count)
            w.u32(0x0403_4b50); w.u16(20); w.u16(e.localFlags ?? e.flags); w.u16(e.localMethod ?? e.method)
            w.u16(0); w.u16(1 << 5 | 1); w.u32(crc)
            w.u32(UInt32(min(cs, 0xFFFF_FFFF))); w.u32(UInt32(min(us, 0xFFFF_FFFF)))
            w.u16(UInt16(name.count)); w.u16(0); w.raw(name); w.raw(data)
            resolved.append((e, data, crc, cs, us, e.offset ?? offset))
        }
        layout.cdOffset = w.bytes.count
        for (e, _, crc, cs, us, off) in resolved {
            layout.central.append(w.bytes.count)
            w.u32(0x0201_4b50); w.u16(e.madeBy); w.u16(20); w.u16(e.flags); w.u16(e.method)
            w.u16(0); w.u16(1 << 5 | 1); w.u32(crc)
            w.u32(e.cdCsize32 ?? UInt32(min(cs, 0xFFFF_FFFF))); w.u32(e.cdUsize32 ?? UInt32(min(us, 0xFFFF_FFFF)))
            w.u16(UInt16(e.name.count)); w.u16(UInt16(e.centralExtra.count)); w.u16(0); w.u16(0); w.u16(0)
            w.u32(e.mode << 16); w.u32(UInt32(off)); w.raw(e.name); w.raw(e.centralExtra)
        }
        w.raw(cdTrailing)
        let cdSize = w.bytes.count - layout.cdOffset
        w.raw(beforeEnd)
        let n = UInt64(entries.count)
        if zip64 {
            layout.zip64End = w.bytes.count
            w.u32(0x0606_4b50); w.u64(44); w.u16(3 << 8 | 63); w.u16(45); w.u32(0); w.u32(0)
            w.u64(n); w.u64(n); w.u64(UInt64(cdSize)); w.u64(UInt64(layout.cdOffset))
            layout.locator = w.bytes.count
            w.u32(0x0706_4b50); w.u32(0); w.u64(UInt64(layout.zip64End!)); w.u32(1)
        }
        layout.end = w.bytes.count
        w.u32(0x0605_4b50); w.u16(0); w.u16(0)
        w.u16(zip64 ? 0xFFFF : UInt16(n)); w.u16(zip64 ? 0xFFFF : UInt16(n))
        w.u32(zip64 ? 0xFFFF_FFFF : UInt32(cdSize)); w.u32(zip64 ? 0xFFFF_FFFF : UInt32(layout.cdOffset)); w.u16(0)
        var bytes = w.bytes
        patch(&bytes, layout)
        return bytes
    }

    public static func deflate(_ input: [UInt8], level: Int32 = 9) -> [UInt8] {
        let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        z.initialize(to: z_stream())
        defer { deflateEnd(z); z.deallocate() }
        _ = deflateInit2_(z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        var out = [UInt8](repeating: 0, count: Int(deflateBound(z, uLong(input.count))) + 64)
        var input = input
        let n = input.withUnsafeMutableBytes { i in
            out.withUnsafeMutableBytes { o in
                z.pointee.next_in = i.baseAddress?.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_in = uInt(i.count)
                z.pointee.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_out = uInt(o.count)
                _ = CZlib.deflate(z, Z_FINISH)
                return o.count - Int(z.pointee.avail_out)
            }
        }
        return Array(out[0..<n])
    }
}

extension ZipRaw.Entry {
    public static func link(_ name: String, _ target: String) -> Self { Self(name, target, mode: 0o120777) }
    public static func deflated(_ name: String, _ content: [UInt8]) -> Self {
        var e = Self(name)
        e.content = content
        e.method = 8
        return e
    }
}

/// Writes `v` little-endian into `b` at `at`.
public func putLE(_ b: inout [UInt8], _ at: Int, _ v: UInt64, _ width: Int) {
    for i in 0..<width { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
}


/// Runs an archive tool (unzip, zipinfo, bsdtar, 7z, python3) and returns its result.
@discardableResult
public func zipTool(_ name: String, _ args: [String]) throws -> RunResult {
    try run("/usr/bin/env", [name] + args)
}

/// Peak resident set size (KiB) of a command run under `/usr/bin/time -f %M`, with its status.
/// The command's stdout goes to `stdout` (a path) when given.
public func peakRSS(_ exe: String, _ args: [String], stdout: String? = nil) throws -> (status: Int32, kib: Int, stderr: String) {
    let io = TempDir("cairn-rss")
    defer { io.remove() }
    let c = try Child.spawn("/usr/bin/time", ["-f", "RSS=%M", "-o", io.sub("rss"), exe] + args, stdout: stdout, stderr: io.sub("err"))
    let status = c.wait()
    let text = String(decoding: (try? FS.readAll(io.sub("rss"))) ?? [], as: UTF8.self)
    let kib = text.split(separator: "\n").compactMap { $0.hasPrefix("RSS=") ? Int($0.dropFirst(4)) : nil }.last ?? -1
    return (status, kib, String(decoding: (try? FS.readAll(io.sub("err"))) ?? [], as: UTF8.self))
}

/// Python that tests an archive (testzip), extracts it honouring Unix modes and symlinks, and
/// prints "ok". zipfile.extractall drops modes, so members are written by hand.
public let pythonExtractScript = """
import os, stat, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
if bad is not None:
    print("bad member", bad); sys.exit(1)
dest = sys.argv[2]
dirs = []
for info in z.infolist():
    mode = info.external_attr >> 16
    path = os.path.join(dest, info.filename)
    if stat.S_ISDIR(mode) or info.filename.endswith("/"):
        os.makedirs(path, exist_ok=True); dirs.append((path, mode)); continue
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if stat.S_ISLNK(mode):
        os.symlink(z.read(info).decode("utf-8"), path); continue
    with z.open(info) as src, open(path, "wb") as out:
        while True:
            b = src.read(1 << 20)
            if not b: break
            out.write(b)
    os.chmod(path, stat.S_IMODE(mode))
for path, mode in dirs:
    os.chmod(path, stat.S_IMODE(mode))
print("ok", len(z.infolist()))
"""

/// A reader that accepts everything Cairn's own exports may hold (backslashes in names,
/// deflated zeros beyond 1000:1, links outside a silo) while still checking structure.
public func lenientZipReader(_ path: String) throws -> ZipReader {
    var limits = ZipLimits(symlinks: .allowAnyTarget)
    limits.allowBackslash = true
    limits.checkRatioOnOpen = false
    return try ZipReader(path: path, limits: limits)
}
