import CairnCore
import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Metadata fidelity (tree format 2): owner and group, hard links and timestamps outside the
/// Int64-nanosecond range come back from snapshot -> restore (--to and in place) and through
/// export -> import. Owners are only restored as root (CI runs as root).
@Suite struct MetadataTests {
    /// 2300-01-01T00:00:00Z (after 2262, when Int64 nanoseconds wrap) and 1901-12-14 (the
    /// oldest time ext4 holds; tmpfs and others go further).
    static let late = Timestamp(seconds: 10_413_792_000, nanoseconds: 123_456_789)
    static let early = Timestamp(seconds: -2_147_483_000, nanoseconds: 5)
    /// Before 1678: kept when the filesystem can hold it.
    static let ancient = Timestamp(seconds: -12_000_000_000, nanoseconds: 0)

    func snapshotId(_ repo: String) throws -> String {
        let r = try cairn(repo, ["snapshot", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return CairnTestSupport.snapshotId(fromJSON: r) ?? ""
    }

    /// Builds the silo; returns the digest options that apply (owners only as root).
    func makeSilo(_ root: FileName) throws -> (ByteDigestOptions, ancient: Bool) {
        try makeDirectory(bytes: root)
        try makeDirectory(bytes: root.appending("sub"))
        try writeFile(bytes: root.appending("a"), Array("linked content\n".utf8))
        try writeFile(bytes: root.appending("c"), Array("linked content\n".utf8))  // same content, not a link
        for l in ["b", "sub/d"] {
            let ok = root.appending("a").withCString { a in root.appending(FileName(utf8: l)).withCString { link(a, $0) } }
            #expect(ok == 0)
        }
        try writeFile(bytes: root.appending("late"), Array("x".utf8))
        #expect(try setExactTime(root.appending("late"), Self.late))
        try writeFile(bytes: root.appending("early"), Array("y".utf8))
        #expect(try setExactTime(root.appending("early"), Self.early))
        try writeFile(bytes: root.appending("ancient"), Array("z".utf8))
        let ancient = try setExactTime(root.appending("ancient"), Self.ancient)
        try makeSymlink(bytes: root.appending("link"), target: "a")
        let root0 = geteuid() == 0
        if root0 {
            #expect(root.appending("a").withCString { chown($0, 4242, 4343) } == 0)
            #expect(root.appending("late").withCString { chown($0, 0, 0) } == 0)  // root: a name that exists here
            #expect(root.appending("link").withCString { lchown($0, 4244, 4345) } == 0)
            #expect(root.appending("sub").withCString { chown($0, 4246, 4347) } == 0)
        }
        #expect(try setExactTime(root.appending("sub"), Self.late))
        return (ByteDigestOptions(mtimes: true, owners: root0, links: true), ancient)
    }

    @Test func ownersHardLinksAndExtremeTimesRoundTrip() throws {
        let t = TempDir("cairn-meta"); defer { t.remove() }
        let live = FileName(utf8: t.sub("live"))
        let (opts, ancient) = try makeSilo(live)
        let want = try byteTreeDigest(live, opts)
        #expect(want.contains { $0.contains(" link=0") } && want.filter { $0.contains(" link=0") }.count == 3, "a, b and sub/d are one link group: \(want)")
        let repo = t.sub("repo")
        #expect(try cairn(repo, ["init"]).status == 0)
        #expect(try cairn(repo, ["silo", "add", "m", t.sub("live")]).status == 0)
        let id = try snapshotId(repo)

        // The tree holds them (ls --json shows uid/gid and the link count).
        let lsj = try cairn(repo, ["ls", "-r", id, "m", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(lsj.stdoutBytes)) as? [[String: Any]])
        let a = try #require(rows.first { $0["silo"] as? String == "m" && $0["path"] as? String == "a" })
        #expect(a["links"] as? Int == 3)
        if geteuid() == 0 { #expect(a["uid"] as? Int == 4242 && a["gid"] as? Int == 4343) }

        #expect(try cairn(repo, ["restore", id, "--to", t.sub("to")]).status == 0)
        let got = try byteTreeDigest(FileName(utf8: t.sub("to/m")), opts)
        #expect(got == want, "restore --to: \(Set(want).symmetricDifference(got))")
        if ancient { #expect(try FS.lstat(FileName(utf8: t.sub("to/m/ancient"))).mtime == Self.ancient) }

        // In place, after the links were broken and owners changed.
        #expect(live.appending("b").withCString { unlink($0) } == 0)
        try writeFile(bytes: live.appending("b"), Array("linked content\n".utf8))
        if geteuid() == 0 { #expect(live.appending("a").withCString { chown($0, 1, 1) } == 0) }
        #expect(try cairn(repo, ["restore", id]).status == 0)
        let back = try byteTreeDigest(live, opts)
        #expect(back == want, "in place: \(Set(want).symmetricDifference(back))")

        // Export -> import -> restore: the manifest carries owner, links and exact times.
        let zip = t.sub("m.zip")
        #expect(try cairn(repo, ["export", id, "--output", zip]).status == 0)
        let repo2 = t.sub("repo2")
        #expect(try cairn(repo2, ["init"]).status == 0)
        let im = try cairn(repo2, ["import", zip, "--json"])
        #expect(im.status == 0, "\(im.stderr)")
        let imported = try #require(jsonFields(im)["snapshot"] as? String)
        #expect(try cairn(repo2, ["restore", imported, "--to", t.sub("to2")]).status == 0)
        let viaZip = try byteTreeDigest(FileName(utf8: t.sub("to2/m")), opts)
        #expect(viaZip == want, "via ZIP: \(Set(want).symmetricDifference(viaZip))")
        let ls1 = try cairn(repo, ["ls", "-r", id, "m", "--json"]).stdout
        let ls2 = try cairn(repo2, ["ls", "-r", imported, "m", "--json"]).stdout
        #expect(ls1 == ls2, "the import rebuilt the same trees")
    }

    /// Names win over ids unless --numeric-owner (restic's rule): an entry stored as
    /// uid 4242 named "root" is restored to root's uid here, or to 4242 with numericOwner.
    @Test(.enabled(if: geteuid() == 0)) func ownerNamesWinUnlessNumeric() throws {
        let t = TempDir("cairn-owner"); defer { t.remove() }
        let r = try makeRepository(t, silos: [:])
        var e = TreeEntry(name: "l", kind: .symlink, mode: 0o777, mtimeNs: 0, target: "x")
        e.owner = Ownership(uid: 4242, gid: 4343, user: Array("root".utf8), group: Array("root".utf8))
        let m = Materializer(repository: r)
        try m.writeEntry(e, at: FileName(utf8: t.sub("byName")), display: "l")
        m.numericOwner = true
        try m.writeEntry(e, at: FileName(utf8: t.sub("byId")), display: "l")
        let byName = try FS.lstat(t.sub("byName")), byId = try FS.lstat(t.sub("byId"))
        #expect(byName.uid == 0 && byName.gid == 0)
        #expect(byId.uid == 4242 && byId.gid == 4343)
        // A name this host lacks falls back to the id.
        e.owner = Ownership(uid: 4244, gid: 4345, user: Array("no-such-user-cairn".utf8), group: [])
        m.numericOwner = false
        try m.writeEntry(e, at: FileName(utf8: t.sub("unknown")), display: "l")
        let unknown = try FS.lstat(t.sub("unknown"))
        #expect(unknown.uid == 4244 && unknown.gid == 4345)
    }
}
