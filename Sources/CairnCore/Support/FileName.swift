// File names are bytes.
//
// A name read from a directory entry, a tree, a ZIP entry or a symlink is a byte string.
// It is stored, compared, sorted, split on "/" (0x2F) and checked byte by byte, never as a
// Swift `String`: `String` compares grapheme clusters under canonical equivalence (so an NFC
// and an NFD spelling of one name are "equal"), a "/" followed by a combining mark is a
// single `Character`, and decoding replaces invalid UTF-8. `String` appears only at the
// edges: `escaped` for human output and `FileName(utf8:)` for names typed by a user.

#if canImport(Glibc)
import Glibc
#endif

/// One path component or a relative path, held as raw bytes.
public struct FileName: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The raw bytes, exactly as on disk.
    public var bytes: [UInt8]

    /// A name from raw bytes (no validation; see `isValidComponent`).
    public init<C: Collection>(bytes: C) where C.Element == UInt8 { self.bytes = Array(bytes) }

    /// A name typed by a user or written in source code (its UTF-8 bytes, not normalized).
    public init(utf8 s: String) { bytes = Array(s.utf8) }

    /// A literal in source code (its UTF-8 bytes).
    public init(stringLiteral s: String) { bytes = Array(s.utf8) }

    /// Byte-wise lexicographic order (the order of entries in a tree and a ZIP export).
    public static func < (a: FileName, b: FileName) -> Bool { compare(a.bytes, b.bytes) < 0 }

    public static func == (a: FileName, b: FileName) -> Bool { a.bytes.count == b.bytes.count && compare(a.bytes, b.bytes) == 0 }

    public func hash(into h: inout Hasher) { bytes.withUnsafeBytes { h.combine(bytes: $0) } }

    /// memcmp order, then length (the hot comparison of walks, tree searches and merges).
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int32 {
        let n = Swift.min(a.count, b.count)
        let c = n == 0 ? 0 : a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in memcmp(pa.baseAddress!, pb.baseAddress!, n) } }
        if c != 0 { return c }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    public var isEmpty: Bool { bytes.isEmpty }

    /// True for a single path component a directory may hold: not empty, not "." or "..",
    /// no "/" (0x2F) and no NUL byte.
    public var isValidComponent: Bool {
        if bytes.isEmpty || bytes == [0x2E] || bytes == [0x2E, 0x2E] { return false }
        return !bytes.contains(0x2F) && !bytes.contains(0)
    }

    /// The bytes decode as UTF-8 without replacement.
    public var isValidUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// The name as UTF-8 text when it is valid UTF-8, nil otherwise (never lossy).
    public var utf8String: String? { String(validating: bytes, as: UTF8.self) }

    /// Splits a relative path on "/" (0x2F) bytes, dropping empty components.
    public var components: [FileName] {
        bytes.split(separator: 0x2F, omittingEmptySubsequences: true).map { FileName(bytes: $0) }
    }

    /// `self + "/" + other` (or `other` when self is empty).
    public func appending(_ other: FileName) -> FileName {
        if bytes.isEmpty { return other }
        var b = bytes
        b.append(0x2F)
        b.append(contentsOf: other.bytes)
        return FileName(bytes: b)
    }

    /// `self + "/" + other` for a path component given as raw bytes.
    public func appending<C: Collection>(bytes other: C) -> FileName where C.Element == UInt8 {
        var b = bytes
        b.reserveCapacity(b.count + other.count + 1)
        if !b.isEmpty { b.append(0x2F) }
        b.append(contentsOf: other)
        return FileName(bytes: b)
    }

    /// True when the bytes end with `suffix`'s bytes.
    public func hasSuffix(_ suffix: [UInt8]) -> Bool {
        suffix.count <= bytes.count && bytes[(bytes.count - suffix.count)...].elementsEqual(suffix)
    }

    /// True when the bytes start with `prefix`'s bytes.
    public func hasPrefix(_ prefix: [UInt8]) -> Bool {
        prefix.count <= bytes.count && bytes[..<prefix.count].elementsEqual(prefix)
    }

    /// The last component (the whole name when it has no "/").
    public var lastComponent: FileName {
        guard let i = bytes.lastIndex(of: 0x2F) else { return self }
        return FileName(bytes: bytes[(i + 1)...])
    }

    /// Calls `body` with the bytes as a NUL-terminated C string, for syscalls (no String round trip).
    /// A name holding a NUL byte is cut there by the kernel; valid names never hold one.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var c = [CChar](repeating: 0, count: bytes.count + 1)
        for i in bytes.indices { c[i] = CChar(bitPattern: bytes[i]) }
        return try c.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// Joins components with "/".
    public static func join(_ parts: [FileName]) -> FileName {
        var b: [UInt8] = []
        for (i, p) in parts.enumerated() {
            if i > 0 { b.append(0x2F) }
            b.append(contentsOf: p.bytes)
        }
        return FileName(bytes: b)
    }

    /// Human-readable form, safe for a terminal: valid UTF-8 is shown as is, except control
    /// characters (C0, DEL, C1) and backslash; invalid bytes and control characters appear as
    /// `\xNN`, a backslash as `\\`. Distinct names always give distinct escaped forms.
    public var escaped: String { FileName.escape(bytes) }

    public var description: String { escaped }

    /// See `escaped`.
    public static func escape<C: Collection>(_ raw: C) -> String where C.Element == UInt8 {
        let b = Array(raw)
        var out = ""
        out.reserveCapacity(b.count)
        var i = 0
        func hex(_ v: UInt8) {
            let d = Array("0123456789abcdef".utf8)
            out.unicodeScalars.append("\\")
            out.unicodeScalars.append("x")
            out.unicodeScalars.append(Unicode.Scalar(d[Int(v >> 4)]))
            out.unicodeScalars.append(Unicode.Scalar(d[Int(v & 15)]))
        }
        while i < b.count {
            let c = b[i]
            if c < 0x80 {
                if c < 0x20 || c == 0x7F { hex(c) } else if c == 0x5C { out += "\\\\" } else { out.unicodeScalars.append(Unicode.Scalar(c)) }
                i += 1
                continue
            }
            // Decode one UTF-8 sequence strictly; anything invalid is escaped byte by byte.
            let len: Int
            if c & 0xE0 == 0xC0 { len = 2 } else if c & 0xF0 == 0xE0 { len = 3 } else if c & 0xF8 == 0xF0 { len = 4 } else { len = 0 }
            if len > 0, i + len <= b.count, let s = String(validating: b[i..<i + len], as: UTF8.self),
               let scalar = s.unicodeScalars.first, s.unicodeScalars.count == 1 {
                if (0x80...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    for k in i..<i + len { hex(b[k]) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
                i += len
            } else {
                hex(c)
                i += 1
            }
        }
        return out
    }
}
