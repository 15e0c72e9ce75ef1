// Key slots and the key store through real backends (memory and a local folder): unlock, wrong
// password (exit 28), no usable slot (exit 29), add / remove / change password without
// changing the master key, damaged and hostile slots, and the password sources.

import CairnCore
import CairnStorage
import CairnTestSupport
import Foundation
import Testing

let repoId = "0123456789abcdef0123456789abcdef"
let pw1 = Array("correct horse".utf8), pw2 = Array("battery staple".utf8)

func expectCode(_ code: CairnError.Code, _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await body()
        Issue.record("expected \(code.rawValue), got success", sourceLocation: sourceLocation)
    } catch let e as CairnError {
        #expect(e.code == code, "\(e.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code.rawValue), got \(error)", sourceLocation: sourceLocation)
    }
}

/// The backends key stores are tested on: memory and a real folder.
func keyBackends(_ t: TempDir) throws -> [any Backend] {
    try FS.mkdirs(t.sub("repo"))
    return [MemoryBackend(), LocalBackend(path: t.sub("repo"))]
}

@Suite struct KeyStoreTests {
    @Test func lifecycleOnMemoryAndLocalBackends() async throws {
        let t = TempDir("cairn-keys"); defer { t.remove() }
        for b in try keyBackends(t) {
            let store = KeyStore(backend: b, repository: repoId)
            await expectCode(.keyMissing) { _ = try await store.unlock(password: pw1) }
            let first = try await store.initialize(password: pw1, params: .testing, label: "laptop")
            await expectCode(.alreadyExists) { _ = try await store.initialize(password: pw1, params: .testing) }
            let u = try await store.unlock(password: pw1)
            #expect(u.key == first.key && u.slot == first.slot)
            await expectCode(.wrongPassword) { _ = try await store.unlock(password: pw2) }

            // A second slot opens the same key.
            let second = try await store.add(key: u.key, password: pw2, params: .testing, label: "server")
            #expect(try await store.slotIds().sorted() == [first.slot, second.id].sorted())
            #expect(try await store.unlock(password: pw2).key == first.key)
            #expect(try await store.slots().map(\.label).sorted() == ["laptop", "server"])

            // Change the first password: the old one stops working, the key stays.
            let pw3 = Array("new secret".utf8)
            let changed = try await store.changePassword(old: pw1, new: pw3, params: .testing)
            #expect(changed.label == "laptop")
            await expectCode(.wrongPassword) { _ = try await store.unlock(password: pw1) }
            #expect(try await store.unlock(password: pw3).key == first.key)
            #expect(try await store.slotIds().count == 2)

            // Remove a slot: its password is refused; the last slot cannot be removed.
            try await store.remove(second.id, password: pw3)
            await expectCode(.wrongPassword) { _ = try await store.unlock(password: pw2) }
            await expectCode(.invalidInput) { try await store.remove(changed.id, password: pw3) }
            await expectCode(.notFound) { try await store.remove(second.id, password: pw3) }
            await expectCode(.invalidInput) { _ = try await store.slot("../config") }

            // A store bound to another repository id cannot use these slots.
            await expectCode(.keyMissing) { _ = try await KeyStore(backend: b, repository: String(repeating: "f", count: 32)).unlock(password: pw3) }
        }
    }

    @Test func damagedSlotsAreSkippedThenKeyMissing() async throws {
        let t = TempDir("cairn-keys"); defer { t.remove() }
        for b in try keyBackends(t) {
            let store = KeyStore(backend: b, repository: repoId)
            let u = try await store.initialize(password: pw1, params: .testing)
            let good = try await store.slot(u.slot)
            // A copy of the slot with one byte of the wrapped key changed, under a new name.
            var bad = good
            bad.id = String(repeating: "0", count: 32)
            var w = Array(Data(base64Encoded: bad.wrapped)!)
            w[40] ^= 0x80
            bad.wrapped = Data(w).base64EncodedString()
            try await b.put(ObjectHandle(.keys, bad.id)!, bytes: try bad.encoded())
            // Slot 000… sorts first and fails its tag; the good slot still opens.
            #expect(try await store.unlock(password: pw1).slot == u.slot)
            // Garbage as a slot: skipped for unlocking, named when listed.
            try await b.put(ObjectHandle(.keys, "1" + String(repeating: "0", count: 31))!, bytes: Array("{not json".utf8))
            #expect(try await store.unlock(password: pw1).key == u.key)
            await expectCode(.integrity) { _ = try await store.slots() }
            // With the good slot gone, the tampered one fails the password and garbage is unusable.
            try await b.delete(ObjectHandle(.keys, u.slot)!)
            await expectCode(.wrongPassword) { _ = try await store.unlock(password: pw1) }
            try await b.delete(ObjectHandle(.keys, bad.id)!)
            await expectCode(.keyMissing) { _ = try await store.unlock(password: pw1) }
        }
    }

