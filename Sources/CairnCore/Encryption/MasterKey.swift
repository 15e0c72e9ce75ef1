// The repository's master key and the keys derived from its parts: the object cipher, keyed
// block ids (HMAC-SHA256) and the keyed FastCDC gear table. Pure functions.

import CairnStorage

/// A repository's secret: three independent random 32-byte keys, drawn once at
/// `cairn init --encryption` and wrapped in key slots; changing a password never changes them.
public struct MasterKey: Sendable, Equatable {
    /// AES-256-GCM key of every repository object (`ObjectCipher`).
    public let encryptionKey: [UInt8]
    /// HMAC-SHA256 key of block ids (`BlockIdScheme.keyed`).
    public let idKey: [UInt8]
    /// Key of the chunker's gear table (`FastCDC(_:chunkerKey:)`).
    public let chunkerKey: [UInt8]

    /// Length of the serialized key: 3 x 32 bytes.
    public static let length = 96

    /// A fresh random master key.
    public static func generate() -> MasterKey {
        // Three draws rather than one split: each key is independent by construction.
        MasterKey(SecureRandom.bytes(32), SecureRandom.bytes(32), SecureRandom.bytes(32))
    }

    private init(_ e: [UInt8], _ i: [UInt8], _ c: [UInt8]) {
        encryptionKey = e
        idKey = i
        chunkerKey = c
    }

    /// The key from its 96 serialized bytes (encryption key, id key, chunker key).
    public init(bytes: [UInt8]) throws {
        guard bytes.count == MasterKey.length else {
            throw CairnError(.integrity, "a master key is \(MasterKey.length) bytes, this one is \(bytes.count); the key slot is damaged")
        }
        self.init(Array(bytes[0..<32]), Array(bytes[32..<64]), Array(bytes[64..<96]))
    }

    /// The 96 bytes a key slot wraps.
    public var bytes: [UInt8] { encryptionKey + idKey + chunkerKey }

    /// The cipher every repository object is sealed with.
    public var cipher: ObjectCipher { ObjectCipher(key: encryptionKey) }

    /// Keyed block ids.
    public var blockIds: BlockIdScheme { .keyed(HMACKey(key: idKey, digest: .sha256)) }
}

/// How a block's id is computed from its plaintext.
public enum BlockIdScheme: Sendable {
    /// SHA-256 of the plaintext (unencrypted repositories).
    case sha256
    /// HMAC-SHA256 of the plaintext under the repository's id key: a stored id reveals nothing
    /// about content to someone without the key (no confirming a guessed file by its hash).
    case keyed(HMACKey)

    /// The id of `data`.
    public func id(of data: UnsafeRawBufferPointer) -> BlockId {
        switch self {
        case .sha256: return BlockId.hash(data)
        case .keyed(let k): return BlockId(k.mac(data))
        }
    }

    /// The id of bytes held in an array.
    public func id(of bytes: [UInt8]) -> BlockId { bytes.withUnsafeBytes { id(of: $0) } }
}

extension FastCDC {
    /// A chunker whose gear table is derived from `chunkerKey` instead of the public `gearSeed`,
    /// so cut points (and so block sizes) cannot fingerprint a known file without the key.
    /// Entry j*4+k of the table is the little-endian u64 at byte 8k of
    /// HMAC-SHA256(chunkerKey, "cairn-gear-v1" | u8 j), j = 0...63. Sizes and masks are unchanged.
    public init(_ params: ChunkerParams, chunkerKey: [UInt8]) {
        self.init(params, gear: FastCDC.keyedGear(chunkerKey))
    }

    static func keyedGear(_ key: [UInt8]) -> [UInt64] {
        let h = HMACKey(key: key, digest: .sha256)
        var table: [UInt64] = []
        table.reserveCapacity(256)
        for j in 0..<64 {
            let block = h.mac(Array("cairn-gear-v1".utf8) + [UInt8(j)])
            for k in 0..<4 {
                var v: UInt64 = 0
                for b in 0..<8 { v |= UInt64(block[k * 8 + b]) << UInt64(8 * b) }
                table.append(v)
            }
        }
        return table
    }
}
