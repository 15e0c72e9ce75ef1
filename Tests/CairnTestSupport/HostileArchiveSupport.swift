// The hostile-archive bench: a repository, a restore target and a sentinel tree side by side in
// one temporary directory. Each case imports one archive (in process, many per test), then
// checks the exact outcome, that the sentinel tree is byte-for-byte unchanged, and that a
// refused archive left the repository's packs, snapshots and tmp exactly as they were.

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a hostile archive must lead to.
public enum HostileExpectation: Sendable {
    /// Refused with this error code and a message containing this fragment.
    case refused(CairnError.Code, String)
    /// Imported; the check runs on the result, then the snapshot is restored with `--to` and
    /// nothing outside the restore target may change.
    case imported(@Sendable (ImportResult, Repository) throws -> String?)
}

/// One archive of the suite.
public struct HostileCase: Sendable {
    public var label: String
    public var bytes: [UInt8]
    public var options: ImportOptions
    public var expect: HostileExpectation

    public init(_ label: String, _ bytes: [UInt8], _ expect: HostileExpectation, options: ImportOptions = ImportOptions()) {
        self.label = label
        self.bytes = bytes
        self.options = options
        self.expect = expect
    }
}

/// Runs hostile cases against one repository with a sentinel tree beside it.
public final class HostileBench {
    public let dir: TempDir
    public let repo: Repository
    /// The `restore --to` target of imported cases (emptied after each).
    public var target: String { dir.sub("restore") }
    public var sentinel: String { dir.sub("sentinel") }

    public init(_ name: String) throws {
        dir = TempDir(name)
        repo = try Repository.create(at: dir.sub("repo"))
        try writeFile(dir.sub("sentinel/passwd"), Array("root:x:0:0\n".utf8))
        try writeFile(dir.sub("sentinel/deep/keep.txt"), Array("keep me\n".utf8))
        symlink("passwd", dir.sub("sentinel/link"))
        try FS.mkdirs(target)
        try FS.mkdirs(dir.sub("archives"))
    }

    deinit { dir.remove() }

    /// Everything outside the repository, the restore target and the folder holding the case
    /// archives: the sentinel tree and anything else beside them.
    public func outsideState() throws -> [String: PathState] {
        var all = try digestTree(dir.path)
        for k in all.keys where k.hasPrefix("repo/") || k.hasPrefix("restore/") || k.hasPrefix("archives/") { all[k] = nil }
        return all
    }

    /// The repository's data files (index excluded: SQLite may checkpoint on open).
    public func repositoryState() throws -> [String: PathState] {
        try digestTree(dir.sub("repo")).filter { $0.key.hasPrefix("packs") || $0.key.hasPrefix("snapshots") || $0.key.hasPrefix("tmp") }
    }

    /// Runs one case; returns a failure description, or nil when the case behaved.
    public func run(_ c: HostileCase, index: Int) -> String? {
        do {
            let outside = try outsideState()
            let before = try repositoryState()
            let path = dir.sub("archives/case-\(index).zip")
            try writeFile(path, c.bytes)
            defer { unlink(path) }
            var failure: String?
            do {
                let result = try SnapshotImporter(repository: repo, options: c.options).run(archive: path, display: "case-\(index).zip")
                switch c.expect {
                case .refused(let code, let fragment):
                    failure = "imported (\(result.files) files) but should be refused with \(code.rawValue): \(fragment)"
                case .imported(let check):
                    failure = try check(result, repo)
                    if failure == nil { failure = try restoreAndCheck(result.snapshot) }
                }
            } catch let e as CairnError {
                switch c.expect {
                case .refused(let code, let fragment):
                    if e.code != code || !e.message.contains(fragment) || e.message.contains("\n") {
                        failure = "refused with \(e.code.rawValue) (exit \(e.code.exitCode)): \(e.message); expected \(code.rawValue): \(fragment)"
                    } else if try repositoryState() != before {
                        failure = "refused, but the repository's packs, snapshots or tmp changed"
                    }
                case .imported:
                    failure = "refused (\(e.code.rawValue)): \(e.message)"
                }
            }
            if try outsideState() != outside { failure = (failure ?? "") + " [files outside the repository and target changed]" }
            return failure.map { "case \(index) \(c.label): \($0)" }
        } catch {
            return "case \(index) \(c.label): bench error \(error)"
        }
    }

    /// Restores `snapshot` into the target, checks it stayed inside, then empties the target.
    func restoreAndCheck(_ snapshot: String) throws -> String? {
        var o = RestoreOptions()
        o.to = target
        o.safetySnapshot = false
        defer {
            try? FS.removeTree(target)
            try? FS.mkdirs(target)
        }
        do { _ = try Restorer(repository: repo, options: o).run(snapshot) } catch let e as CairnError {
            // A restore may refuse (e.g. a name the file system rejects) but must not escape.
            if e.code == .internalError { return "restore --to hit an internal error: \(e.message)" }
        }
        return nil
    }
}