    @Test func hostileSlotContentsAreRefusedBeforeScrypt() throws {
        let key = MasterKey.generate()
        let slot = try KeySlot.make(key: key, password: pw1, repository: repoId, params: .testing, created: "2026-12-02T00:00:00Z")
        let bytes = try slot.encoded()
        #expect(try KeySlot.decode(bytes, expectedId: slot.id, repository: repoId) == slot)
        #expect(try slot.unwrap(password: pw1) == key)
        #expect(try slot.unwrap(password: pw2) == nil)
        func refused(_ s: KeySlot, _ code: CairnError.Code = .integrity, _ text: String) {
            do {
                _ = try KeySlot.decode(try s.encoded(), expectedId: slot.id, repository: repoId)
                Issue.record("accepted: \(text)")
            } catch let e as CairnError {
                #expect(e.code == code && e.message.contains(text), "\(e.message)")
            } catch { Issue.record("\(error)") }
        }
        var s = slot; s.scrypt = ScryptParams(n: 1 << 40, r: 8, p: 1); refused(s, .integrity, "outside the accepted bounds")
        s = slot; s.scrypt = ScryptParams(n: 1 << 20, r: 32, p: 16); refused(s, .integrity, "outside the accepted bounds")
        s = slot; s.scrypt = ScryptParams(n: 1000, r: 8, p: 1); refused(s, .integrity, "outside the accepted bounds")
        s = slot; s.scrypt = ScryptParams(n: 1 << 10, r: 0, p: 1); refused(s, .integrity, "outside the accepted bounds")
        s = slot; s.version = 2; refused(s, .unsupportedFormat, "version 2")
        s = slot; s.kdf = "argon2id"; refused(s, .unsupportedFormat, "scrypt/aes-256-gcm")
        s = slot; s.repository = "other"; refused(s, .integrity, "belongs to repository")
        s = slot; s.id = "other"; refused(s, .integrity, "names itself")
        s = slot; s.salt = "AAAA"; refused(s, .integrity, "salt")
        s = slot; s.wrapped = "!!!"; refused(s, .integrity, "wrapped key")
        s = slot; s.label = String(repeating: "x", count: 300); refused(s, .integrity, "too long")
        #expect(throws: CairnError.self) { try KeySlot.decode([UInt8](repeating: 0x20, count: KeySlot.maxSize + 1), expectedId: slot.id, repository: repoId) }
        #expect(throws: CairnError.self) { try KeySlot.decode(Array("[]".utf8), expectedId: slot.id, repository: repoId) }
        // Changing the stored parameters (a downgrade) breaks the binding even with the right password.
        var weaker = slot
        weaker.scrypt = ScryptParams(n: 1 << 11, r: 8, p: 1)
        #expect(try weaker.unwrap(password: pw1) == nil)
    }
}

@Suite struct PasswordSourceTests {
    @Test func sourcesInOrder() throws {
        let t = TempDir("cairn-pw"); defer { t.remove() }
        try writeFile(t.sub("pw"), Array("from file\n".utf8))
        try writeFile(t.sub("crlf"), Array("dos\r\n".utf8))
        try writeFile(t.sub("empty"), [])
        let env = ["CAIRN_PASSWORD": "from env"]
        func read(_ o: PasswordOptions) throws -> String { String(decoding: try Password.read(o, purpose: "password"), as: UTF8.self) }
        #expect(try read(PasswordOptions(file: t.sub("pw"), environment: env, allowPrompt: false)) == "from file")
        #expect(try read(PasswordOptions(file: t.sub("crlf"), environment: env, allowPrompt: false)) == "dos")
        #expect(try read(PasswordOptions(command: "printf 'from command\\n'", environment: env, allowPrompt: false)) == "from command")
        #expect(try read(PasswordOptions(environment: env, allowPrompt: false)) == "from env")
        func code(_ o: PasswordOptions) -> CairnError.Code? {
            do { _ = try Password.read(o, purpose: "password"); return nil } catch let e as CairnError { return e.code } catch { return nil }
        }
        #expect(code(PasswordOptions(environment: [:], allowPrompt: false)) == .keyMissing)
        #expect(code(PasswordOptions(file: t.sub("pw"), command: "true", environment: [:], allowPrompt: false)) == .usage)
        #expect(code(PasswordOptions(file: t.sub("empty"), environment: [:], allowPrompt: false)) == .invalidInput)
        #expect(code(PasswordOptions(file: t.sub("missing"), environment: [:], allowPrompt: false)) == .io)
        #expect(code(PasswordOptions(command: "exit 3", environment: [:], allowPrompt: false)) == .invalidInput)
        #expect(code(PasswordOptions(command: "head -c 70000 /dev/zero", environment: [:], allowPrompt: false)) == .invalidInput)
    }
}
