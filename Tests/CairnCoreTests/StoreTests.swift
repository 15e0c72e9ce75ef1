// The engine side of the storage seam: the one StorageError -> CairnError mapping (exit codes) and
// the index object layout under hostile input (every truncation and every single-byte change of
// a valid object is refused with an integrity error, never a trap).

import CairnCore
import CairnStorage
import Testing

@Suite struct StoreTests {
    @Test func storageErrorsMapToOneExitCodeEach() {
        let cases: [(StorageError, Int32)] = [
            (StorageError(.permission, "p"), 25),
            (StorageError(.permission, "k", detail: .badCredentials), 25),
            (StorageError(.transient, "t"), 26),
            (StorageError(.transient, "u", detail: .unreachable), 26),
            (StorageError(.fatal, "c", detail: .clockSkew), 27),
            (StorageError(.notFound, "b", detail: .noSuchBucket), 10),
            (StorageError(.noSpace, "n"), 16),
            (StorageError(.fatal, "eio"), 17),
            (StorageError(.alreadyExists, "x"), 20),
            (StorageError(.notFound, "o"), 13),
        ]
        for (e, code) in cases {
            let c = CairnError(storage: e)
            #expect(c.code.exitCode == code, "\(e.kind) \(String(describing: e.detail)) -> \(c.code)")
            #expect(c.message == e.message)
        }
        #expect(CairnError(storage: StorageError(.notFound, "pack"), notFound: .integrity).code.exitCode == 15)
    }

    func sample() -> IndexObject {
        var entries: [PackEntry] = []
        var offset: UInt64 = 8
        for i in 0..<5 {
            let id = BlockId.hash(Array("block \(i)".utf8))
            entries.append(PackEntry(id: id, kind: i == 4 ? .tree : .data, codec: i % 2 == 0 ? .lz4 : .none, offset: offset,
                                     storedLength: 100, rawLength: i % 2 == 0 ? 300 : 100, crc32: UInt32(i)))
            offset += 100
        }
        return IndexObject(pack: "0123456789abcdef0123456789abcdef", packSize: offset + UInt64(entries.count * 64 + 16), entries: entries)
    }

    @Test func indexObjectRoundTripsAndRefusesEveryDamage() throws {
        let o = sample()
        let bytes = o.encoded()
        #expect(bytes.count == 32 + 5 * 64 + 16)
        #expect(try IndexObject.decode(bytes, name: o.pack, what: "t") == o)
        func refused(_ b: [UInt8], _ name: String = "0123456789abcdef0123456789abcdef") -> Bool {
            do { _ = try IndexObject.decode(b, name: name, what: "t"); return false } catch let e as CairnError { return e.code == .integrity } catch { return false }
        }
        for n in 0..<bytes.count { #expect(refused(Array(bytes[0..<n])), "truncated to \(n)") }
        // Every single-byte change is refused (the CRC covers the entries), except in the pack
        // size, which is refused when it cannot hold the blocks and otherwise read as it is
        // (`check` compares it with the pack).
        for i in 0..<bytes.count {
            var b = bytes
            b[i] ^= 0x5a
            if (24..<32).contains(i), let d = try? IndexObject.decode(b, name: o.pack, what: "t") {
                #expect(d.entries == o.entries && d.packSize != o.packSize, "byte \(i)")
            } else {
                #expect(refused(b), "byte \(i) changed")
            }
        }
        #expect(refused(bytes, "fedcba9876543210fedcba9876543210"), "another pack's name")
        #expect(refused(bytes, "../../etc"), "not a pack name")
        var small = o
        small.packSize = 40
        #expect(refused(small.encoded()), "blocks beyond the pack size")
        #expect(refused(Array(repeating: 0xff, count: IndexObject.maxSize + 1)))
    }
}
