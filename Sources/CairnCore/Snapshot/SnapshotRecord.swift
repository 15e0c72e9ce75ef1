import Foundation

/// Per-silo part of a snapshot record.
public struct SiloSnapshot: Codable, Sendable, Equatable {
    public var name: String
    /// "directory", "file" or "command".
    public var kind: String
    /// The silo's root tree (hex block id).
    public var tree: String
    /// The registered path at snapshot time (or the command).
    public var source: String
    public var files: Int
    public var dirs: Int
    public var symlinks: Int
    public var bytes: UInt64
    /// Files read in full for this snapshot (the rest matched the parent's metadata).
    public var filesRead: Int
    /// Live SQLite databases captured through the backup API.
    public var sqliteDatabases: Int
    /// Files skipped or stored with a warning.
    public var warnings: [String]
}

/// A snapshot record. It lives in `snapshots/ID.json` (the source of truth) and in the index.
/// Its id is the SHA-256 of the file's bytes.
public struct SnapshotRecord: Codable, Sendable, Equatable {
    public var version: Int
    /// Nanoseconds since the Unix epoch.
    public var timeNs: Int64
    public var hostname: String
    public var tags: [String]
    public var message: String
    public var parent: String?
    public var silos: [SiloSnapshot]
    /// Stored bytes this snapshot added to the repository.
    public var bytesAdded: UInt64
    public var blocksAdded: Int
    /// True when some files were skipped or some silos failed.
    public var partial: Bool
    public var program: String
    /// Set on snapshots made by `cairn import`: where the data came from. An imported record
    /// is data, not authority: it is never a parent of a local snapshot (ParentSelection) and
    /// its time cannot order it after its import (SnapshotOrder). Absent on local snapshots.
    public var imported: ImportOrigin? = nil
    /// Application metadata (`snapshot --meta KEY=VALUE`); absent when none was given, so
    /// records without it keep their bytes (and ids).
    public var meta: [String: String]? = nil

    public var date: Date { Date(timeIntervalSince1970: Double(timeNs) / 1e9) }

    /// Canonical bytes: sorted keys, no extra spaces, trailing newline.
    public func encoded() throws -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try enc.encode(self)) + [10]
    }

    /// The largest record object read (a damaged or hostile one cannot exhaust memory).
    public static let maxSize = 16 << 20

    public static func decode(_ bytes: [UInt8], what: String) throws -> SnapshotRecord {
        do { return try JSONDecoder().decode(SnapshotRecord.self, from: Data(bytes)) } catch {
            throw CairnError(.integrity, "snapshot record \(what) cannot be parsed (\(error)); run `cairn check`", path: what)
        }
    }

    public func silo(_ name: String) -> SiloSnapshot? { silos.first { $0.name == name } }
}

/// Where an imported snapshot came from (recorded by the importing host).
public struct ImportOrigin: Codable, Sendable, Equatable {
    /// The archive's file name as given to `cairn import` ("<stdin>" for standard input).
    public var archive: String
    /// When this host imported it, nanoseconds since the epoch (this host's clock).
    public var importedAtNs: Int64
    /// For Cairn exports: the snapshot id in the exporting repository.
    public var originalSnapshot: String?

    public init(archive: String, importedAtNs: Int64, originalSnapshot: String? = nil) {
        self.archive = archive
        self.importedAtNs = importedAtNs
        self.originalSnapshot = originalSnapshot
    }
}

/// A snapshot: its id and record.
public struct Snapshot: Sendable, Equatable {
    public var id: String
    public var record: SnapshotRecord
    public var shortId: String { String(id.prefix(12)) }

    public init(id: String, record: SnapshotRecord) {
        self.id = id
        self.record = record
    }
}

/// A registered silo (in `silos.json`).
public struct Silo: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case path, command }
    public var name: String
    public var kind: Kind
    /// Absolute path of a directory or single file (kind `path`).
    public var path: String?
    /// Shell command whose stdout is captured (kind `command`).
    public var command: String?
    /// File name the command's output is stored under.
    public var filename: String?
    public var excludes: [String]
    /// Command silos: seconds the command may run before its process group is killed (nil: the default, 1 hour).
    public var timeout: Double?

    public init(name: String, path: String, excludes: [String] = []) {
        self.name = name
        kind = .path
        self.path = path
        self.excludes = excludes
    }

    public init(name: String, command: String, filename: String) {
        self.name = name
        kind = .command
        self.command = command
        self.filename = filename
        excludes = []
    }

    /// Silo names: letters, digits, '.', '_' and '-', not starting with '.' or '-'.
    public static func validate(name: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 45
        } && !name.hasPrefix(".") && !name.hasPrefix("-")
        if !ok { throw CairnError(.invalidInput, "silo name '\(name)' is not valid; use letters, digits, '.', '_' or '-' (at most 64, not starting with '.' or '-')") }
    }
}
