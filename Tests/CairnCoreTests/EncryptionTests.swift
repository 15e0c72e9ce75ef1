// Encryption primitives: AES-256-GCM objects bound to their type and name, every tampered
// byte refused with the object named, HMAC known answers, keyed block ids, the keyed chunker
// (and the unkeyed one unchanged), key slots with hostile contents, password sources.

import CairnCore
import CairnStorage
import CairnTestSupport
import Foundation
import Testing

func hex(_ b: [UInt8]) -> String { Hex.encode(b) }

@Suite struct ObjectCipherTests {
    let key = MasterKey.generate()

    @Test func roundTripAndFreshNonces() throws {
        let c = key.cipher
        for n in [0, 1, 15, 16, 17, 4096, 100_003] {
            let plain = SeededBytes(seed: UInt64(n)).bytesCopy(n)
            let a = try c.seal(.pack, name: "0123abcd", plain)
            let b = try c.seal(.pack, name: "0123abcd", plain)
            #expect(a.count == n + ObjectCipher.overhead)
            #expect(a != b, "two seals of the same bytes must use different nonces")
            #expect(try c.open(.pack, name: "0123abcd", a) == plain)
            #expect(try c.open(.pack, name: "0123abcd", b) == plain)
        }
    }

    @Test func ciphertextHidesAKnownMarker() throws {
        let marker = Array("CAIRN-SECRET-MARKER-7f3a".utf8)
        let plain = [UInt8](repeating: 0x20, count: 1000) + marker + [UInt8](repeating: 0x20, count: 1000)
        let sealed = try key.cipher.seal(.snapshot, name: "abc", plain)
        #expect(!sealed.indices.dropLast(marker.count).contains { Array(sealed[$0..<$0 + marker.count]) == marker })
    }

    @Test func everyFlippedByteIsRefusedAndNamesTheObject() throws {
        let plain = Array("snapshot record bytes {\"silos\":[]}".utf8)
        let sealed = try key.cipher.seal(.snapshot, name: "a1b2c3", plain)
        for i in sealed.indices {
            var t = sealed
            t[i] ^= 0x01
            do {
                _ = try key.cipher.open(.snapshot, name: "a1b2c3", t)
                Issue.record("flipped byte \(i) was accepted")
            } catch let e as CairnError {
                #expect(e.code == .integrity)
                #expect(e.message.contains("snapshots/a1b2c3.json"), "\(e.message)")
            }
        }
        // Truncated objects too.
        for n in [0, 1, ObjectCipher.overhead - 1, sealed.count - 1] {
            #expect(throws: CairnError.self) { try key.cipher.open(.snapshot, name: "a1b2c3", Array(sealed.prefix(n))) }
        }
    }

    @Test func aFlippedBitInEveryObjectTypeIsDetectedAndNamed() throws {
        for type in ObjectType.allCases {
            let name = type == .config ? "config" : "0a1b2c"
            let sealed = try key.cipher.seal(type, name: name, Array("contents of a \(type.rawValue) object".utf8))
            let path = ObjectLayout.relativePath(try #require(ObjectHandle(type, name)))
            for bit in [0, 8 * 5 + 3, 8 * (sealed.count / 2), 8 * sealed.count - 1] {
                var t = sealed
                t[bit / 8] ^= UInt8(1 << (bit % 8))
                do {
                    _ = try key.cipher.open(type, name: name, t)
                    Issue.record("\(type.rawValue): flipped bit \(bit) accepted")
                } catch let e as CairnError {
                    #expect(e.code == .integrity && e.message.contains(path), "\(e.message)")
                }
            }
        }
    }

    @Test func objectsCannotBeSwappedBetweenNamesTypesOrKeys() throws {
        let sealed = try key.cipher.seal(.index, name: "00ff", [1, 2, 3])
        #expect(throws: CairnError.self) { try key.cipher.open(.index, name: "00fe", sealed) }
        #expect(throws: CairnError.self) { try key.cipher.open(.snapshot, name: "00ff", sealed) }
        #expect(throws: CairnError.self) { try MasterKey.generate().cipher.open(.index, name: "00ff", sealed) }
        #expect(try key.cipher.open(.index, name: "00ff", sealed) == [1, 2, 3])
    }
}

@Suite struct KeyedIdTests {
    @Test func hmacKnownAnswers() {
        // RFC 4231 test case 2 and RFC 2202 test case 2.
        let data = Array("what do ya want for nothing?".utf8)
        #expect(hex(HMACKey(key: Array("Jefe".utf8), digest: .sha256).mac(data)) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(hex(HMACKey(key: Array("Jefe".utf8), digest: .sha1).mac(data)) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        // RFC 4231 test case 6: a key longer than the block is hashed first.
        let long = [UInt8](repeating: 0xaa, count: 131)
        #expect(hex(HMACKey(key: long, digest: .sha256).mac(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        // Incremental equals one-shot.
        let k = HMACKey(key: [1, 2, 3], digest: .sha256)
        let s = k.stream()
        data.withUnsafeBytes { s.update(UnsafeRawBufferPointer(rebasing: $0[0..<10])); s.update(UnsafeRawBufferPointer(rebasing: $0[10...])) }
        #expect(s.finish() == k.mac(data))
    }

