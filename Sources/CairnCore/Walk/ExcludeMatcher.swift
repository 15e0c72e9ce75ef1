// Exclude patterns: one gitignore-like language for a silo's `--exclude` patterns and for
// exclude files (`--exclude-file`), matched on the bytes of silo-relative paths.
//
// The language (Docs/CLI.md "Exclude patterns"): `*` matches any bytes but '/', `?` one
// byte but '/', `[a-z]`/`[!x]` a byte class, `\` escapes the next byte; a `**` component
// matches any number of components. A pattern without a '/' (other than a trailing one)
// matches a name at any depth; one with a '/' at the start or in the middle is anchored at
// the silo's root. A trailing '/' matches directories only. `!` re-includes what an earlier
// pattern excluded (the last matching pattern wins); a directory once excluded is not
// walked, so nothing inside it can be re-included. In files: blank lines and lines starting
// with '#' are ignored (`\#`, `\!` for a literal first byte), trailing unescaped spaces are
// dropped. Pure functions: no I/O.

/// A parsed list of exclude patterns.
public struct ExcludeMatcher: Sendable, Equatable {
    struct Rule: Sendable, Equatable {
        var negated: Bool
        var directoryOnly: Bool
        /// Anchored rules match the whole silo-relative path; others the last component.
        var anchored: Bool
        /// Pattern components; `nil` stands for `**`.
        var components: [[UInt8]?]
    }
    var rules: [Rule]

    /// Patterns as a silo stores them (one pattern each; blank ones are ignored).
    public init(_ patterns: [String]) {
        rules = patterns.compactMap { Self.rule(Array($0.utf8)[...], fromFile: false) }
    }

    /// Patterns given as raw bytes, one per element.
    public init(patterns: [[UInt8]]) {
        rules = patterns.compactMap { Self.rule($0[...], fromFile: false) }
    }

    /// The patterns of an exclude file's bytes (one per line; comments and blank lines ignored).
    public init(fileBytes: [UInt8]) {
        rules = Self.lines(fileBytes).compactMap { Self.rule($0, fromFile: true) }
    }

    /// The non-empty pattern lines of an exclude file, as bytes (comments and blanks dropped).
    public static func patternLines(_ bytes: [UInt8]) -> [[UInt8]] {
        lines(bytes).compactMap { line in rule(line, fromFile: true) == nil ? nil : Array(cleaned(line)) }
    }

    /// This matcher's patterns followed by `other`'s (later patterns win).
    public func adding(_ other: ExcludeMatcher) -> ExcludeMatcher {
        var m = self
        m.rules += other.rules
        return m
    }

    /// False when there are no patterns (nothing is excluded).
    public var active: Bool { !rules.isEmpty }

    /// True when the silo-relative path `rel` (last component `name`) is excluded.
    public func excludes(_ rel: FileName, name: FileName, isDirectory: Bool) -> Bool {
        if rules.isEmpty { return false }
        var parts: [ArraySlice<UInt8>]? = nil
        var excluded = false
        for r in rules where excluded == r.negated {
            if r.directoryOnly && !isDirectory { continue }
            let hit: Bool
            if r.anchored {
                if parts == nil { parts = rel.bytes.split(separator: 0x2F, omittingEmptySubsequences: true) }
                hit = Self.matchPath(r.components, parts!)
            } else {
                hit = r.components.count == 1 && r.components[0].map { Self.glob($0[...], name.bytes[...]) } ?? true
            }
            if hit { excluded = !r.negated }
        }
        return excluded
    }

