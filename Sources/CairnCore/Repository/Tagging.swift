// `cairn tag`: changing a snapshot's tags. Records are write-once and named by their hash,
// so a retag writes the new record (durably, FS.atomicWrite then the index row) and only
// then deletes the old one: a crash in between leaves both records (the same trees twice,
// harmless; `forget` removes either), never neither.

extension Repository {
    /// Tags: 1 to 128 bytes of UTF-8 without control characters or ','.
    public static func validate(tag: String) throws {
        let ok = !tag.isEmpty && tag.utf8.count <= 128 && !tag.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "," }
        if !ok { throw CairnError(.invalidInput, "tag '\(tag.prefix(64))' is not valid; use 1 to 128 bytes without control characters or ','") }
    }

    /// Replaces snapshot `ref`'s tags: with `set` when given (possibly empty), else the current
    /// ones minus `remove` plus `add`. Returns the new snapshot (a new id) and the old one's id;
    /// when the tags do not change, the snapshot itself and nil.
    public func retag(_ ref: String, add: [String] = [], remove: [String] = [], set: [String]? = nil) throws -> (snapshot: Snapshot, replaced: String?) {
        for t in add + (set ?? []) { try Self.validate(tag: t) }
        let old = try resolve(ref)
        var tags = set ?? old.record.tags.filter { !remove.contains($0) }
        for t in set == nil ? add : [] where !tags.contains(t) { tags.append(t) }
        var seen = Set<String>()
        tags = tags.filter { seen.insert($0).inserted }
        if tags == old.record.tags { return (old, nil) }
        var record = old.record
        record.tags = tags
        let new = try saveSnapshot(record)
        if new.id != old.id { try deleteSnapshot(old.id) }
        return (new, old.id)
    }
}
