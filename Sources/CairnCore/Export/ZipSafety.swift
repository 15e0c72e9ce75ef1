// Name and symlink safety for imported archives. Names are bytes: every check here works on
// the entry's name bytes (split on 0x2F only), never on Swift strings, so no normalization,
// grapheme or decoding rule can make two names equal or hide a separator.
//
// The first path component of every entry is its "silo" (top-level folder): names must be
// plain relative paths, unique byte for byte (after dropping a directory's trailing "/"),
// never nested under a file or symlink entry, and symlinks must resolve (through other links
// in the archive, in any order) to a place inside their own silo.
//
// Duplicates: byte-equal paths are refused. "./a", "a//b" and "a/" beside a file "a" cannot
// sneak in as different spellings because "." and empty components are refused outright.
// Names that differ only in case or Unicode normalization (NFC "é" beside NFD "é") are
// different names on Linux file systems and are accepted as distinct entries. Bytes that
// merely look like separators (fullwidth solidus U+FF0F, overlong UTF-8 0xC0 0xAF) are
// ordinary name bytes: no kernel path walk treats them as "/" or "..".

/// Checks entry names and symlink targets of an archive before anything is extracted.
public enum ZipSafety {
    /// Which symlink targets are accepted.
    public enum SymlinkPolicy: Sendable, Equatable {
        /// Targets must be relative and resolve inside the link's top-level folder.
        case confineToSilo
        /// Any target (entries still may not lie under a symlink).
        case allowAnyTarget
    }

    /// Longest chain of symlinks followed while resolving one target.
    static let maxHops = 40
    /// Deepest name accepted, in folders below the top-level one (bounds the ancestor checks,
    /// which look at every prefix of every name).
    public static let maxDepth = 1000

    static let slash: UInt8 = 0x2F
    static let dot: UInt8 = 0x2E
    static let backslash: UInt8 = 0x5C

    /// Throws a one-line `invalidInput` error for the first unsafe entry.
    public static func validate(_ entries: [ZipEntry], symlinks: SymlinkPolicy = .confineToSilo, allowBackslash: Bool = false) throws {
        var byPath: [FileName: Int] = [:]
        byPath.reserveCapacity(entries.count)
        for (i, e) in entries.enumerated() {
            try validateName(e.nameBytes, allowBackslash: allowBackslash)
            if let j = byPath.updateValue(i, forKey: e.pathName) {
                throw reject(e, "appears twice in the archive (also entry #\(j + 1), \(ZipLE.quote(entries[j].name))); duplicate names can overwrite each other, remove one")
            }
        }
        for e in entries {
            var prefix = e.pathName.bytes[...]
            while let cut = prefix.lastIndex(of: slash) {
                prefix = prefix[..<cut]
                if let j = byPath[FileName(bytes: prefix)], entries[j].kind != .directory {
                    let what = entries[j].kind == .symlink ? "symlink" : "file"
                    throw reject(e, "lies under \(ZipLE.quote(entries[j].name)), which is a \(what); extracting it would write through that \(what), the archive is rejected")
                }
            }
        }
        for e in entries where e.kind == .symlink {
            guard let target = e.targetBytes, !target.isEmpty else {
                throw reject(e, "is a symlink without a target; the archive is corrupt")
            }
            if target.contains(0) { throw reject(e, "is a symlink whose target contains a NUL byte; the archive is corrupt or hostile") }
            if symlinks == .confineToSilo { try confine(e, entries: entries, byPath: byPath) }
        }
    }

    /// Throws unless `name` is a plain relative path: not empty or absolute, no NUL, no
    /// backslash (unless allowed), no "." / ".." or empty components (a single trailing "/"
    /// marks a directory).
    public static func validateName(_ name: [UInt8], allowBackslash: Bool = false) throws {
        func bad(_ what: String) -> CairnError { CairnError(.invalidInput, "ZIP entry \(ZipLE.quote(FileName.escape(name))) \(what)") }
        if name.isEmpty || name == [slash] { throw bad("has an empty name; the archive is corrupt") }
        if name.contains(0) { throw bad("has a NUL byte in its name; the archive is hostile") }
        if !allowBackslash && name.contains(backslash) {
            throw bad("has a backslash in its name, which Windows tools read as a path separator; rename the entry without backslashes")
        }
        if name.first == slash { throw bad("has an absolute path; entries must be relative like \"folder/file\"") }
        let body = name.last == slash ? name.dropLast() : name[...]
        let depth = body.reduce(0) { $0 + ($1 == slash ? 1 : 0) }
        if depth > maxDepth { throw bad("is nested \(depth) folders deep, more than the limit of \(maxDepth); the archive is hostile") }
        for c in body.split(separator: slash, omittingEmptySubsequences: false) {
            if c.elementsEqual([dot, dot]) { throw bad("has a \"..\" component that would escape the destination; the archive is hostile") }
            if c.elementsEqual([dot]) { throw bad("has a \".\" component; entries must be plain paths like \"folder/file\"") }
            if c.isEmpty { throw bad("has an empty path component (\"//\"); the archive is corrupt") }
        }
    }

    /// Resolves `link`'s target lexically inside the archive, following other symlink entries,
    /// and throws when it leaves the link's top-level folder.
    private static func confine(_ link: ZipEntry, entries: [ZipEntry], byPath: [FileName: Int]) throws {
        let target = link.targetBytes ?? []
        let shown = ZipLE.quote(FileName.escape(target))
        if target.first == slash {
            throw reject(link, "is a symlink to the absolute path \(shown); only relative targets inside its top-level folder are allowed")
        }
        var stack = link.pathName.components
        stack.removeLast()
        guard let silo = stack.first else {
            throw reject(link, "is a symlink at the top level of the archive, outside any top-level folder; remove it or move it into a folder")
        }
        var queue = Array(FileName(bytes: target).components.reversed())
        var hops = 0
        func escapes(_ via: String) -> CairnError {
            reject(link, "is a symlink to \(shown), which\(via) points outside its top-level folder \(ZipLE.quote(silo.escaped)); remove the link or import with symlinks allowed")
        }
        while let c = queue.popLast() {
            if c.bytes == [dot] { continue }
            if c.bytes == [dot, dot] {
                if stack.count <= 1 { throw escapes(hops > 0 ? " through other symlinks" : "") }
                stack.removeLast()
                continue
            }
            stack.append(c)
            if let j = byPath[FileName.join(stack)], entries[j].kind == .symlink {
                hops += 1
                if hops > maxHops { throw reject(link, "is a symlink in a loop or a chain of more than \(maxHops) symlinks; the archive is hostile") }
                let t = entries[j].targetBytes ?? []
                if t.first == slash { throw escapes(" through the absolute symlink \(ZipLE.quote(entries[j].name))") }
                stack.removeLast()
                queue.append(contentsOf: FileName(bytes: t).components.reversed())
            }
        }
    }

    private static func reject(_ e: ZipEntry, _ what: String) -> CairnError {
        CairnError(.invalidInput, "ZIP entry \(ZipLE.quote(e.name)) \(what)")
    }
}