    // MARK: Parsing

    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: true).map { l in l.last == 0x0D ? l.dropLast() : l }
    }

    /// A file line without trailing unescaped spaces.
    static func cleaned(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var l = line
        while l.last == 0x20 {
            let beforeSpace = l.dropLast()
            if beforeSpace.last == 0x5C { break }
            l = beforeSpace
        }
        return l
    }

    static func rule(_ raw: ArraySlice<UInt8>, fromFile: Bool) -> Rule? {
        var p = fromFile ? cleaned(raw) : raw
        if p.isEmpty { return nil }
        if fromFile && p.first == 0x23 { return nil }           // '#': comment
        var negated = false
        if p.first == 0x21 { negated = true; p = p.dropFirst() } // '!'
        else if p.first == 0x5C, let second = p.dropFirst().first, second == 0x23 || second == 0x21 { p = p.dropFirst() }
        var directoryOnly = false
        while p.last == 0x2F { directoryOnly = true; p = p.dropLast() }
        var anchored = false
        if p.first == 0x2F { anchored = true }
        let parts = p.split(separator: 0x2F, omittingEmptySubsequences: true)
        if parts.isEmpty { return nil }
        if parts.count > 1 { anchored = true }
        var comps: [[UInt8]?] = []
        for c in parts {
            if c.elementsEqual([0x2A, 0x2A]) {
                if comps.last.map({ $0 == nil }) ?? false { continue } // "**/**" is "**"
                comps.append(nil)
            } else {
                comps.append(Array(c))
            }
        }
        // A lone "**" (or "**/x") matches at any depth: it is anchored in the matching sense.
        if comps.first.map({ $0 == nil }) ?? false { anchored = true }
        return Rule(negated: negated, directoryOnly: directoryOnly, anchored: anchored, components: comps)
    }

    // MARK: Matching

    /// Pattern components (nil = `**`) against path components; dynamic programming, no recursion.
    static func matchPath(_ pat: [[UInt8]?], _ path: [ArraySlice<UInt8>]) -> Bool {
        let n = path.count
        // reach[j]: the first i pattern components can consume exactly the first j path components.
        var reach = [Bool](repeating: false, count: n + 1)
        reach[0] = true
        for c in pat {
            var next = [Bool](repeating: false, count: n + 1)
            if let c {
                for j in 0..<n where reach[j] && glob(c[...], path[j]) { next[j + 1] = true }
            } else {
                var any = false
                for j in 0...n {
                    if reach[j] { any = true }
                    next[j] = any
                }
            }
            reach = next
        }
        return reach[n]
    }

    /// One component's glob (`*`, `?`, `[...]`, `\`) against one name, on bytes; linear
    /// backtracking on the last `*` only (no exponential cases).
    static func glob(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
        var pi = p.startIndex, si = s.startIndex
        var starP: Int? = nil, starS = s.startIndex
        while si < s.endIndex {
            if pi < p.endIndex {
                if p[pi] == 0x2A { starP = pi; starS = si; pi += 1; continue }
                let (ok, len) = single(p, at: pi, s[si])
                if ok { pi += len; si += 1; continue }
            }
            guard let sp = starP else { return false }
            pi = sp + 1
            starS += 1
            si = starS
        }
        while pi < p.endIndex && p[pi] == 0x2A { pi += 1 }
        return pi == p.endIndex
    }

    /// Whether the pattern element at `i` (not `*`) matches byte `b`, and its length in the pattern.
    static func single(_ p: ArraySlice<UInt8>, at i: Int, _ b: UInt8) -> (Bool, Int) {
        let c = p[i]
        switch c {
        case 0x3F: return (b != 0x2F, 1) // '?'
        case 0x5C:                     // '\'
            guard i + 1 < p.endIndex else { return (b == 0x5C, 1) }
            return (b == p[i + 1], 2)
        case 0x5B:                     // '['
            if let (hit, len) = bracket(p, at: i, b) { return (hit, len) }
            return (b == c, 1)         // no closing ']': a literal '['
        default:
            return (b == c, 1)
        }
    }

    /// A `[...]` class at `i`: whether `b` is in it and the class's length; nil when unclosed.
    static func bracket(_ p: ArraySlice<UInt8>, at i: Int, _ b: UInt8) -> (Bool, Int)? {
        var j = i + 1
        var negate = false
        if j < p.endIndex && (p[j] == 0x21 || p[j] == 0x5E) { negate = true; j += 1 }
        var hit = false
        var first = true
        while j < p.endIndex {
            var lo = p[j]
            if lo == 0x5D && !first { return (hit != negate && b != 0x2F, j + 1 - i) }
            first = false
            if lo == 0x5C && j + 1 < p.endIndex { j += 1; lo = p[j] }
            if j + 2 < p.endIndex && p[j + 1] == 0x2D && p[j + 2] != 0x5D {
                var hi = p[j + 2]
                var step = 3
                if hi == 0x5C && j + 3 < p.endIndex { hi = p[j + 3]; step = 4 }
                if lo <= b && b <= hi { hit = true }
                j += step
            } else {
                if lo == b { hit = true }
                j += 1
            }
        }
        return nil
    }
}
