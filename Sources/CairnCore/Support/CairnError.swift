// Errors are values: a code (mapped to a documented CLI exit code), a one-line
// message that says what was wrong and what to do, and context (path, snapshot,
// byte offset) so the user can find the thing named.

#if canImport(Glibc)
import Glibc
#endif

/// A Cairn failure: a stable code, a message that says how to fix it, and context.
public struct CairnError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable failure classes. Each maps to one documented exit code (`Docs/CLI.md`).
    public enum Code: String, Sendable, CaseIterable {
        case internalError = "internal"
        case partial = "partial"
        case repositoryNotFound = "repository-not-found"
        case unsupportedFormat = "unsupported-format"
        case locked = "locked"
        case notFound = "not-found"
        case ambiguous = "ambiguous"
        case integrity = "integrity"
        case noSpace = "no-space"
        case io = "io"
        case invalidInput = "invalid-input"
        case siloFailed = "silo-failed"
        case alreadyExists = "already-exists"
        case busy = "busy"
        case filesInUse = "files-in-use"
        case metadataMismatch = "metadata-mismatch"
        case hookFailed = "hook-failed"
        case accessDenied = "access-denied"
        case unreachable = "unreachable"
        case clockSkew = "clock-skew"
        case usage = "usage"
        case interrupted = "interrupted"
        case terminated = "terminated"

        /// The process exit code the CLI uses for this failure class.
        public var exitCode: Int32 {
            switch self {
            case .internalError: return 1
            case .partial: return 3
            case .repositoryNotFound: return 10
            case .unsupportedFormat: return 11
            case .locked: return 12
            case .notFound: return 13
            case .ambiguous: return 14
            case .integrity: return 15
            case .noSpace: return 16
            case .io: return 17
            case .invalidInput: return 18
            case .siloFailed: return 19
            case .alreadyExists: return 20
            case .busy: return 21
            case .filesInUse: return 22
            case .metadataMismatch: return 23
            case .hookFailed: return 24
            case .accessDenied: return 25
            case .unreachable: return 26
            case .clockSkew: return 27
            case .usage: return 64
            case .interrupted: return 130
            case .terminated: return 143
            }
        }
    }

    public var code: Code
    /// What went wrong and what to do, in one line.
    public var message: String
    /// The file or object the error is about, when there is one.
    public var path: String?
    /// A byte offset inside `path`, when it matters.
    public var offset: UInt64?
    /// The POSIX errno behind an I/O failure, when there is one.
    public var errno: Int32?

    public init(_ code: Code, _ message: String, path: String? = nil, offset: UInt64? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.errno = errno
    }

    public var description: String {
        var s = message
        if let path, !message.contains(path) { s += " [\(path)" + (offset.map { " @\($0)" } ?? "") + "]" }
        else if let offset { s += " [byte offset \(offset)]" }
        return s
    }

    /// Builds an error from a failed system call, classifying ENOSPC/EDQUOT as `noSpace`.
    public static func posix(_ what: String, path: String, errno e: Int32 = Glibc.errno) -> CairnError {
        let reason = String(cString: strerror(e))
        if e == ENOSPC || e == EDQUOT {
            return CairnError(.noSpace, "\(what) \(path): \(reason); free some space on that filesystem and run the command again", path: path, errno: e)
        }
        return CairnError(.io, "\(what) \(path): \(reason)", path: path, errno: e)
    }
}
