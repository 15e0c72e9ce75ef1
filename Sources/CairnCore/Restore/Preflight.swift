// Pre-flight checks of a restore, run before anything is created beside a live silo:
// every needed block is indexed and its pack exists, the target filesystems have room
// for the staging copies, and no process holds a silo file open (Linux /proc).

#if canImport(Glibc)
import Glibc
#endif

/// A process that has a file of a silo open (or mapped).
public struct OpenFileHolder: Sendable, Equatable, Codable {
    public var pid: Int32
    public var program: String
    public var path: String
}

enum Preflight {
    /// Walks a tree and checks that every block it needs is in the index and its pack exists.
    /// Returns the file bytes the tree holds. Throws an integrity error naming the first missing file.
    static func checkBlocks(_ repo: Repository, tree: BlockId, display: String, reader: BlockReader,
                            include: IncludeMatcher?) throws -> UInt64 {
        var bytes: UInt64 = 0
        var packsSeen = Set<String>()
        func visit(_ id: BlockId, _ disp: String, _ rel: FileName) throws {
            let t = try repo.tree(id, reader: reader, path: disp)
            for e in t.entries {
                let r = rel.appending(e.name)
                let d = disp + "/" + e.name.escaped
                if let m = include, e.kind != .directory, !m.includes(r) { continue }
                switch e.kind {
                case .directory:
                    if let s = e.subtree { try visit(s, d, r) }
                case .file:
                    bytes = bytes.saturatingAdd(e.size)
                    for ref in try repo.dataRefs(e, reader: reader, path: d) {
                        guard let loc = try repo.index.lookup(ref.id) else {
                            throw CairnError(.integrity, "block \(ref.id.hex) of \(d) is missing from the repository; nothing was changed. Run `cairn check --read-data` to list every damaged snapshot")
                        }
                        if packsSeen.insert(loc.pack).inserted, (try? repo.storage.size(of: loc.pack)) == nil {
                            throw CairnError(.integrity, "pack \(repo.storage.displayPath(loc.pack)) holding \(d) is missing; nothing was changed. Run `cairn check` for the full list", path: repo.storage.displayPath(loc.pack))
                        }
                    }
                case .symlink:
                    break
                }
            }
        }
        try visit(tree, display, FileName(bytes: []))
        return bytes
    }

    /// Checks that each filesystem has room for the bytes to be staged on it.
    /// `needs` maps a directory on the target filesystem to the bytes staged there.
    static func checkSpace(_ needs: [(dir: String, bytes: UInt64, silo: String)]) throws {
        var byDevice: [UInt64: (dir: String, bytes: UInt64, silos: [String])] = [:]
        for n in needs {
            let dev = (try FS.lstat(n.dir)).device
            var cur = byDevice[dev] ?? (n.dir, 0, [])
            cur.bytes = cur.bytes.saturatingAdd(n.bytes)
            cur.silos.append(n.silo)
            byDevice[dev] = cur
        }
        for (_, v) in byDevice {
            let free = try FS.freeBytes(v.dir)
            // Metadata (inodes, directory blocks) needs a little more than the content.
            let need = v.bytes.saturatingAdd(v.bytes / 64).saturatingAdd(1 << 20)
            if free < need {
                throw CairnError(.noSpace, "restoring \(v.silos.joined(separator: ", ")) needs \(ByteFormat.human(need)) of staging space on the filesystem of \(v.dir), which has \(ByteFormat.human(free)) free: free \(ByteFormat.human(need - free)) more, or restore elsewhere with --to DIR. Nothing was changed", path: v.dir)
            }
        }
    }

    /// Processes (other than this one) with a file under any of `roots` open or mapped.
    static func openFileHolders(under roots: [String]) -> [OpenFileHolder] {
        let me = getpid()
        var out: [OpenFileHolder] = []
        func matches(_ p: String) -> String? {
            for r in roots where p == r || p.hasPrefix(r + "/") || p.hasPrefix(r + "-") { return p }
            return nil
        }
        guard let pids = try? FS.list("/proc") else { return [] }
        for name in pids {
            guard let pid = Int32(name), pid != me else { continue }
            var hit: String?
            if let fds = try? FS.list("/proc/\(name)/fd") {
                for fd in fds {
                    if let t = try? FS.readlink("/proc/\(name)/fd/\(fd)"), let m = matches(t) { hit = m; break }
                }
            }
            if hit == nil, let maps = try? FS.readAll("/proc/\(name)/maps") {
                for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
                    if let slash = line.firstIndex(of: "/"), let m = matches(String(line[slash...])) { hit = m; break }
                }
            }
            if let h = hit {
                let comm = (try? FS.readAll("/proc/\(name)/comm")).map { String(decoding: $0, as: UTF8.self).cairnTrimmed() } ?? "?"
                out.append(OpenFileHolder(pid: pid, program: comm, path: h))
            }
        }
        return out
    }
}

extension String {
    func cairnTrimmed(_ set: [Character] = [" ", "\n", "\t"]) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
