import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Like `digestTree`, but also with directory and symlink mtimes: what a restore must reproduce.
public func strictDigest(_ root: String) throws -> [String: PathState] {
    var out = try digestTree(root)
    for (rel, s) in out where s.kind != "file" {
        var t = s
        t.mtimeNs = try FS.lstat(root + "/" + rel).mtimeNs
        out[rel] = t
    }
    return out
}

/// Names of restore leftovers (staging, aside, temporary) directly inside `dir`.
public func restoreLeftovers(in dir: String) throws -> [String] {
    try FS.list(dir).filter { $0.contains(".cairn-restore-") || $0.contains(".cairn-aside-") || $0.contains(".cairn-probe-") }
}

/// The differences between two digests, for readable failures (at most `limit` lines).
public func digestDifferences(_ a: [String: PathState], _ b: [String: PathState], limit: Int = 8) -> String {
    var lines: [String] = []
    for k in Set(a.keys).union(b.keys).sorted() where a[k] != b[k] {
        lines.append("\(k): \(a[k].map { "\($0)" } ?? "absent") vs \(b[k].map { "\($0)" } ?? "absent")")
        if lines.count >= limit { break }
    }
    return lines.joined(separator: "\n")
}
