// Key slots: the master key wrapped under a password. A slot is a small JSON object
// (`keys/ID`), read with a size cap and every field checked before scrypt runs, so a hostile
// slot can neither exhaust memory nor make cairn spin.

import Foundation
import CairnStorage

/// scrypt cost parameters (RFC 7914), stored per slot.
public struct ScryptParams: Codable, Sendable, Equatable {
    /// CPU/memory cost, a power of two.
    public var n: UInt64
    /// Block size.
    public var r: UInt64
    /// Parallelism.
    public var p: UInt64

    public init(n: UInt64, r: UInt64, p: UInt64) {
        self.n = n
        self.r = r
        self.p = p
    }

    /// The default for new slots: N = 2^17, r = 8, p = 1 (128 MiB). Measured at about 0.5 s on
    /// the development machine (Docs/Format.md, "Key slots").
    public static let `default` = ScryptParams(n: 1 << 17, r: 8, p: 1)

    /// Cheap parameters for tests only (N = 2^10: about 1 MiB, a millisecond).
    public static let testing = ScryptParams(n: 1 << 10, r: 8, p: 1)

    /// Largest N, r, p and memory a slot may ask for.
    static let maxN: UInt64 = 1 << 22
    static let maxR: UInt64 = 32
    static let maxP: UInt64 = 16
    static let maxMemory: UInt64 = 1 << 30
    static let maxWork: UInt64 = 1 << 27

    /// Bytes OpenSSL allocates for these parameters (its own formula: 128 r (N + 2) + 128 r p).
    var memoryBytes: UInt64 { 128 &* r &* (n &+ 2) &+ 128 &* r &* p }

    /// Refuses parameters outside the bounds (a hostile slot could ask for terabytes).
    public func validate(_ what: String) throws {
        guard n >= 2, n <= ScryptParams.maxN, n & (n - 1) == 0, (1...ScryptParams.maxR).contains(r), (1...ScryptParams.maxP).contains(p),
              memoryBytes <= ScryptParams.maxMemory, n * r * p <= ScryptParams.maxWork else {
            throw CairnError(.integrity, "\(what) asks for scrypt N=\(n), r=\(r), p=\(p), outside the accepted bounds (N a power of two up to 2^22, r up to 32, p up to 16, at most 1 GiB); the slot is damaged or hostile, remove it with `cairn key remove`", path: what)
        }
    }
}

/// One key slot: the master key sealed (AES-256-GCM) under a key scrypt derives from a password.
///
/// JSON (sorted keys): `format` "cairn-key-slot", `version` 1, `id`, `repository` (the
/// repository id), `created` (ISO-8601 UTC), `label`, `kdf` "scrypt", `scrypt` {n, r, p},
/// `salt` (base64, 32 bytes), `cipher` "aes-256-gcm", `wrapped` (base64: version, nonce,
/// 96-byte master key encrypted, tag; 129 bytes). The associated data binds the wrapped key to
/// the repository id, the slot id and the scrypt parameters.
public struct KeySlot: Codable, Sendable, Equatable {
    public var format: String
    public var version: Int
    public var id: String
    public var repository: String
    public var created: String
    public var label: String
    public var kdf: String
    public var scrypt: ScryptParams
    public var salt: String
    public var cipher: String
    public var wrapped: String

    /// Largest slot object read.
    public static let maxSize = 16 << 10
    static let saltLength = 32
    static let kekLength = 32
    static let wrappedLength = MasterKey.length + ObjectCipher.overhead

    /// Wraps `key` under `password` in a new slot with a random id and salt.
    public static func make(key: MasterKey, password: [UInt8], repository: String, params: ScryptParams, label: String = "", created: String) throws -> KeySlot {
        try params.validate("new key slot")
        let id = Hex.encode(SecureRandom.bytes(16))
        let salt = SecureRandom.bytes(saltLength)
        var slot = KeySlot(format: "cairn-key-slot", version: 1, id: id, repository: repository, created: created, label: label,
                           kdf: "scrypt", scrypt: params, salt: Data(salt).base64EncodedString(), cipher: "aes-256-gcm", wrapped: "")
        let kek = try KDF.scrypt(password: password, salt: salt, params: params, length: kekLength)
        let sealed = try key.bytes.withUnsafeBytes {
            try ObjectCipher(key: kek).seal($0, nonce: SecureRandom.bytes(ObjectCipher.nonceLength), aad: slot.associatedData)
        }
        slot.wrapped = Data(sealed).base64EncodedString()
        return slot
    }

