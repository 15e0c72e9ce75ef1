// The index cache of a format-3 repository (`$XDG_CACHE_HOME/cairn/ID/index.sqlite`) is brought
// up to date from the index objects: those it has not seen are read and their blocks inserted
// (one transaction per pack); packs whose index object is gone (pruned by another machine) leave
// the cache. Pack data is never read. The cache may be deleted at any time: the next open
// rebuilds it from the index objects alone.
//
// Crash properties: each pack's rows go in one transaction, so a crash leaves the cache with
// whole packs; the next open reads the index objects it still lacks.

import CairnStorage
import Foundation

extension Repository {
    /// Reads the index objects the cache lacks and drops packs whose index object is gone.
    /// Returns the number of index objects read.
    @discardableResult
    func syncIndexObjects() throws -> Int {
        let listed = try store.list(.index).filter { PackFormat.isValidName($0.handle.name) }
        let names = Set(listed.map(\.handle.name))
        let known = try index.packList()
        var removed = false
        for p in known where !names.contains(p.name) {
            try index.removePack(p.name)
            removed = true
        }
        let knownNames = Set(known.map(\.name))
        var read = 0
        damagedIndexObjects = []
        for o in listed where !knownNames.contains(o.handle.name) {
            guard let obj = try readIndexObject(o.handle) else { continue }
            try index.addPack(name: obj.pack, size: obj.packSize, entries: obj.entries)
            read += 1
        }
        // A block stored in two packs has a row for one of them only; when that pack left, the
        // other's index object fills the gap.
        if removed {
            for name in try index.packsShortOfRows() {
                if let obj = try readIndexObject(try .make(.index, name)) { try index.refillPack(name, entries: obj.entries) }
            }
        }
        return read
    }

    /// One index object, decoded; nil (and recorded in `damagedIndexObjects`) when it is damaged
    /// or vanished meanwhile.
    func readIndexObject(_ h: ObjectHandle) throws -> IndexObject? {
        guard let bytes = try store.bytesIfExists(h, limit: IndexObject.maxSize + 1) else { return nil }
        do { return try IndexObject.decode(bytes, name: h.name, what: store.display(h)) } catch let e as CairnError {
            damagedIndexObjects.append(e.message)
            return nil
        }
    }
}

/// `s3:` repository URLs (restic's form, Docs/Backends.md).
public enum S3Repository {
    /// True for a repository given as `s3:...`.
    public static func isURL(_ path: String) -> Bool { path.hasPrefix("s3:") }

    /// The S3 backend for `url`, with credentials and region from the environment (or the shared
    /// credentials file). Errors are `CairnError`s (a bad URL is invalid input, exit 18).
    public static func backend(_ url: String, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> any Backend {
        do {
            let loc = try S3Location.parse(url)
            return S3Backend(loc, credentials: try S3Credentials.resolve(env: env))
        } catch let e as StorageError {
            if e.kind == .fatal, e.detail == nil { throw CairnError(.invalidInput, e.message) }
            throw CairnError(storage: e, what: url)
        }
    }
}
