import Foundation
import CairnStorage

/// The repository config (`config.json`): format version, identity and the algorithms in use.
/// The algorithms are named so that the format can evolve behind a version number.
///
/// Format 3 (this build): every object through the backend, index objects beside the packs, the
/// index a per-user cache and silos, journal and temporaries per host. Format 2 wrote CTR2 trees
/// (byte names and targets, owner, hard-link identity, wide timestamps); format 1 CTR1 trees
/// only. Both are read as they are and migrated to 3 before the first write
/// (Docs/Format.md, "Format versions and migration").
public struct RepositoryConfig: Codable, Sendable, Equatable {
    /// The format version this build writes.
    public static let currentVersion = 3
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

/// Where a repository's files are (Docs/Format.md, "What lives where"): objects under `root`
/// (through the backend), host-local state under `state`, the index cache under `cache`.
/// Formats 1 and 2 keep everything in the repository folder; format 3 keeps silos, the restore
/// journal, temporaries and the server's state in a per-host state folder and the index in a
/// per-user cache folder, both named by the repository id (`HostFolders`).
public struct RepositoryLayout: Sendable {
    /// The repository: a folder path, or an `s3:` URL.
    public let root: String
    /// The per-host state folder (the repository folder for formats 1 and 2).
    public let state: String
    /// The folder of the index cache (the repository folder for formats 1 and 2).
    public let cache: String
    /// True when the repository is not a local folder (no flock, no files beside the objects).
    public let remote: Bool

    /// A format 1 or 2 layout: everything in the folder `root`.
    public init(root: String) {
        self.root = root
        state = root
        cache = root
        remote = false
    }

    /// A format 3 layout.
    public init(root: String, state: String, cache: String, remote: Bool) {
        self.root = root
        self.state = state
        self.cache = cache
        self.remote = remote
    }

    public var config: String { root + "/config.json" }
    public var index: String { cache + "/index.sqlite" }
    public var packs: String { root + "/packs" }
    public var snapshots: String { root + "/snapshots" }
    public var silos: String { state + "/silos.json" }
    public var lock: String { root + "/lock" }
    public var locks: String { root + "/locks" }
    public var tmp: String { state + "/tmp" }
    public var journal: String { root + "/journal" }
    /// The server's state (`cairn serve`: jobs, uploads).
    public var serve: String { state + "/serve" }
    public func snapshot(_ id: String) -> String { snapshots + "/" + id + ".json" }
}

/// The per-host folders of a format-3 repository, named by its id.
public enum HostFolders {
    /// `$CAIRN_STATE_DIR/ID`, else `$XDG_STATE_HOME/cairn/ID`, else `~/.local/state/cairn/ID`.
    public static func state(id: String, environment env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        folder(id: id, override: "CAIRN_STATE_DIR", xdg: "XDG_STATE_HOME", fallback: ".local/state", env)
    }

    /// `$CAIRN_CACHE_DIR/ID`, else `$XDG_CACHE_HOME/cairn/ID`, else `~/.cache/cairn/ID`.
    public static func cache(id: String, environment env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        folder(id: id, override: "CAIRN_CACHE_DIR", xdg: "XDG_CACHE_HOME", fallback: ".cache", env)
    }

    static func folder(id: String, override: String, xdg: String, fallback: String, _ env: [String: String]) -> String {
        func absolute(_ v: String?) -> String? { v.flatMap { $0.hasPrefix("/") ? $0 : nil } }
        if let o = absolute(env[override]) { return o + "/" + id }
        if let x = absolute(env[xdg]) { return x + "/cairn/" + id }
        let home = absolute(env["HOME"]) ?? FS.homeDirectory()
        return home + "/" + fallback + "/cairn/" + id
    }
}
