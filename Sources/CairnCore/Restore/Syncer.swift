// Durability of materialised trees without stalling the writer: each finished file's
// descriptor is handed to a background thread that fsyncs and closes it, so the disk
// flushes while the next files are decoded and written. Past `perFileLimit` files, per-file
// fsyncs stop and `finish()` flushes the whole filesystem once with syncfs(2) instead
// (cheaper for huge trees of small files). `finish()` then fsyncs every directory created,
// and reports the first error. When it returns, everything written is durable.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import CCairnSys

/// Background fsyncs for one materialisation.
final class Syncer: @unchecked Sendable {
    let perFileLimit: Int
    private let queue = DispatchQueue(label: "cairn.restore-sync")
    private let slots = DispatchSemaphore(value: 64)
    private let lock = NSLockish()
    private var error: CairnError?
    private var submitted = 0
    private var directories: [FileName] = []

    init(perFileLimit: Int = 2_000) { self.perFileLimit = perFileLimit }

    /// Takes over a duplicate of `fd` (the caller still closes its own).
    func file(_ fd: Int32, path: String) {
        submitted += 1
        guard submitted <= perFileLimit else { return }
        let d = dup(fd)
        if d < 0 { record(CairnError.posix("cannot duplicate descriptor of", path: path)); return }
        slots.wait()
        queue.async { [self] in
            if fsync(d) != 0 { record(CairnError.posix("cannot fsync", path: path)) }
            close(d)
            slots.signal()
        }
    }

    func directory(_ path: FileName) { directories.append(path) }

    private func record(_ e: CairnError) { lock.locked { if error == nil { error = e } } }

    /// Waits for every pending fsync; syncs the filesystem of `root` when files went past the
    /// per-file limit; fsyncs the directories. Throws the first error.
    func finish(root: String) throws {
        queue.sync {}
        if let e = lock.locked({ error }) { throw e }
        if submitted > perFileLimit, cairn_syncfs(root) != 0 { throw CairnError.posix("cannot sync the filesystem of", path: root) }
        for d in directories.reversed() { try FS.syncDirectory(d) }
        directories.removeAll()
    }
}
