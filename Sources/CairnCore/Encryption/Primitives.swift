// The OpenSSL building blocks encryption uses: random bytes, HMAC over a fetched digest
// (one-shot and incremental), AES in ECB mode for counter keystreams, PBKDF2 and scrypt.
// Every call goes through libcrypto's EVP interface (AES-NI and SHA instructions where the CPU
// has them); nothing here does I/O.

import CCrypto

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    /// `count` random bytes. Traps only if the system's random source is broken (RAND_bytes
    /// failing means no key or nonce could be trusted; continuing would be worse).
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 {
            let rc = out.withUnsafeMutableBytes { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(count)) }
            precondition(rc == 1, "OpenSSL RAND_bytes failed: the system random source is unavailable")
        }
        return out
    }
}

/// Compares two byte sequences in time that depends only on their lengths.
@inline(never)
func constantTimeEqual<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool where A.Element == UInt8, B.Element == UInt8 {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for (x, y) in zip(a, b) { diff |= x ^ y }
    return diff == 0
}

/// HMAC (RFC 2104) over an OpenSSL digest, with the key's inner and outer pad states computed
/// once: each MAC copies the two prepared contexts instead of hashing the key again.
/// Immutable after init, so one instance is shared by every thread.
public final class HMACKey: @unchecked Sendable {
    /// Digests HMAC is used with.
    public enum Digest: String, Sendable {
        case sha256 = "SHA256"
        case sha1 = "SHA1"
        var blockSize: Int { 64 }
        /// The MAC's length in bytes.
        public var length: Int { self == .sha256 ? 32 : 20 }
    }

    public let digest: Digest
    private let md: OpaquePointer?
    private let inner: OpaquePointer?
    private let outer: OpaquePointer?

    /// Prepares HMAC under `key` (any length; longer than a block is hashed first, as RFC 2104 says).
    public init(key: [UInt8], digest: Digest) {
        self.digest = digest
        md = EVP_MD_fetch(nil, digest.rawValue, nil)
        inner = EVP_MD_CTX_new()
        outer = EVP_MD_CTX_new()
        var k = key
        if k.count > digest.blockSize { k = HMACKey.hash(md, k) }
        k += [UInt8](repeating: 0, count: digest.blockSize - k.count)
        let ipad = k.map { $0 ^ 0x36 }, opad = k.map { $0 ^ 0x5c }
        EVP_DigestInit_ex(inner, md, nil)
        EVP_DigestInit_ex(outer, md, nil)
        ipad.withUnsafeBytes { _ = EVP_DigestUpdate(inner, $0.baseAddress, $0.count) }
        opad.withUnsafeBytes { _ = EVP_DigestUpdate(outer, $0.baseAddress, $0.count) }
    }

    deinit {
        EVP_MD_CTX_free(inner)
        EVP_MD_CTX_free(outer)
        EVP_MD_free(md)
    }

    private static func hash(_ md: OpaquePointer?, _ bytes: [UInt8]) -> [UInt8] {
        let c = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(c) }
        EVP_DigestInit_ex(c, md, nil)
        bytes.withUnsafeBytes { _ = EVP_DigestUpdate(c, $0.baseAddress, $0.count) }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var n: UInt32 = 0
        EVP_DigestFinal_ex(c, &out, &n)
        return Array(out.prefix(Int(n)))
    }

    /// The MAC of `data`.
    public func mac(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        let s = stream()
        s.update(data)
        return s.finish()
    }

    /// The MAC of `bytes`.
    public func mac(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { mac($0) } }

    /// An incremental MAC under this key.
    public func stream() -> HMACStream { HMACStream(key: self) }

    fileprivate func copyInner(to ctx: OpaquePointer?) { EVP_MD_CTX_copy_ex(ctx, inner) }
    fileprivate func copyOuter(to ctx: OpaquePointer?) { EVP_MD_CTX_copy_ex(ctx, outer) }
}

/// One MAC computed over data fed in pieces. Not thread-safe; one per task.
public final class HMACStream {
    private let key: HMACKey
    private let ctx: OpaquePointer?

    init(key: HMACKey) {
        self.key = key
        ctx = EVP_MD_CTX_new()
        key.copyInner(to: ctx)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    /// Feeds bytes.
    public func update(_ data: UnsafeRawBufferPointer) {
        if data.count > 0 { EVP_DigestUpdate(ctx, data.baseAddress, data.count) }
    }

    /// The MAC of everything fed (the stream is finished afterwards).
    public func finish() -> [UInt8] {
        var h = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var n: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &h, &n)
        key.copyOuter(to: ctx)
        EVP_DigestUpdate(ctx, h, Int(n))
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        EVP_DigestFinal_ex(ctx, &out, &n)
        return Array(out.prefix(Int(n)))
    }
}

/// Fetched cipher implementations, looked up once per process (a fetch takes a lock).
enum Ciphers {
    nonisolated(unsafe) static let aes256GCM = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)
    nonisolated(unsafe) static let aes128ECB = EVP_CIPHER_fetch(nil, "AES-128-ECB", nil)
    nonisolated(unsafe) static let aes192ECB = EVP_CIPHER_fetch(nil, "AES-192-ECB", nil)
    nonisolated(unsafe) static let aes256ECB = EVP_CIPHER_fetch(nil, "AES-256-ECB", nil)

    static func ecb(keyLength: Int) -> OpaquePointer? {
        switch keyLength {
        case 16: return aes128ECB
        case 24: return aes192ECB
        default: return aes256ECB
        }
    }
}

/// Password-based key derivation functions.
public enum KDF {
    /// PBKDF2-HMAC-SHA1 (RFC 8018), as WinZip AES uses it.
    static func pbkdf2SHA1(password: [UInt8], salt: [UInt8], iterations: Int32, length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let rc = password.withUnsafeBytes { p in
            salt.withUnsafeBytes { s in
                PKCS5_PBKDF2_HMAC_SHA1(p.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(p.count),
                                       s.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(s.count), iterations, Int32(length), &out)
            }
        }
        precondition(rc == 1, "OpenSSL PBKDF2 failed")
        return out
    }

    /// scrypt (RFC 7914) through `EVP_PBE_scrypt`. The parameters must have passed
    /// `ScryptParams.validate()` (which bounds memory and time); OpenSSL refuses anything else.
    static func scrypt(password: [UInt8], salt: [UInt8], params: ScryptParams, length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let rc = password.withUnsafeBytes { p in
            salt.withUnsafeBytes { s in
                EVP_PBE_scrypt(p.baseAddress?.assumingMemoryBound(to: CChar.self), p.count,
                               s.baseAddress?.assumingMemoryBound(to: UInt8.self), s.count,
                               params.n, params.r, params.p, params.memoryBytes + (1 << 20), &out, length)
            }
        }
        guard rc == 1 else {
            throw CairnError(.internalError, "scrypt with N=\(params.n), r=\(params.r), p=\(params.p) failed in OpenSSL; the process may be out of memory (it needs \(params.memoryBytes >> 20) MiB)")
        }
        return out
    }
}
