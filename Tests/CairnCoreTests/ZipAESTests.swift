// WinZip AES (AE-2) archives: written by ZipWriter, opened by 7-Zip and bsdtar with the
// password, read back by ZipReader; a wrong or missing password and a changed byte refused;
// the encrypted size estimate exact for stored entries; content markers never in the clear.

import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct ZipAESTests {
    static let password = "pässwörd 7"
    static let marker = Array("CAIRN-ZIP-MARKER-0c9e".utf8)

    /// The mixed fixture plus a file holding a marker, written encrypted to `path`.
    static func write(_ path: String) throws -> [ZipTestKit.Item] {
        var items = ZipTestKit.mixedItems()
        items.append(ZipTestKit.Item(name: "silo/secret.txt", kind: .file, mode: 0o600, mtimeNs: 1_600_000_000_000_000_000,
                                     content: [UInt8](repeating: 0x2e, count: 500) + marker, method: .deflate))
        let sink = try FileSink(path: path)
        try ZipTestKit.write(items, to: ZipWriter(sink: sink, encryption: ZipEncryption(password: Array(password.utf8))))
        return items
    }

    static func limits() -> ZipLimits { ZipLimits(symlinks: .allowAnyTarget) }

    @Test func sevenZipAndBsdtarOpenItWithThePassword() throws {
        let t = TempDir("cairn-zipaes"); defer { t.remove() }
        let zip = t.sub("a.zip")
        let items = try Self.write(zip)
        let raw = try FS.readAll(zip)
        #expect(!raw.indices.dropLast(Self.marker.count).contains { raw[$0] == Self.marker[0] && Array(raw[$0..<$0 + Self.marker.count]) == Self.marker })
        let sz = try ZipTestKit.tool("7z", ["x", "-p\(Self.password)", "-o\(t.sub("7z"))", zip])
        #expect(sz.status == 0 && sz.stdout.contains("Everything is Ok"), "7z: \(sz.stdout.suffix(600))\(sz.stderr)")
        try FS.mkdirs(t.sub("bsd"))
        let bsd = try ZipTestKit.tool("bsdtar", ["--passphrase", Self.password, "-xf", zip, "-C", t.sub("bsd")])
        #expect(bsd.status == 0, "bsdtar: \(bsd.stderr)")
        for it in items where it.kind == .file {
            #expect(try FS.readAll(t.sub("7z/" + it.name)) == it.content, "7z: \(it.name)")
            #expect(try FS.readAll(t.sub("bsd/" + it.name)) == it.content, "bsdtar: \(it.name)")
        }
        #expect(try FS.readlink(t.sub("bsd/silo/link-to-tool")) == "bin/tool")
        // A wrong password: 7z reports it and fails.
        let wrong = try ZipTestKit.tool("7z", ["t", "-pnot-it", zip])
        #expect(wrong.status != 0)
    }

    @Test func readerDecryptsAndRefusesWrongMissingAndTampered() throws {
        let t = TempDir("cairn-zipaes"); defer { t.remove() }
        let archive = t.sub("a.zip")
        let items = try Self.write(archive)
        let r = try ZipReader(path: archive, limits: Self.limits(), password: ZipPassword(bytes: Array(Self.password.utf8)))
        #expect(r.entries.count == items.count)
        for (e, it) in zip(r.entries, items) {
            #expect(e.aes == (it.kind == .file ? ZipAESInfo(strength: 3, version: 2) : nil))
            if it.kind == .file { #expect(try r.contents(e) == it.content, "\(it.name)") }
            if it.kind == .symlink { #expect(e.targetBytes == Array(it.target.utf8)) }
        }
        do {
            _ = try ZipReader(path: archive, limits: Self.limits(), password: ZipPassword(bytes: Array("wrong".utf8)))
            Issue.record("a wrong password was accepted")
        } catch let e as CairnError { #expect(e.code == .wrongPassword, "\(e.message)") }
        do {
            _ = try ZipReader(path: archive, limits: Self.limits())
            Issue.record("an encrypted archive opened without a password")
        } catch let e as CairnError { #expect(e.code == .invalidInput && e.message.contains("is encrypted (WinZip AES)"), "\(e.message)") }

        // Change one byte in the middle of a file's ciphertext: that entry fails its authentication code.
        let stored = try #require(r.entries.first { $0.name == "silo/data/stored.bin" })
        var bytes = try FS.readAll(archive)
        let at = Int(stored.localHeaderOffset) + 200
        bytes[at] ^= 0x04
        try writeFile(t.sub("b.zip"), bytes)
        let rb = try ZipReader(path: t.sub("b.zip"), limits: Self.limits(), password: ZipPassword(bytes: Array(Self.password.utf8)))
        do {
            _ = try rb.contents(try #require(rb.entries.first { $0.name == "silo/data/stored.bin" }))
            Issue.record("a changed byte was accepted")
        } catch let e as CairnError { #expect(e.message.contains("authentication code"), "\(e.message)") }
        // 7-Zip agrees that the archive is damaged.
        let sz = try ZipTestKit.tool("7z", ["t", "-p\(Self.password)", t.sub("b.zip")])
        #expect(sz.status != 0)
    }

    @Test func encryptedStoredSizeEstimateIsExact() throws {
        let t = TempDir("cairn-zipaes"); defer { t.remove() }
        var items = ZipTestKit.mixedItems()
        for i in items.indices { items[i].method = .store; items[i].precomputedCRC = false }
        var est = ZipSizeEstimator(encrypted: true)
        for it in items {
            try est.add(ZipEntrySpec(name: it.name, kind: it.kind, size: UInt64(it.kind == .symlink ? it.target.utf8.count : it.content.count)))
        }
        let sink = try FileSink(path: t.sub("s.zip"))
        let written = try ZipTestKit.write(items, to: ZipWriter(sink: sink, encryption: ZipEncryption(password: [0x61])))
        #expect(est.total == written)
        #expect(try FS.lstat(t.sub("s.zip")).size == written)
    }

    /// Positions in an AE-2 archive: the first 0x9901 extra in the central directory and in the
    /// local headers, and the header each belongs to.
    static func aesPositions(_ b: [UInt8]) -> (central: Int, centralHeader: Int, local: Int, localHeader: Int)? {
        let cd = Int(UInt32(b[b.count - 6]) | UInt32(b[b.count - 5]) << 8 | UInt32(b[b.count - 4]) << 16 | UInt32(b[b.count - 3]) << 24)
        func find(_ pattern: [UInt8], from: Int, to: Int) -> Int? {
            var i = from
            while i + pattern.count <= to { if Array(b[i..<i + pattern.count]) == pattern { return i }; i += 1 }
            return nil
        }
        func back(_ sig: [UInt8], from: Int) -> Int? {
            var i = from
            while i >= 0 { if Array(b[i..<i + 4]) == sig { return i }; i -= 1 }
            return nil
        }
        let extra: [UInt8] = [0x01, 0x99, 0x07, 0x00]
        guard let c = find(extra, from: cd, to: b.count), let l = find(extra, from: 0, to: cd),
              let ch = back([0x50, 0x4b, 0x01, 0x02], from: c), let lh = back([0x50, 0x4b, 0x03, 0x04], from: l) else { return nil }
        return (c, ch, l, lh)
    }

    @Test func hostileAESFieldsAreRefusedNotTrappedOn() throws {
        let t = TempDir("cairn-zipaes"); defer { t.remove() }
        _ = try Self.write(t.sub("a.zip"))
        let good = try FS.readAll(t.sub("a.zip"))
        let at = try #require(Self.aesPositions(good))
        let cases: [(String, (inout [UInt8]) -> Void, String)] = [
            ("vendor version 3", { $0[at.central + 4] = 3 }, "valid WinZip AES extra field"),
            ("vendor id AX", { $0[at.central + 7] = 0x58 }, "valid WinZip AES extra field"),
            ("strength 0", { $0[at.central + 8] = 0 }, "valid WinZip AES extra field"),
            ("strength 4", { $0[at.central + 8] = 4 }, "valid WinZip AES extra field"),
            ("extra size 6", { $0[at.central + 2] = 6 }, "extra field"),
            ("real method 99", { $0[at.central + 9] = 99 }, "compression method 99"),
            ("real method 12", { $0[at.central + 9] = 12 }, "compression method 12"),
            ("central encryption flag cleared", { $0[at.centralHeader + 8] &= 0xFE }, "lacks the encryption flag"),
            ("local method 8", { $0[at.localHeader + 8] = 8; $0[at.localHeader + 9] = 0 }, "disagree with the central directory"),
            ("local encryption flag cleared", { $0[at.localHeader + 6] &= 0xFE }, "disagree with the central directory"),
            ("verifier changed", { $0[at.local + 11 + 16] ^= 1 }, "password"),
        ]
        for (name, patch, text) in cases {
            var b = good
            patch(&b)
            let path = t.sub("case.zip")
            try writeFile(path, b)
            do {
                let r = try ZipReader(path: path, limits: Self.limits(), password: ZipPassword(bytes: Array(Self.password.utf8)))
                for e in r.entries where e.kind == .file { _ = try r.contents(e) }
                Issue.record("\(name): accepted")
            } catch let e as CairnError {
                #expect(e.code == (name == "verifier changed" ? .wrongPassword : .invalidInput) && e.message.contains(text), "\(name): \(e.message)")
            }
        }
    }
}
