// WinZip AES encryption of ZIP entries (AE-1 read, AE-2 written), as 7-Zip, WinZip and
// libarchive implement it: compression method 99 with an 0x9901 extra field naming the AES
// strength and the real method; entry data = salt | 2-byte password verifier | AES-CTR
// ciphertext | 10-byte HMAC-SHA1 authentication code (over the ciphertext). Keys come from
// PBKDF2-HMAC-SHA1 (1000 iterations) of the password and the entry's random salt: AES key,
// HMAC key, verifier. CTR uses a little-endian block counter starting at 1 (not OpenSSL's
// big-endian CTR), so the keystream is AES-ECB over counter blocks. AE-2 writes CRC-32 as 0
// (the authentication code replaces it). Entry names, sizes, times and symlink targets stay readable: ZIP
// encryption covers content only.

import CCrypto
import Synchronization

/// Password protection for an archive `ZipWriter` writes: AES-256, AE-2.
public struct ZipEncryption: Sendable {
    /// The password's bytes.
    public var password: [UInt8]
    public init(password: [UInt8]) { self.password = password }
}

/// The WinZip AES parameters of an encrypted entry (its 0x9901 extra field).
public struct ZipAESInfo: Sendable, Equatable {
    /// 1 = AES-128, 2 = AES-192, 3 = AES-256.
    public var strength: UInt8
    /// 1 = AE-1 (CRC-32 kept), 2 = AE-2 (CRC-32 is 0).
    public var version: UInt16

    public init(strength: UInt8, version: UInt16) {
        self.strength = strength
        self.version = version
    }

    var keyLength: Int { 8 + 8 * Int(strength) }
    var saltLength: Int { 4 + 4 * Int(strength) }
    /// Bytes the encryption adds to an entry's data: salt, verifier, authentication code.
    var overhead: UInt64 { UInt64(saltLength + ZipAESConst.verifierLength + ZipAESConst.macLength) }

    /// AES-256, AE-2: what Cairn writes.
    static let written = ZipAESInfo(strength: 3, version: 2)
}

enum ZipAESConst {
    static let method: UInt16 = 99
    static let extraId: UInt16 = 0x9901
    /// 0x9901 header and its 7 data bytes.
    static let extraLength: UInt64 = 11
    static let verifierLength = 2
    static let macLength = 10
    static let iterations: Int32 = 1000
    /// "Version needed to extract" for AES entries (APPNOTE 7.2 / WinZip).
    static let versionNeeded: UInt16 = 51

    /// Appends the 0x9901 extra field.
    static func extra(_ w: inout BinaryWriter, actualMethod: UInt16, info: ZipAESInfo = .written) {
        w.u16(extraId)
        w.u16(7)
        w.u16(info.version)
        w.u8(0x41)  // "A"
        w.u8(0x45)  // "E"
        w.u8(info.strength)
        w.u16(actualMethod)
    }

    /// Parses a 0x9901 field's data: (info, actual method), or nil when malformed.
    static func parseExtra(_ b: [UInt8], _ at: Int, _ size: Int) -> (ZipAESInfo, UInt16)? {
        guard size == 7, at + 7 <= b.count else { return nil }
        let version = ZipLE.u16(b, at), strength = b[at + 4]
        guard version == 1 || version == 2, b[at + 2] == 0x41, b[at + 3] == 0x45, (1...3).contains(strength) else { return nil }
        return (ZipAESInfo(strength: strength, version: version), ZipLE.u16(b, at + 5))
    }
}

/// A password for reading encrypted archives, asked for at most once (only when the archive has
/// an encrypted entry) and kept for every entry.
public final class ZipPassword: Sendable {
    private let provider: @Sendable () throws -> [UInt8]
    private let cached = Mutex<[UInt8]?>(nil)

    /// `provider` is called the first time a password is needed.
    public init(_ provider: @escaping @Sendable () throws -> [UInt8]) { self.provider = provider }

    /// A fixed password.
    public convenience init(bytes: [UInt8]) { self.init { bytes } }

    func bytes() throws -> [UInt8] {
        if let c = cached.withLock({ $0 }) { return c }
        let p = try provider()
        cached.withLock { $0 = p }
        return p
    }
}

/// The keys of one entry, derived from the password and its salt.
struct ZipAESKeys {
    let aes: [UInt8]
    let mac: [UInt8]
    let verifier: [UInt8]

    init(password: [UInt8], salt: [UInt8], info: ZipAESInfo) {
        let n = info.keyLength
        let d = KDF.pbkdf2SHA1(password: password, salt: salt, iterations: ZipAESConst.iterations, length: 2 * n + ZipAESConst.verifierLength)
        aes = Array(d[0..<n])
        mac = Array(d[n..<2 * n])
        verifier = Array(d[(2 * n)...])
    }
}

