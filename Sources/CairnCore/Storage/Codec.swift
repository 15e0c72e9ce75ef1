import CLZ4

/// How a block's bytes are stored in a pack.
public enum BlockCodec: UInt8, Sendable {
    case none = 0
    case lz4 = 1
}

/// LZ4 block compression (liblz4).
public enum LZ4 {
    public static func bound(_ n: Int) -> Int { Int(LZ4_compressBound(Int32(n))) }

    /// Compresses into `dst` (capacity at least `bound(src.count)`); returns the compressed size.
    public static func compress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawPointer, capacity: Int) -> Int {
        guard src.count > 0 else { return 0 }
        return Int(LZ4_compress_default(src.baseAddress!.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self), Int32(src.count), Int32(capacity)))
    }

    /// Decompresses exactly `rawLength` bytes; nil when the input is corrupt.
    public static func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawPointer, rawLength: Int) -> Bool {
        if rawLength == 0 { return src.count == 0 }
        guard let base = src.baseAddress, src.count > 0, src.count <= Int(Int32.max), rawLength > 0, rawLength <= Int(Int32.max) else { return false }
        let n = LZ4_decompress_safe(base.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self), Int32(src.count), Int32(rawLength))
        return Int(n) == rawLength
    }
}