    @Test func keyedBlockIdsRevealNothingWithoutTheKey() {
        let data = SeededBytes(seed: 9).bytesCopy(10_000)
        let a = MasterKey.generate(), b = MasterKey.generate()
        let plain = BlockIdScheme.sha256.id(of: data)
        #expect(plain == BlockId.hash(data))
        #expect(a.blockIds.id(of: data) == a.blockIds.id(of: data))
        #expect(a.blockIds.id(of: data) != plain)
        #expect(a.blockIds.id(of: data) != b.blockIds.id(of: data))
        #expect(a.blockIds.id(of: data).bytes == HMACKey(key: a.idKey, digest: .sha256).mac(data))
    }

    @Test func keyedChunkerMovesCutsAndKeepsBounds() {
        let data = SeededBytes(seed: 3).bytesCopy(2 << 20)
        let plain = FastCDC(.default).cuts(data)
        let k1 = MasterKey.generate().chunkerKey, k2 = MasterKey.generate().chunkerKey
        let c1 = FastCDC(.default, chunkerKey: k1).cuts(data)
        #expect(c1 == FastCDC(.default, chunkerKey: k1).cuts(data), "the keyed chunker is deterministic")
        #expect(c1 != plain && c1 != FastCDC(.default, chunkerKey: k2).cuts(data))
        #expect(c1.reduce(0, +) == data.count)
        for c in c1.dropLast() { #expect(c >= ChunkerParams.default.minSize && c <= ChunkerParams.default.maxSize) }
        let avg = data.count / c1.count
        #expect(avg > 6 << 10 && avg < 14 << 10, "average keyed chunk \(avg)")
        // Boundaries of the keyed chunker share few positions with the public one.
        func ends(_ c: [Int]) -> Set<Int> { var s = Set<Int>(); var o = 0; for x in c { o += x; s.insert(o) }; return s }
        #expect(ends(c1).intersection(ends(plain)).count < c1.count / 4)
    }

    @Test func unkeyedChunkerIsUnchanged() {
        // A byte-at-a-time implementation of Docs/Format.md "Chunking" (SplitMix64 gear table
        // from gearSeed, top-bit masks) must cut exactly where the optimized chunker cuts.
        let p = ChunkerParams.default
        var g = SeededBytes(seed: p.gearSeed)
        let gear = (0..<256).map { _ in g.next() }
        func top(_ n: Int) -> UInt64 { ~UInt64(0) << UInt64(64 - n) }
        let bits = p.avgSize.trailingZeroBitCount
        let maskS = top(bits + p.normalization), maskL = top(bits - p.normalization)
        func referenceCut(_ d: ArraySlice<UInt8>) -> Int {
            if d.count <= p.minSize { return d.count }
            let n = min(d.count, p.maxSize)
            var fp: UInt64 = 0
            for i in p.minSize..<n {
                fp = (fp << 1) &+ gear[Int(d[d.startIndex + i])]
                if fp & (i < p.avgSize ? maskS : maskL) == 0 { return i + 1 }
            }
            return n
        }
        let data = SeededBytes(seed: 1).bytesCopy(1 << 20)
        var reference: [Int] = []
        var off = 0
        while off < data.count { let c = referenceCut(data[off...]); reference.append(c); off += c }
        #expect(FastCDC(.default).cuts(data) == reference)
        #expect(reference.count > 50)
    }
}

extension SeededBytes {
    /// `n` bytes from a fresh generator with this seed.
    func bytesCopy(_ n: Int) -> [UInt8] {
        var g = self
        return g.bytes(n)
    }
}
