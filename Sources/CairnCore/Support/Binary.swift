/// Little-endian binary writer used by every on-disk structure (trees, pack trailers).
public struct BinaryWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func raw<C: Collection>(_ b: C) where C.Element == UInt8 { bytes.append(contentsOf: b) }
    /// Variable-length unsigned integer (LEB128).
    public mutating func uvarint(_ v: UInt64) {
        var x = v
        while x >= 0x80 { bytes.append(UInt8(x & 0x7f) | 0x80); x >>= 7 }
        bytes.append(UInt8(x))
    }
    /// Length-prefixed (uvarint) byte string.
    public mutating func blob<C: Collection>(_ b: C) where C.Element == UInt8 { uvarint(UInt64(b.count)); raw(b) }
}

/// Little-endian binary reader over a byte array; every read is bounds-checked.
public struct BinaryReader {
    public let bytes: [UInt8]
    public private(set) var position: Int
    let what: String

    public init(_ bytes: [UInt8], what: String, position: Int = 0) {
        self.bytes = bytes
        self.position = position
        self.what = what
    }

    public var remaining: Int { bytes.count - position }

    func truncated() -> CairnError {
        CairnError(.integrity, "\(what) is truncated or malformed at byte offset \(position); run `cairn check --read-data`", offset: UInt64(position))
    }

    public mutating func u8() throws -> UInt8 {
        guard remaining >= 1 else { throw truncated() }
        defer { position += 1 }
        return bytes[position]
    }
    public mutating func u16() throws -> UInt16 { UInt16(truncatingIfNeeded: try fixed(2)) }
    public mutating func u32() throws -> UInt32 { UInt32(truncatingIfNeeded: try fixed(4)) }
    public mutating func u64() throws -> UInt64 { try fixed(8) }
    public mutating func i64() throws -> Int64 { Int64(bitPattern: try fixed(8)) }

    mutating func fixed(_ n: Int) throws -> UInt64 {
        guard remaining >= n else { throw truncated() }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += n
        return v
    }

    public mutating func raw(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw truncated() }
        defer { position += n }
        return bytes[position..<position + n]
    }

    public mutating func uvarint() throws -> UInt64 {
        var shift: UInt64 = 0
        var v: UInt64 = 0
        while true {
            let b = try u8()
            v |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return v }
            shift += 7
            if shift > 63 { throw truncated() }
        }
    }

    public mutating func blob() throws -> ArraySlice<UInt8> {
        let n = try uvarint()
        guard n <= UInt64(remaining) else { throw truncated() }
        return try raw(Int(n))
    }
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that overflows (sums of sizes read from repository files).
    public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (v, o) = addingReportingOverflow(other)
        return o ? .max : v
    }
}
