// Snapshot order: which snapshot is "newest" for `latest` and for retention. A record's time is
// data (an imported archive can carry any time, also one far in the future), so ordering never
// trusts it alone: an imported snapshot counts as no newer than the moment it was imported,
// and no snapshot counts as newer than now. Ties keep the index order (record time, then id).
// Also resolves the `latest` spellings: `latest` (the newest that is not a pre-restore safety
// snapshot) and `latest:TAG` (the newest carrying TAG, e.g. `latest:pre-restore`).

import Foundation

/// Ordering of snapshots that record times cannot steer.
public enum SnapshotOrder {
    /// The time a snapshot is ordered by: its record time, clamped to its import time (imports)
    /// and to `now` (everything).
    public static func orderTime(_ s: Snapshot, now: Int64) -> Int64 {
        var t = s.record.timeNs
        if let i = s.record.imported { t = min(t, i.importedAtNs) }
        return min(t, now)
    }

    /// The current time in nanoseconds since the epoch.
    public static func nowNs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    /// `snaps` (oldest first, as the index lists them) in order of `orderTime`, oldest first;
    /// equal order times keep their given order.
    public static func sorted(_ snaps: [Snapshot], now: Int64 = nowNs()) -> [Snapshot] {
        snaps.enumerated()
            .map { (t: orderTime($0.element, now: now), i: $0.offset, s: $0.element) }
            .sorted { ($0.t, $0.i) < ($1.t, $1.i) }
            .map(\.s)
    }

    /// True for the spellings `resolveLatest` accepts.
    public static func isLatestReference(_ ref: String) -> Bool { ref == "latest" || ref.hasPrefix("latest:") }

    /// Resolves `latest` or `latest:TAG` among `all` (optionally only snapshots holding `silo`).
    public static func resolveLatest(_ ref: String, in all: [Snapshot], silo: String?, now: Int64 = nowNs()) throws -> Snapshot {
        let tag: String? = ref == "latest" ? nil : String(ref.dropFirst("latest:".count))
        if let tag, tag.isEmpty {
            throw CairnError(.invalidInput, "'\(ref)' names no tag; use `latest` or `latest:TAG` (for example `latest:\(RetentionPolicy.safetyTag)`)")
        }
        let candidates = sorted(all, now: now).filter { s in
            (silo.map { s.record.silo($0) != nil } ?? true)
                && (tag.map { s.record.tags.contains($0) } ?? !s.record.tags.contains(RetentionPolicy.safetyTag))
        }
        if let last = candidates.last { return last }
        let of = silo.map { " of silo '\($0)'" } ?? ""
        if let tag { throw CairnError(.notFound, "there is no snapshot\(of) tagged '\(tag)'; list them with `cairn list`") }
        if all.contains(where: { s in silo.map { s.record.silo($0) != nil } ?? true }) {
            throw CairnError(.notFound, "there is no snapshot\(of) besides pre-restore safety snapshots; name one by id or use `latest:\(RetentionPolicy.safetyTag)`")
        }
        throw CairnError(.notFound, "there is no snapshot yet\(of); take one with `cairn snapshot`")
    }
}
