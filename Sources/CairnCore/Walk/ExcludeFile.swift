// Reading exclude files (`--exclude-file F`): bounded, whole-file, one pattern per line
// (the language is ExcludeMatcher's). Read-only.

#if canImport(Glibc)
import Glibc
#endif

/// Exclude files on disk.
public enum ExcludeFile {
    /// Larger files are refused: an exclude file is a short list of patterns.
    public static let maxBytes = 1 << 20

    /// The bytes of the exclude file at `path`, refused when it is not a regular file or
    /// larger than `maxBytes`.
    public static func read(_ path: String) throws -> [UInt8] {
        let f = try PosixFile.open(path, O_RDONLY)
        defer { f.close() }
        let st = try f.stat()
        guard st.kind == .file else { throw CairnError(.invalidInput, "exclude file \(path) is not a regular file; give a file of patterns, one per line", path: path) }
        guard st.size <= UInt64(maxBytes) else {
            throw CairnError(.invalidInput, "exclude file \(path) is \(st.size) bytes, more than the 1 MiB an exclude file may have; shorten it", path: path)
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count <= maxBytes {
            let n = try buf.withUnsafeMutableBytes { try f.read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
        }
        throw CairnError(.invalidInput, "exclude file \(path) grew past 1 MiB while being read; shorten it", path: path)
    }

    /// The matcher of the exclude files at `paths` (in order: later patterns win).
    public static func matcher(_ paths: [String]) throws -> ExcludeMatcher {
        try paths.reduce(ExcludeMatcher([])) { $0.adding(ExcludeMatcher(fileBytes: try read($1))) }
    }

    /// The patterns of the exclude file at `path` as a silo stores them (UTF-8 text: a line
    /// that is not valid UTF-8 is refused with its line number).
    public static func storablePatterns(_ path: String) throws -> [String] {
        try ExcludeMatcher.patternLines(try read(path)).enumerated().map { i, line in
            guard let s = String(validating: line, as: UTF8.self), !line.contains(0) else {
                throw CairnError(.invalidInput, "exclude file \(path): pattern \(i + 1) is not valid UTF-8, which a silo's stored patterns must be; use `snapshot --exclude-file` for byte patterns", path: path)
            }
            return s
        }
    }
}
