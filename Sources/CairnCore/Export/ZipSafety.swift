// Name and symlink safety for imported archives. The first path component of every entry is
// its "silo" (top-level folder): names must be plain relative paths, unique, never nested under
// a file or symlink entry, and symlinks must resolve (through other links in the archive) to a
// place inside their own silo.

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

    /// Throws a one-line `invalidInput` error for the first unsafe entry.
    public static func validate(_ entries: [ZipEntry], symlinks: SymlinkPolicy = .confineToSilo, allowBackslash: Bool = false) throws {
        // Keyed by bytes: String keys would merge NFC and NFD spellings (names are bytes).
        var byPath: [[UInt8]: Int] = [:]
        byPath.reserveCapacity(entries.count)
        for (i, e) in entries.enumerated() {
            try validateName(e.name, allowBackslash: allowBackslash)
            if let j = byPath.updateValue(i, forKey: Array(e.path.utf8)) {
                throw reject(e.name, "appears twice in the archive (also entry #\(j + 1), \(ZipLE.quote(entries[j].name))); duplicate names can overwrite each other, remove one")
            }
        }
        for e in entries {
            var prefix = Substring(e.path)
            while let slash = prefix.lastIndex(of: "/") {
                prefix = prefix[..<slash]
                if let j = byPath[Array(prefix.utf8)], entries[j].kind != .directory {
                    let what = entries[j].kind == .symlink ? "symlink" : "file"
                    throw reject(e.name, "lies under \(ZipLE.quote(entries[j].name)), which is a \(what); extracting it would write through that \(what), the archive is rejected")
                }
            }
        }
        for e in entries where e.kind == .symlink {
            guard let target = e.symlinkTarget, !target.isEmpty else {
                throw reject(e.name, "is a symlink without a target; the archive is corrupt")
            }
            if target.utf8.contains(0) { throw reject(e.name, "is a symlink whose target contains a NUL byte; the archive is corrupt or hostile") }
            if symlinks == .confineToSilo { try confine(e, entries: entries, byPath: byPath) }
        }
    }

    /// Throws unless `name` is a plain relative path: not empty or absolute, no NUL, no
    /// backslash, no "." / ".." or empty components (a single trailing "/" marks a directory).
    public static func validateName(_ name: String, allowBackslash: Bool = false) throws {
        if name.isEmpty || name == "/" { throw reject(name, "has an empty name; the archive is corrupt") }
        if name.utf8.contains(0) { throw reject(name, "has a NUL byte in its name; the archive is hostile") }
        if !allowBackslash && name.contains("\\") {
            throw reject(name, "has a backslash in its name, which Windows tools read as a path separator; rename the entry without backslashes")
        }
        if name.hasPrefix("/") { throw reject(name, "has an absolute path; entries must be relative like \"folder/file\"") }
        let body = name.hasSuffix("/") ? name.dropLast() : Substring(name)
        for c in body.split(separator: "/", omittingEmptySubsequences: false) {
            if c == ".." { throw reject(name, "has a \"..\" component that would escape the destination; the archive is hostile") }
            if c == "." { throw reject(name, "has a \".\" component; entries must be plain paths like \"folder/file\"") }
            if c.isEmpty { throw reject(name, "has an empty path component (\"//\"); the archive is corrupt") }
        }
    }

    /// Resolves `link`'s target lexically inside the archive, following other symlink entries,
    /// and throws when it leaves the link's top-level folder.
    private static func confine(_ link: ZipEntry, entries: [ZipEntry], byPath: [[UInt8]: Int]) throws {
        let target = link.symlinkTarget ?? ""
        if target.hasPrefix("/") {
            throw reject(link.name, "is a symlink to the absolute path \(ZipLE.quote(target)); only relative targets inside its top-level folder are allowed")
        }
        var stack = link.path.split(separator: "/").map(String.init)
        stack.removeLast()
        guard let silo = stack.first else {
            throw reject(link.name, "is a symlink at the top level of the archive, outside any top-level folder; remove it or move it into a folder")
        }
        var queue = Array(target.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
        var hops = 0
        func escapes(_ via: String) -> CairnError {
            reject(link.name, "is a symlink to \(ZipLE.quote(target)), which\(via) points outside its top-level folder \(ZipLE.quote(silo)); remove the link or import with symlinks allowed")
        }
        while let c = queue.popLast() {
            if c == "." { continue }
            if c == ".." {
                if stack.count <= 1 { throw escapes(hops > 0 ? " through other symlinks" : "") }
                stack.removeLast()
                continue
            }
            stack.append(c)
            if let j = byPath[Array(stack.joined(separator: "/").utf8)], entries[j].kind == .symlink {
                hops += 1
                if hops > maxHops { throw reject(link.name, "is a symlink in a loop or a chain of more than \(maxHops) symlinks; the archive is hostile") }
                let t = entries[j].symlinkTarget ?? ""
                if t.hasPrefix("/") { throw escapes(" through the absolute symlink \(ZipLE.quote(entries[j].name))") }
                stack.removeLast()
                queue.append(contentsOf: t.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
            }
        }
    }

    private static func reject(_ name: String, _ what: String) -> CairnError {
        CairnError(.invalidInput, "ZIP entry \(ZipLE.quote(name)) \(what)")
    }
}
