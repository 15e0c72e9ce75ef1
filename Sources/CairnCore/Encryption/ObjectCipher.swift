// Encryption owns what makes a repository unreadable without its key: authenticated encryption
// of every repository object (AES-256-GCM, this file), keyed block ids and keyed chunking
// (MasterKey.swift), the master key wrapped in password key slots (KeySlot.swift, KeyStore.swift)
// and where passwords come from (Password.swift). Design and byte layouts: Docs/Format.md,
// "Encryption".
//
// Pure functions over bytes, except KeyStore (objects through `any Backend`) and Password
// (environment, files, a command, the terminal). Crash properties: sealing and opening change
// nothing; a key slot is one write-once object, so a crash leaves it whole or absent, and a
// password change writes the new slot before it deletes the old one (both open the same master
// key, so every moment has at least one working slot).
//
// Nonces: each seal draws a fresh random 96-bit nonce (OpenSSL's DRBG). Objects are write-once
// and never re-encrypted in place, so one key seals at most one object per nonce draw; the
// chance of any repeat stays below 2^-32 while a key seals fewer than 2^32 objects (NIST SP
// 800-38D, 8.3), about 32 TiB of 8 KiB blocks.

import CCrypto
import CairnStorage

/// The encryption schemes a repository config can name.
public enum EncryptionScheme: String, Sendable, Codable, CaseIterable {
    /// No encryption (the default for local repositories).
    case none
    /// AES-256-GCM per object, HMAC-SHA256 block ids, keyed chunking, scrypt key slots.
    case aes256GCM = "aes-256-gcm"
}

/// Seals and opens repository objects with AES-256-GCM under the repository's encryption key.
///
/// A sealed object is `version u8 (1) | nonce[12] | ciphertext | tag[16]`; the associated data
/// binds it to its place: `"cairn-object-v1" 0x00 type 0x00 name` (type is the object type's
/// name, `name` its object name or, for a block inside a pack, the block's hex id), so an object
/// moved to another name or type fails to open. Immutable and `Sendable`: one instance serves
/// every thread (each call uses its own OpenSSL context).
public struct ObjectCipher: Sendable {
    /// Bytes a sealed object adds to its plaintext: version, nonce and tag.
    public static let overhead = 1 + nonceLength + tagLength
    static let version: UInt8 = 1
    static let nonceLength = 12
    static let tagLength = 16
    /// Largest plaintext one seal takes (OpenSSL's update length is an Int32).
    public static let maxPlaintext = Int(Int32.max) - 64

    private let key: [UInt8]

    /// A cipher under a 32-byte AES-256 key.
    public init(key: [UInt8]) {
        precondition(key.count == 32, "ObjectCipher needs a 32-byte key")
        self.key = key
    }

    /// The associated data for an object.
    static func associatedData(_ type: ObjectType, _ name: String) -> [UInt8] {
        Array("cairn-object-v1".utf8) + [0] + Array(type.rawValue.utf8) + [0] + Array(name.utf8)
    }

    /// Encrypts and authenticates `plaintext` as the object `name` of `type`.
    public func seal(_ type: ObjectType, name: String, _ plaintext: UnsafeRawBufferPointer) throws -> [UInt8] {
        try seal(plaintext, nonce: SecureRandom.bytes(ObjectCipher.nonceLength), aad: ObjectCipher.associatedData(type, name))
    }