/// WinZip's counter mode: keystream block i (from 1) is AES(key, i as a 16-byte little-endian
/// integer), XORed with the data. Encryption and decryption are the same operation.
final class ZipAESCTR {
    private let ctx: OpaquePointer?
    private var counter: UInt64 = 0
    private let blocks = 256
    private var counters: [UInt8]
    private var stream: [UInt8]
    /// Keystream bytes of `stream` already used.
    private var used: Int

    init(key: [UInt8]) throws {
        ctx = EVP_CIPHER_CTX_new()
        counters = [UInt8](repeating: 0, count: blocks * 16)
        stream = [UInt8](repeating: 0, count: blocks * 16)
        used = blocks * 16
        guard EVP_EncryptInit_ex2(ctx, Ciphers.ecb(keyLength: key.count), key, nil, nil) == 1 else {
            EVP_CIPHER_CTX_free(ctx)
            throw CairnError(.internalError, "AES initialisation failed in OpenSSL; this is a bug in Cairn or a broken libcrypto")
        }
        EVP_CIPHER_CTX_set_padding(ctx, 0)
    }

    deinit { EVP_CIPHER_CTX_free(ctx) }

    private func refill() {
        counters.withUnsafeMutableBytes { c in
            for i in 0..<blocks {
                counter &+= 1
                c.storeBytes(of: counter.littleEndian, toByteOffset: i * 16, as: UInt64.self)
            }
        }
        var n: Int32 = 0
        _ = stream.withUnsafeMutableBytes { s in
            counters.withUnsafeBytes { c in
                EVP_EncryptUpdate(ctx, s.baseAddress!.assumingMemoryBound(to: UInt8.self), &n,
                                  c.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(c.count))
            }
        }
        used = 0
    }

    /// XORs the keystream into `data` in place.
    func apply(_ data: UnsafeMutableRawBufferPointer) {
        guard let base = data.baseAddress else { return }
        var off = 0
        while off < data.count {
            if used == stream.count { refill() }
            let n = min(stream.count - used, data.count - off)
            stream.withUnsafeBytes { s in
                var i = 0
                while i + 8 <= n {
                    let x = base.loadUnaligned(fromByteOffset: off + i, as: UInt64.self) ^ s.loadUnaligned(fromByteOffset: used + i, as: UInt64.self)
                    base.storeBytes(of: x, toByteOffset: off + i, as: UInt64.self)
                    i += 8
                }
                while i < n {
                    base.storeBytes(of: base.load(fromByteOffset: off + i, as: UInt8.self) ^ s[used + i], toByteOffset: off + i, as: UInt8.self)
                    i += 1
                }
            }
            used += n
            off += n
        }
    }
}

/// Encrypts one entry's data as it is written.
final class ZipAESEncryptor {
    /// Salt and password verifier: the first bytes of the entry's data.
    let header: [UInt8]
    private let ctr: ZipAESCTR
    private let mac: HMACStream
    private var scratch = [UInt8](repeating: 0, count: 64 << 10)

    init(password: [UInt8]) throws {
        let info = ZipAESInfo.written
        let salt = SecureRandom.bytes(info.saltLength)
        let keys = ZipAESKeys(password: password, salt: salt, info: info)
        header = salt + keys.verifier
        ctr = try ZipAESCTR(key: keys.aes)
        mac = HMACKey(key: keys.mac, digest: .sha1).stream()
    }

    /// Encrypts `input` and hands the ciphertext to `emit`, in pieces of at most 64 KiB.
    func encrypt(_ input: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var off = 0
        while off < input.count {
            let n = min(scratch.count, input.count - off)
            try scratch.withUnsafeMutableBytes { s in
                let piece = UnsafeMutableRawBufferPointer(rebasing: s[0..<n])
                piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[off..<off + n]))
                ctr.apply(piece)
                mac.update(UnsafeRawBufferPointer(piece))
                try emit(UnsafeRawBufferPointer(piece))
            }
            off += n
        }
    }

    /// The authentication code that ends the entry's data.
    func authCode() -> [UInt8] { Array(mac.finish().prefix(ZipAESConst.macLength)) }
}

/// Checks the password and decrypts one entry's data as it is read.
final class ZipAESDecryptor {
    private let ctr: ZipAESCTR
    private let mac: HMACStream

    /// Derives the entry's keys; nil when the password verifier does not match (a wrong password).
    init?(password: [UInt8], salt: [UInt8], verifier: [UInt8], info: ZipAESInfo) throws {
        let keys = ZipAESKeys(password: password, salt: salt, info: info)
        guard constantTimeEqual(keys.verifier, verifier) else { return nil }
        ctr = try ZipAESCTR(key: keys.aes)
        mac = HMACKey(key: keys.mac, digest: .sha1).stream()
    }

    /// Authenticates and decrypts ciphertext in place.
    func decrypt(_ data: UnsafeMutableRawBufferPointer) {
        mac.update(UnsafeRawBufferPointer(data))
        ctr.apply(data)
    }

    /// True when `code` is the authentication code of all ciphertext seen.
    func verify(_ code: [UInt8]) -> Bool { constantTimeEqual(Array(mac.finish().prefix(ZipAESConst.macLength)), code) }
}
