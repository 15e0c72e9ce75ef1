import Foundation

/// The repository config (`config.json`): format version, identity and the algorithms in use.
/// The algorithms are named so that the format can evolve behind a version number.
///
/// Format 2 (this build) writes CTR2 trees: byte names and targets, owner, hard-link identity,
/// wide timestamps. Format 1 (CTR1 trees only) is read as it is and migrated in place before
/// the first write (Docs/Format.md, "Format versions and migration").
public struct RepositoryConfig: Codable, Sendable, Equatable {
    /// The format version this build writes.
    public static let currentVersion = 2
    /// The format versions this build reads; newer ones are refused (exit 11).
    public static let readableVersions: ClosedRange<Int> = 1...currentVersion

    public var format: String
    public var version: Int
    public var id: String
    public var created: String
    public var chunker: ChunkerParams
    public var hash: String
    public var compression: String
    /// Packs are sealed once they reach this many bytes.
    public var packTargetSize: Int
    /// Seconds a pack prune found unreferenced stays marked before a later prune may delete it
    /// (nil: `PruneGrace.defaultSeconds`). Protects packs of writers on other machines that are not
    /// yet referenced (Architecture.md, "Prune for several writers").
    public var pruneGraceSeconds: Double? = nil

    public static func new(chunker: ChunkerParams = .default) -> RepositoryConfig {
        var rnd = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { rnd[i] = UInt8.random(in: 0...255) }
        return RepositoryConfig(format: "cairn-repository", version: currentVersion, id: Hex.encode(rnd),
                                created: ISO8601DateFormatter().string(from: Date()), chunker: chunker,
                                hash: "sha256", compression: "lz4", packTargetSize: 16 << 20)
    }

    func encoded() throws -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try enc.encode(self)) + [10]
    }
}

extension Repository {
    /// Before the first write of a new-format block: a format-1 repository's config is
    /// rewritten with version 2, atomically and durably (temp file, fsync, rename, directory
    /// fsync). The config on disk is read again, so a concurrent migration is harmless. A
    /// crash before the rename leaves format 1 and nothing written; after it, format 2 with
    /// only CTR1 trees, which format 2 reads. Never called by read-only commands.
    public func migrateFormatIfNeeded() throws {
        let bytes = try FS.readAll(layout.config)
        var c: RepositoryConfig
        do { c = try JSONDecoder().decode(RepositoryConfig.self, from: Data(bytes)) } catch {
            throw CairnError(.integrity, "\(layout.config) cannot be parsed; restore it from a copy of the repository", path: layout.config)
        }
        guard c.version < RepositoryConfig.currentVersion else { return }
        c.version = RepositoryConfig.currentVersion
        try FS.atomicWrite(layout.config, try c.encoded())
    }
}

/// File names inside a repository folder (Docs/Format.md).
public struct RepositoryLayout: Sendable {
    public let root: String
    public init(root: String) { self.root = root }
    public var config: String { root + "/config.json" }
    public var index: String { root + "/index.sqlite" }
    public var packs: String { root + "/packs" }
    public var snapshots: String { root + "/snapshots" }
    public var silos: String { root + "/silos.json" }
    public var lock: String { root + "/lock" }
    public var locks: String { root + "/locks" }
    public var tmp: String { root + "/tmp" }
    public var journal: String { root + "/journal" }
    public func snapshot(_ id: String) -> String { snapshots + "/" + id + ".json" }
}
