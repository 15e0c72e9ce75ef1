// Fuzzing: pure entry points that feed arbitrary bytes to every parser of untrusted input
// (ZIP archives, import manifests, pack trailers, trees and content lists, index rows, the
// restore journal, config/policy/snapshot-record JSON). Each returns normally for any input:
// a `CairnError` (or a decoding error) is the expected answer to garbage; a trap is a bug.
// The libFuzzer executables (Scripts/fuzz.sh, Fuzz/main.swift) and the replay test
// (FuzzReplayTests) call these. No state survives a call except reusable scratch files.

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Harness bodies for libFuzzer and the crasher replay test.
public enum FuzzTargets {
    /// Every harness by name (the names of the corpus folders under Tests/Fixtures/fuzz/).
    public static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "zip": zipReader,
        "manifest": manifest,
        "pack-trailer": packTrailer,
        "tree": tree,
        "index-rows": indexRows,
        "journal": restoreJournal,
        "json": repositoryJSON,
    ]

    /// The ZIP reader: end records (classic and ZIP64), central directory, extra fields, local
    /// headers, names and symlink targets, then every entry's content stream (size, CRC, inflate).
    public static func zipReader(_ data: [UInt8]) {
        guard let file = ScratchFile.write(data, name: "zip") else { return }
        defer { file.close() }
        for strict in [true, false] {
            var limits = ZipLimits(maxTotalSize: 1 << 26, symlinks: strict ? .confineToSilo : .allowAnyTarget)
            limits.allowBackslash = !strict
            limits.checkRatioOnOpen = strict
            guard let reader = try? ZipReader(file: PosixFile(fd: dup(file.fd), path: "fuzz.zip"), limits: limits) else { continue }
            _ = try? ZipSafety.validate(reader.entries, symlinks: .confineToSilo, allowBackslash: false)
            _ = try? reader.checkRatios()
            var buf = [UInt8](repeating: 0, count: 4096)
            for e in reader.entries where e.kind == .file {
                guard let s = try? reader.open(e, maxRatio: 1000) else { continue }
                var total = 0
                while total < 1 << 20, let n = try? buf.withUnsafeMutableBytes({ try s.read(into: $0) }), n > 0 { total += n }
            }
        }
    }

    /// The Cairn export manifest (`cairn-snapshot.json`) and its checks against the entries.
    public static func manifest(_ data: [UInt8]) {
        guard let m = try? ManifestEncoding.decode(data, archive: "fuzz.zip") else { return }
        _ = try? SnapshotImporter.checkManifest(m, archive: "fuzz.zip")
    }

    /// A pack trailer, read through in-memory pack storage.
    public static func packTrailer(_ data: [UInt8]) {
        let storage = MemoryPackStorage()
        let pack = "fuzz"
        var bytes = PackFormat.headerMagic + data
        switch data.first.map({ $0 & 3 }) ?? 0 {
        case 1:
            // A valid footer magic only.
            bytes += PackFormat.trailerMagic
        case 2:
            // The input is the entry table: a correct count, CRC and magic follow, so every
            // entry field (offsets, lengths, kinds) reaches the range checks.
            let table = Array(data.dropFirst().prefix((data.count - 1) / PackFormat.entrySize * PackFormat.entrySize))
            var w = BinaryWriter(capacity: 16)
            w.u32(UInt32(table.count / PackFormat.entrySize))
            w.u32(CRC32.checksum(table))
            w.raw(PackFormat.trailerMagic)
            bytes = PackFormat.headerMagic + [UInt8](repeating: 0, count: Int(data.first ?? 0)) + table + w.bytes
        default:
            break
        }
        try? bytes.withUnsafeBytes { try storage.writePack(name: pack, bytes: $0) }
        _ = try? PackFormat.readTrailer(storage, pack: pack)
    }

    /// Tree and content-list decoding (both block kinds), re-encoding what decodes.
    public static func tree(_ data: [UInt8]) {
        if let t = try? Tree.decode(data) {
            _ = t.encode()
            for e in t.entries { _ = t.entry(named: e.name) }
        }
        if let refs = try? ContentList.decode(data) {
            _ = ContentList.groups(refs)
        }
    }

    /// Index rows: fuzzed pack and block rows are inserted into a real SQLite index, then read
    /// back through every row-consuming function.
    public static func indexRows(_ data: [UInt8]) {
        FuzzIndex.run(data)
    }

    /// The restore journal (`restore-journal.json`).
    public static func restoreJournal(_ data: [UInt8]) {
        _ = try? JSONDecoder().decode(RestoreJournal.self, from: Data(data))
    }

    /// Config, retention policy, snapshot record and silo definitions (JSON files of a repository).
    public static func repositoryJSON(_ data: [UInt8]) {
        let d = Data(data)
        _ = try? JSONDecoder().decode(RepositoryConfig.self, from: d)
        if let p = try? JSONDecoder().decode(RetentionPolicy.self, from: d), (try? p.validate()) != nil {
            let items = (0..<4).map { RetentionItem(id: "\($0)", timeNs: Int64($0) * 86_400_000_000_000, tags: [], silos: ["a"]) }
            _ = p.select(items, timeZone: TimeZone(identifier: "UTC")!, now: Date(timeIntervalSince1970: 400_000))
        }
        if let r = try? SnapshotRecord.decode(data, what: "fuzz") {
            _ = try? r.encoded()
            _ = SnapshotOrder.orderTime(Snapshot(id: "fuzz", record: r), now: 1)
        }
        _ = try? JSONDecoder().decode([Silo].self, from: d)
    }
}

/// A reusable temporary file for harnesses that need a descriptor (one per name and process).
enum ScratchFile {
    nonisolated(unsafe) private static var fds: [String: Int32] = [:]

    /// The bytes in a file descriptor the caller closes (a dup of the scratch file's).
    static func write(_ data: [UInt8], name: String) -> PosixFile? {
        let fd: Int32
        if let f = fds[name] { fd = f } else {
            var path = Array("/tmp/cairn-fuzz-\(getpid())-\(name)-XXXXXX".utf8CString)
            fd = path.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { return nil }
            path.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            fds[name] = fd
        }
        guard ftruncate(fd, 0) == 0 else { return nil }
        let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard n == data.count else { return nil }
        return PosixFile(fd: dup(fd), path: "fuzz")
    }
}