    /// `seal` of bytes held in an array.
    public func seal(_ type: ObjectType, name: String, _ plaintext: [UInt8]) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try seal(type, name: name, $0) }
    }

    /// Checks and decrypts a sealed object. A changed byte anywhere, a wrong key, or an object
    /// stored under another name or type is an integrity error naming the object.
    public func open(_ type: ObjectType, name: String, _ sealed: UnsafeRawBufferPointer) throws -> [UInt8] {
        let what = ObjectHandle(type, name).map { ObjectLayout.relativePath($0) } ?? "\(type.rawValue) object \(name)"
        return try open(sealed, aad: ObjectCipher.associatedData(type, name), what: what)
    }

    /// `open` of bytes held in an array.
    public func open(_ type: ObjectType, name: String, _ sealed: [UInt8]) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try open(type, name: name, $0) }
    }

    // MARK: - AES-256-GCM

    func seal(_ plaintext: UnsafeRawBufferPointer, nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        guard plaintext.count <= ObjectCipher.maxPlaintext else {
            throw CairnError(.invalidInput, "cannot encrypt an object of \(plaintext.count) bytes; the limit is \(ObjectCipher.maxPlaintext)")
        }
        var out = [UInt8](repeating: 0, count: plaintext.count + ObjectCipher.overhead)
        out[0] = ObjectCipher.version
        out.replaceSubrange(1...ObjectCipher.nonceLength, with: nonce)
        let ctx = EVP_CIPHER_CTX_new()
        defer { EVP_CIPHER_CTX_free(ctx) }
        let ok = out.withUnsafeMutableBytes { o -> Bool in
            let base = o.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var n: Int32 = 0
            guard EVP_EncryptInit_ex2(ctx, Ciphers.aes256GCM, key, nonce, nil) == 1 else { return false }
            if !aad.isEmpty { guard EVP_EncryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1 else { return false } }
            let body = base + 1 + ObjectCipher.nonceLength
            if plaintext.count > 0 {
                guard EVP_EncryptUpdate(ctx, body, &n, plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(plaintext.count)) == 1 else { return false }
            }
            guard EVP_EncryptFinal_ex(ctx, body + plaintext.count, &n) == 1 else { return false }
            return EVP_CIPHER_CTX_ctrl(ctx, ObjectCipher.ctrlGetTag, Int32(ObjectCipher.tagLength), body + plaintext.count) == 1
        }
        guard ok else { throw CairnError(.internalError, "AES-256-GCM encryption failed in OpenSSL; this is a bug in Cairn or a broken libcrypto") }
        return out
    }

    func open(_ sealed: UnsafeRawBufferPointer, aad: [UInt8], what: String) throws -> [UInt8] {
        guard sealed.count >= ObjectCipher.overhead, let src = sealed.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw CairnError(.integrity, "\(what) is \(sealed.count) bytes, too short to be an encrypted object (at least \(ObjectCipher.overhead)); it is damaged or was replaced, run `cairn check --read-data`", path: what)
        }
        guard src[0] == ObjectCipher.version else {
            throw CairnError(.integrity, "\(what) has encryption version \(src[0]), not \(ObjectCipher.version); it is damaged or was written by a newer cairn, run `cairn check --read-data`", path: what, offset: 0)
        }
        let bodyLength = sealed.count - ObjectCipher.overhead
        var out = [UInt8](repeating: 0, count: bodyLength)
        let ctx = EVP_CIPHER_CTX_new()
        defer { EVP_CIPHER_CTX_free(ctx) }
        let ok = out.withUnsafeMutableBytes { o -> Bool in
            var n: Int32 = 0
            let nonce = src + 1
            let body = nonce + ObjectCipher.nonceLength
            var tag = Array(UnsafeBufferPointer(start: body + bodyLength, count: ObjectCipher.tagLength))
            guard EVP_DecryptInit_ex2(ctx, Ciphers.aes256GCM, key, nonce, nil) == 1 else { return false }
            if !aad.isEmpty { guard EVP_DecryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1 else { return false } }
            if bodyLength > 0 {
                guard EVP_DecryptUpdate(ctx, o.baseAddress!.assumingMemoryBound(to: UInt8.self), &n, body, Int32(bodyLength)) == 1 else { return false }
            }
            guard EVP_CIPHER_CTX_ctrl(ctx, ObjectCipher.ctrlSetTag, Int32(ObjectCipher.tagLength), &tag) == 1 else { return false }
            var scratch = [UInt8](repeating: 0, count: 16)
            return EVP_DecryptFinal_ex(ctx, &scratch, &n) == 1
        }
        guard ok else {
            throw CairnError(.integrity, "\(what) fails authentication (AES-256-GCM tag mismatch): a byte was changed, the object was moved from another name, or the key is not this repository's; run `cairn check --read-data`", path: what)
        }
        return out
    }

    // EVP_CTRL_AEAD_GET_TAG / EVP_CTRL_AEAD_SET_TAG (openssl/evp.h).
    static let ctrlGetTag: Int32 = 0x10
    static let ctrlSetTag: Int32 = 0x11
}
