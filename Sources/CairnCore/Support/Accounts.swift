// User and group names of numeric ids (and back), looked up once per id per run.
//
// Names are kept as raw bytes (the passwd and group databases hold bytes, not text).

#if canImport(Glibc)
import Glibc
#endif

/// A cache of passwd/group lookups. Not shared between threads.
public final class Accounts {
    private var users: [UInt32: [UInt8]] = [:]
    private var groups: [UInt32: [UInt8]] = [:]
    private var uids: [[UInt8]: UInt32?] = [:]
    private var gids: [[UInt8]: UInt32?] = [:]

    public init() {}

    private var last: Ownership?

    /// The ownership record of a stat result (names empty when the ids have none). Repeats of
    /// the previous ids (most entries of a tree) reuse its record.
    public func ownership(uid: UInt32, gid: UInt32) -> Ownership {
        if let l = last, l.uid == uid, l.gid == gid { return l }
        let o = Ownership(uid: uid, gid: gid, user: userName(uid), group: groupName(gid))
        last = o
        return o
    }

    public func userName(_ uid: UInt32) -> [UInt8] {
        if let n = users[uid] { return n }
        var n: [UInt8] = []
        var pw = passwd()
        var res: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid_t(uid), &pw, &buf, buf.count, &res) == 0, res != nil, let p = pw.pw_name { n = Self.bytes(p) }
        users[uid] = n
        return n
    }

    public func groupName(_ gid: UInt32) -> [UInt8] {
        if let n = groups[gid] { return n }
        var n: [UInt8] = []
        var gr = group()
        var res: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 4096)
        if getgrgid_r(gid_t(gid), &gr, &buf, buf.count, &res) == 0, res != nil, let p = gr.gr_name { n = Self.bytes(p) }
        groups[gid] = n
        return n
    }

    /// The local uid of a user name, nil when this host has no such user.
    public func uid(named name: [UInt8]) -> UInt32? {
        if name.isEmpty { return nil }
        if let v = uids[name] { return v }
        var pw = passwd()
        var res: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        let ok = FileName(bytes: name).withCString { getpwnam_r($0, &pw, &buf, buf.count, &res) } == 0 && res != nil
        let v: UInt32? = ok ? UInt32(pw.pw_uid) : nil
        uids[name] = v
        return v
    }

    /// The local gid of a group name, nil when this host has no such group.
    public func gid(named name: [UInt8]) -> UInt32? {
        if name.isEmpty { return nil }
        if let v = gids[name] { return v }
        var gr = group()
        var res: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 4096)
        let ok = FileName(bytes: name).withCString { getgrnam_r($0, &gr, &buf, buf.count, &res) } == 0 && res != nil
        let v: UInt32? = ok ? UInt32(gr.gr_gid) : nil
        gids[name] = v
        return v
    }

    static func bytes(_ p: UnsafePointer<CChar>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
    }
}
