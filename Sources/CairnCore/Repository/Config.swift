import Foundation

/// The repository config (`config.json`): format version, identity and the algorithms in use.
/// The algorithms are named so that the format can evolve behind a version number.
public struct RepositoryConfig: Codable, Sendable, Equatable {
    /// The only format version this build reads and writes.
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    public var id: String
    public var created: String
    public var chunker: ChunkerParams
    public var hash: String
    public var compression: String
    /// Packs are sealed once they reach this many bytes.
    public var packTargetSize: Int

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
