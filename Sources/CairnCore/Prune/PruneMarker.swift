// Prune markers: two-phase deletion of unreferenced packs (kopia's approach). A prune does not
// delete a pack the first time it finds it unreferenced: it records the pack and the time in a
// marker object (`markers/NAME.json`, write-once). A later prune deletes it only when it is still
// unreferenced and its mark is older than the grace period; a pack that became referenced again
// (a snapshot reused one of its blocks: its index rows stay until the pack is deleted, so dedup
// still finds them) is dropped from the marks, un-marking it. So a pack a writer on another
// machine has just stored, and not yet referenced from a snapshot record, is never deleted before
// the grace period has passed since a prune first saw it.
//
// Crash properties: the newest marker (names sort by time) is the one that counts; a prune puts
// its marker before it deletes anything and removes older markers after. A crash leaves at worst
// several markers (the newest wins) or packs deleted from the index but not yet from storage
// (orphans, marked with their old time, so the next prune deletes them). A marker that cannot be
// read counts as no marks: packs are marked again, which only delays deletion.

import Foundation
import CairnStorage

/// The grace period of two-phase pack deletion.
public enum PruneGrace {
    /// One hour: a pack stays at least this long after a prune first found it unreferenced.
    public static let defaultSeconds: Double = 3600
}

/// The content of a marker object: the packs prunes found unreferenced, each with the time it was
/// first found so.
struct PruneMarker: Codable, Equatable, Sendable {
    var version = 1
    /// Seconds since 1970 when this marker was written, and by which host.
    var created: Double
    var host: String
    /// Pack name -> seconds since 1970 when a prune first found it unreferenced.
    var packs: [String: Double]

    /// Markers larger than this are damaged (a million packs fit in under 64 MiB).
    static let maxBytes = 64 << 20

    func encoded() -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return Array((try? enc.encode(self)) ?? Data()) + [0x0A]
    }

    /// Parses a marker; nil for anything that is not a valid one (bounded, names checked).
    static func decode(_ bytes: [UInt8]) -> PruneMarker? {
        guard bytes.count <= maxBytes, let m = try? JSONDecoder().decode(PruneMarker.self, from: Data(bytes)),
              m.version == 1, m.created.isFinite,
              m.packs.allSatisfy({ PackFormat.isValidName($0.key) && $0.value.isFinite }) else { return nil }
        return m
    }

    /// `TIME-RANDOM`: 16 hex digits of milliseconds since 1970, so names sort by time.
    static func objectName(now: Double) -> String {
        let ms = UInt64(exactly: (max(0, min(now, 1e15)) * 1000).rounded(.down)) ?? 0
        let hex = String(ms, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + "-" + Hex.encode(withUnsafeBytes(of: UInt32.random(in: 0...UInt32.max)) { Array($0) })
    }

    /// What to do with the packs found unreferenced now (`candidates`), given the marks of the
    /// previous prune: delete those marked at least `grace` seconds ago (all at once when `grace` is
    /// 0: single-writer mode), keep the others marked (with their first time, or `now`). Marks of
    /// packs that are no longer candidates are dropped. A mark time in the future counts as now.
    static func plan(candidates: Set<String>, previous: [String: Double], now: Double, grace: Double) -> (delete: [String: Double], keep: [String: Double]) {
        var delete: [String: Double] = [:], keep: [String: Double] = [:]
        for c in candidates {
            let t = min(previous[c] ?? now, now)
            if grace <= 0 || (previous[c] != nil && now - t >= grace) { delete[c] = t } else { keep[c] = t }
        }
        return (delete, keep)
    }
}

extension Repository {
    /// The backend that holds the markers (the repository's).
    var markerBackend: any Backend { store.backend }

    /// The newest readable marker's marks, and every marker object (to remove once superseded).
    func loadPruneMarks() throws -> (marks: [String: Double], objects: [ObjectHandle]) {
        let b = markerBackend
        let all: [ObjectInfo]
        do { all = try BlockingBridge.run { try await b.listAll(.marker) } } catch let e as StorageError {
            if e.kind == .notFound { return ([:], []) }
            throw CairnError(.io, "cannot list the prune markers of \(b.location): \(e.message)", path: b.location, errno: e.errno)
        }
        for info in all.reversed() where info.size <= UInt64(PruneMarker.maxBytes) {
            let h = info.handle
            if let bytes = try? BlockingBridge.run({ try await b.bytes(h, limit: PruneMarker.maxBytes) }), let m = PruneMarker.decode(bytes) {
                return (m.packs, all.map(\.handle))
            }
        }
        return ([:], all.map(\.handle))
    }

    /// Puts a new marker with `marks` (before anything is deleted) and returns its handle.
    func writePruneMarker(_ marks: [String: Double], now: Double) throws -> ObjectHandle {
        let b = markerBackend
        let bytes = PruneMarker(created: now, host: FS.hostname(), packs: marks).encoded()
        while true {
            guard let h = ObjectHandle(.marker, PruneMarker.objectName(now: now)) else { throw CairnError(.internalError, "marker name is not a valid object name") }
            do {
                try BlockingBridge.run { try await b.put(h, bytes: bytes) }
                return h
            } catch let e as StorageError where e.kind == .alreadyExists {
                continue
            } catch let e as StorageError {
                throw CairnError(e.kind == .noSpace ? .noSpace : .io, "cannot write a prune marker in \(b.location): \(e.message); prune deleted nothing", path: b.location, errno: e.errno)
            }
        }
    }

    /// Removes superseded markers (best effort: a left-over older marker is ignored).
    func removePruneMarkers(_ hs: [ObjectHandle]) {
        let b = markerBackend
        for h in hs { try? BlockingBridge.run { try await b.delete(h) } }
    }
}