    var associatedData: [UInt8] {
        Array("cairn-key-slot-v1".utf8) + [0] + Array(repository.utf8) + [0] + Array(id.utf8) + [0]
            + Array("scrypt \(scrypt.n) \(scrypt.r) \(scrypt.p)".utf8)
    }

    var objectName: String { "keys/\(id)" }

    /// The master key, or nil when `password` does not open this slot (a wrong password and a
    /// changed byte of the slot cannot be told apart: both fail the tag).
    public func unwrap(password: [UInt8]) throws -> MasterKey? {
        guard let salt = Data(base64Encoded: salt), let sealed = Data(base64Encoded: wrapped) else {
            throw CairnError(.integrity, "key slot \(objectName) has a salt or wrapped key that is not base64; the slot is damaged, remove it with `cairn key remove`", path: objectName)
        }
        let kek = try KDF.scrypt(password: password, salt: Array(salt), params: scrypt, length: KeySlot.kekLength)
        let opened = try? Array(sealed).withUnsafeBytes { try ObjectCipher(key: kek).open($0, aad: associatedData, what: objectName) }
        return try opened.map { try MasterKey(bytes: $0) }
    }

    /// Encodes the slot as canonical JSON (sorted keys, one trailing newline).
    public func encoded() throws -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try enc.encode(self)) + [0x0A]
    }

    /// Parses and checks a slot object's bytes: size, JSON shape, every field's range. The
    /// slot must carry `expectedId` (its object name) and `repository`.
    public static func decode(_ bytes: [UInt8], expectedId: String, repository: String) throws -> KeySlot {
        let what = "keys/\(expectedId)"
        func bad(_ why: String) -> CairnError {
            CairnError(.integrity, "key slot \(what) \(why); the slot is damaged or not Cairn's, remove it with `cairn key remove \(expectedId)`", path: what)
        }
        guard bytes.count <= maxSize else { throw bad("is \(bytes.count) bytes, more than the \(maxSize)-byte limit") }
        let slot: KeySlot
        do { slot = try JSONDecoder().decode(KeySlot.self, from: Data(bytes)) } catch { throw bad("is not valid key slot JSON") }
        guard slot.format == "cairn-key-slot" else { throw bad("has format \(ZipLE.quote(slot.format.prefix(40)))") }
        guard slot.version == 1 else {
            throw CairnError(.unsupportedFormat, "key slot \(what) has version \(slot.version); this cairn reads version 1 only, use a newer cairn", path: what)
        }
        guard slot.id == expectedId else { throw bad("names itself \(ZipLE.quote(slot.id.prefix(40))), not its object name") }
        guard slot.repository == repository else { throw bad("belongs to repository \(ZipLE.quote(slot.repository.prefix(40))), not \(repository)") }
        guard slot.kdf == "scrypt", slot.cipher == "aes-256-gcm" else {
            throw CairnError(.unsupportedFormat, "key slot \(what) uses \(ZipLE.quote(slot.kdf.prefix(20)))/\(ZipLE.quote(slot.cipher.prefix(20))); this cairn reads scrypt/aes-256-gcm slots only", path: what)
        }
        try slot.scrypt.validate(what)
        guard let salt = Data(base64Encoded: slot.salt), salt.count == saltLength else { throw bad("has a salt that is not \(saltLength) bytes of base64") }
        guard let w = Data(base64Encoded: slot.wrapped), w.count == wrappedLength else { throw bad("has a wrapped key that is not \(wrappedLength) bytes of base64") }
        guard slot.label.utf8.count <= 200, slot.created.utf8.count <= 40 else { throw bad("has a label or creation time that is too long") }
        return slot
    }
}
