// Digests the S3 backend needs: SHA-256 (payload hashes, SigV4), HMAC-SHA256 (SigV4 keys and
// signatures) and MD5 (Content-MD5 and ETag comparison). All through OpenSSL's EVP interface.

import CCrypto

/// Incremental digest over OpenSSL EVP (SHA-256 or MD5). One instance per task.
final class Digest {
    enum Algorithm: String { case sha256 = "SHA256", md5 = "MD5" }
    private let ctx: OpaquePointer?
    private let md: OpaquePointer?

    init(_ algorithm: Algorithm) {
        md = EVP_MD_fetch(nil, algorithm.rawValue, nil)
        ctx = EVP_MD_CTX_new()
        EVP_DigestInit_ex(ctx, md, nil)
    }
    deinit {
        EVP_MD_CTX_free(ctx)
        EVP_MD_free(md)
    }

    func update(_ data: UnsafeRawBufferPointer) {
        if data.count > 0 { EVP_DigestUpdate(ctx, data.baseAddress, data.count) }
    }
    func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var n: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &n)
        return Array(out.prefix(Int(n)))
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        let d = Digest(.sha256)
        d.update(bytes)
        return d.finish()
    }

    /// HMAC-SHA256 of `data` under `key`.
    static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var n = 0
        key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                _ = EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, k.baseAddress, k.count, d.baseAddress, d.count, &out, 32, &n)
            }
        }
        return out
    }
}

enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? table[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
