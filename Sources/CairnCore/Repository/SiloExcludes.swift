// Editing a registered silo's exclude patterns in place (`cairn silo exclude`): the silo
// list is rewritten atomically (FS.atomicWrite), so a crash leaves the old or the new list.

extension Repository {
    /// Changes the exclude patterns of path silo `name`: all removed first when `clear`, then
    /// each of `remove` (each must be present), then `add` appended (already present ones are
    /// moved to the end: later patterns win). Returns the updated silo.
    @discardableResult
    public func editSiloExcludes(_ name: String, clear: Bool = false, remove: [String] = [], add: [String] = []) throws -> Silo {
        var all = try silos()
        guard let i = all.firstIndex(where: { $0.name == name }) else { throw unknownSilo(name, known: all) }
        guard all[i].kind == .path else { throw CairnError(.invalidInput, "silo '\(name)' is a command silo; exclude patterns apply to path silos only") }
        var ex = clear ? [] : all[i].excludes
        for p in remove {
            guard let j = ex.firstIndex(of: p) else {
                throw CairnError(.notFound, "silo '\(name)' has no exclude pattern '\(p)'; its patterns: \(all[i].excludes.isEmpty ? "none" : all[i].excludes.joined(separator: ", "))")
            }
            ex.remove(at: j)
        }
        for p in add {
            guard !p.isEmpty, !p.utf8.contains(0), !p.utf8.contains(0x0A) else {
                throw CairnError(.invalidInput, "exclude pattern '\(p.prefix(80))' is empty or holds a newline or NUL; give one pattern per --add")
            }
            ex.removeAll { $0 == p }
            ex.append(p)
        }
        all[i].excludes = ex
        try saveSilos(all)
        return all[i]
    }
}
