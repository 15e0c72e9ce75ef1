// `cairn export --encrypt` (WinZip AE-2) and `cairn import` of such archives through the built
// binary: 7-Zip and bsdtar open the export with the password and give back the silo exactly,
// import gives the same trees; a wrong password (exit 28), no password (exit 29) and a changed
// byte (exit 18) leave the repository as it was; the plaintext never appears in the archive.

import CairnCore
import CairnTestSupport
import Foundation
import Testing

@Suite(.serialized) struct EncryptedExportTests {
    static let password = "s3cret pässword"
    static let marker = "CAIRN-ENCRYPTED-EXPORT-MARKER-41d7"

    /// A small torture tree with a marker file, snapshotted, exported with `--encrypt`.
    func fixture(_ t: TempDir, extra: [String] = []) throws -> (repo: String, zip: String) {
        try makeTortureTree(at: t.sub("src"), files: 150, seed: 5)
        try writeFile(t.sub("src/secret.txt"), Array((String(repeating: "filler ", count: 300) + Self.marker + "\n").utf8))
        let repo = try exportFixture(t, source: t.sub("src"))
        let zip = t.sub("enc.zip")
        let e = try cairn(repo, ["export", "latest", "--encrypt", "--output", zip] + extra, env: ["CAIRN_PASSWORD": Self.password])
        #expect(e.status == 0, "\(e.stderr)")
        return (repo, zip)
    }

    @Test func sevenZipAndBsdtarGiveBackTheSilo() throws {
        let t = TempDir("cairn-encexport"); defer { t.remove() }
        let (repo, zip) = try fixture(t)
        let raw = try FS.readAll(zip)
        #expect(!String(decoding: raw, as: UTF8.self).contains(Self.marker), "the marker is readable in the encrypted archive")
        let original = try digestTree(t.sub("src"), mtimes: false)
        // umask 0: 7-Zip applies the umask to the archive's modes. -snld: it keeps links that
        // leave the folder (it re-roots absolute targets under the output folder, checked below).
        let sz = try sh("umask 0; exec 7z x -p\"$PW\" -snld -o\"$OUT\" \"$ZIP\"", env: ["PW": Self.password, "OUT": t.sub("7z"), "ZIP": zip])
        #expect(sz.status == 0 && sz.stdout.contains("Everything is Ok"), "7z: \(sz.stdout.suffix(600))")
        let bsdDir = t.sub("bsd")
        try FS.mkdirs(bsdDir)
        let bsd = try zipTool("bsdtar", ["--passphrase", Self.password, "-xf", zip, "-C", bsdDir])
        #expect(bsd.status == 0, "bsdtar: \(bsd.stderr)")
        for (tool, dir) in [("7z", t.sub("7z/data")), ("bsdtar", bsdDir + "/data")] {
            var got = try digestTree(dir, mtimes: false), want = original
            if tool == "7z" {
                #expect(got["d0/link-dangling"]?.target == t.sub("7z") + "/nonexistent/target")
                got["d0/link-dangling"] = nil
                want["d0/link-dangling"] = nil
            }
            #expect(got == want, "\(tool): \(digestDifferences(got, want))")
        }
        // The manifest is encrypted too, and decrypts to the snapshot's.
        let manifest = String(decoding: try FS.readAll(bsdDir + "/cairn-snapshot.json"), as: UTF8.self)
        #expect(manifest.contains("\"format\":\"cairn-export\""))
        // --estimate --encrypt is exact for store.
        let store = t.sub("store.zip")
        #expect(try cairn(repo, ["export", "latest", "--encrypt", "--compression", "store", "--output", store], env: ["CAIRN_PASSWORD": Self.password]).status == 0)
        let est = try exportEstimate(repo, "store", ["--encrypt"])
        #expect(est.store == (try fileSize(store)))
    }

    @Test func importGivesTheSameTreesAndRefusesWrongOrMissingPasswordsAndChangedBytes() throws {
        let t = TempDir("cairn-encimport"); defer { t.remove() }
        let (repo, zip) = try fixture(t)
        let target = t.sub("target")
        #expect(try cairn(target, ["init"]).status == 0)
        let before = try repositoryFiles(target)

        let wrong = try cairn(target, ["import", zip], env: ["CAIRN_PASSWORD": "not the password"])
        #expect(wrong.status == 28, "\(wrong.stderr)")
        #expect(wrong.stderr.split(separator: "\n").count == 1 && wrong.stderr.contains("password"), "\(wrong.stderr)")
        let none = try cairn(target, ["import", zip])
        #expect(none.status == 29, "\(none.stderr)")
        #expect(none.stderr.contains("CAIRN_PASSWORD"), "\(none.stderr)")
        // One changed byte inside the manifest's ciphertext (the last file entry before RESTORE.txt).
        var bytes = try FS.readAll(zip)
        var limits = ZipLimits(symlinks: .allowAnyTarget)
        limits.allowBackslash = true
        let r = try ZipReader(path: zip, limits: limits, password: ZipPassword(bytes: Array(Self.password.utf8)))
        let m = try #require(r.entries.first { $0.name == "cairn-snapshot.json" })
        bytes[Int(m.localHeaderOffset) + 120] ^= 0x10
        try writeFile(t.sub("tampered.zip"), bytes)
        let bad = try cairn(target, ["import", t.sub("tampered.zip")], env: ["CAIRN_PASSWORD": Self.password])
        #expect(bad.status == 18 && bad.stderr.contains("authentication code"), "\(bad.stderr)")
        #expect(try repositoryFiles(target) == before, "a refused import changed the repository")
        #expect(try snapshotCount(target) == 0)

        let pwFile = t.sub("pw")
        try writeFile(pwFile, Array((Self.password + "\n").utf8), mode: 0o600)
        let ok = try cairn(target, ["import", zip, "--password-file", pwFile])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try siloTrees(target) == (try siloTrees(repo)))
        // inspect reads the encrypted manifest with the password.
        let ins = try run(cairnBinary(), ["inspect", zip, "--password-command", "printf '%s' '\(Self.password)'"])
        #expect(ins.status == 0 && ins.stdout.contains("Cairn export of snapshot"), "\(ins.stderr)")
    }
}
