import CCrypto
import CZlib

/// A block's name: the SHA-256 of its plaintext. 32 bytes, held as four words for cheap hashing.
public struct BlockId: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public static let size = 32

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 32)
        w0 = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        w1 = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        w2 = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        w3 = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }

    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let a = Array(bytes)
        self = a.withUnsafeBytes { BlockId(bytes: $0) }
    }

    /// Parses 64 hex characters.
    public init?(hex: String) {
        guard hex.utf8.count == 64, let b = Hex.decode(hex) else { return nil }
        self.init(b)
    }

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { p in
            p.storeBytes(of: w0, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: w1, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: w2, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: w3, toByteOffset: 24, as: UInt64.self)
        }
        return out
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
    /// The first byte (used for content-defined grouping of block lists).
    public var firstByte: UInt8 { UInt8(truncatingIfNeeded: w0) }

    public static func < (a: BlockId, b: BlockId) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// SHA-256 of a buffer through OpenSSL (uses the CPU's SHA instructions).
    public static func hash(_ data: UnsafeRawBufferPointer) -> BlockId {
        let h = SHA256Hasher()
        return h.hash(data)
    }

    public static func hash(_ bytes: [UInt8]) -> BlockId { bytes.withUnsafeBytes { hash($0) } }
}

/// A reusable OpenSSL SHA-256 context. Not thread-safe: use each from one thread at a time
/// (it is `Sendable` only so that a pool of them can be handed to worker threads).
public final class SHA256Hasher: @unchecked Sendable {
    nonisolated(unsafe) static let md: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)
    private let ctx: OpaquePointer?

    public init() { ctx = EVP_MD_CTX_new() }
    deinit { EVP_MD_CTX_free(ctx) }

    /// Starts a new digest.
    public func reset() { EVP_DigestInit_ex(ctx, SHA256Hasher.md, nil) }
    public func update(_ data: UnsafeRawBufferPointer) {
        if data.count > 0 { EVP_DigestUpdate(ctx, data.baseAddress, data.count) }
    }
    public func finish() -> BlockId {
        var out = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &out) { o in
            var n: UInt32 = 32
            _ = EVP_DigestFinal_ex(ctx, o.baseAddress!.assumingMemoryBound(to: UInt8.self), &n)
        }
        return withUnsafeBytes(of: out) { BlockId(bytes: $0) }
    }
    /// One-shot digest of `data`.
    public func hash(_ data: UnsafeRawBufferPointer) -> BlockId {
        reset()
        update(data)
        return finish()
    }
}

/// CRC-32 (zlib polynomial) helpers; used for block integrity and ZIP export.
public enum CRC32 {
    public static func checksum(_ data: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard data.count > 0 else { return seed }
        return UInt32(crc32(uLong(seed), data.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(data.count)))
    }
    public static func checksum(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 { bytes.withUnsafeBytes { checksum($0, seed: seed) } }
    /// CRC of A followed by B, given CRC(A), CRC(B) and len(B).
    public static func combine(_ a: UInt32, _ b: UInt32, lengthB: UInt64) -> UInt32 {
        UInt32(crc32_combine(uLong(a), uLong(b), off_t(lengthB)))
    }
}
