// Classified storage failures: callers retry `transient` ones and explain the rest. Each message
// is one line saying what failed, where, and what to do.

#if canImport(Glibc)
import Glibc
#endif

/// A failure of a backend operation.
public struct StorageError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What a caller can do about it.
    public enum Kind: String, Sendable, CaseIterable {
        /// The object (or bucket) does not exist.
        case notFound
        /// A write-once put found the name taken.
        case alreadyExists
        /// The store refused access (file permissions, S3 credentials or policy).
        case permission
        /// The store is full (ENOSPC, EDQUOT, quota).
        case noSpace
        /// May succeed if tried again (timeouts, dropped connections, 5xx, throttling).
        case transient
        /// Will not succeed if tried again (I/O error, bad URL, clock skew, protocol violations).
        case fatal
    }

    /// Finer detail for errors that get their own advice or exit code.
    public enum Detail: String, Sendable {
        case noSuchBucket, badCredentials, clockSkew, unreachable, timeout, tornWrite, crashed
    }

    public var kind: Kind
    /// One line: what failed, where, what to do.
    public var message: String
    /// The object's relative path, when the error is about one.
    public var object: String?
    public var detail: Detail?
    public var errno: Int32?
    public var httpStatus: Int?
    /// Seconds the server asked to wait before retrying (HTTP Retry-After).
    public var retryAfter: Double?
    /// For a transient failure of a write: the request may have taken effect (the answer was lost).
    public var outcomeUnknown: Bool

    public init(_ kind: Kind, _ message: String, object: String? = nil, detail: Detail? = nil, errno: Int32? = nil,
                httpStatus: Int? = nil, retryAfter: Double? = nil, outcomeUnknown: Bool = false) {
        self.kind = kind
        self.message = message
        self.object = object
        self.detail = detail
        self.errno = errno
        self.httpStatus = httpStatus
        self.retryAfter = retryAfter
        self.outcomeUnknown = outcomeUnknown
    }

    public var description: String { message }
    /// True when trying again may succeed.
    public var isRetryable: Bool { kind == .transient }

    /// Classifies a failed system call on `path`.
    public static func posix(_ what: String, _ path: String, _ e: Int32) -> StorageError {
        let reason = String(cString: strerror(e))
        switch e {
        case ENOSPC, EDQUOT:
            return StorageError(.noSpace, "cannot \(what) \(path): \(reason); free space on that filesystem and run the command again", object: path, errno: e)
        case EACCES, EPERM, EROFS:
            return StorageError(.permission, "cannot \(what) \(path): \(reason); check the owner and permissions of the repository folder", object: path, errno: e)
        case ENOENT:
            return StorageError(.notFound, "cannot \(what) \(path): it does not exist", object: path, errno: e)
        case EEXIST:
            return StorageError(.alreadyExists, "cannot \(what) \(path): an object with that name already exists", object: path, errno: e)
        case EINTR, EAGAIN, ETIMEDOUT:
            return StorageError(.transient, "cannot \(what) \(path): \(reason); run the command again", object: path, errno: e)
        default:
            return StorageError(.fatal, "cannot \(what) \(path): \(reason); check the disk (dmesg) and run `cairn check`", object: path, errno: e)
        }
    }
}
