// Shared helpers for Cairn's tests: temporary folders, running the built `cairn`
// binary, generating torture trees, and digesting trees for comparison.

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A temporary directory removed on `remove()`.
public final class TempDir: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "cairn-test") {
        _ = TempDir.hostFolders
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    public func sub(_ name: String) -> String { path + "/" + name }
    public func remove() { try? FS.removeTree(path) }

    /// Format-3 repositories keep their index cache and host-local state outside the repository
    /// (`HostFolders`): tests put both under one folder per test process (children inherit it),
    /// unless the environment already names them.
    static let hostFolders: Void = {
        let base = "/tmp/cairn-test-host-\(getpid())"
        if getenv("CAIRN_CACHE_DIR") == nil { setenv("CAIRN_CACHE_DIR", base + "/cache", 1) }
        if getenv("CAIRN_STATE_DIR") == nil { setenv("CAIRN_STATE_DIR", base + "/state", 1) }
    }()
}

/// Result of running a process.
public struct RunResult: Sendable {
    public var status: Int32
    public var stderr: String
    public var stdoutBytes: [UInt8]
    /// Standard output as text, decoded on use: decoding megabytes of binary output
    /// (`cairn cat`) is slow under swift-testing, so only callers that need text pay for it.
    public var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
}

/// Locates the `cairn` binary built beside the test bundle.
public func cairnBinary() -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let c = dir.appendingPathComponent("cairn").path
        if FileManager.default.isExecutableFile(atPath: c) { return c }
        dir = dir.deletingLastPathComponent()
    }
    let fallback = FileManager.default.currentDirectoryPath + "/.build/release/cairn"
    return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : FileManager.default.currentDirectoryPath + "/.build/debug/cairn"
}

/// A child process started with posix_spawn (Foundation's Process can hang when several
/// children run at once under the test runner's threads).
public final class Child: @unchecked Sendable {
    public let pid: pid_t
    private var status: Int32?

    init(pid: pid_t) { self.pid = pid }

    /// Starts `exe` with `args`; stdin/stdout/stderr go to the given paths (nil: /dev/null).
    public static func spawn(_ exe: String, _ args: [String], env: [String: String] = [:], stdin: String? = nil,
                             stdout: String? = nil, stderr: String? = nil) throws -> Child {
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fa, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        return Child(pid: try spawnProcess(exe, args, env: env, fileActions: &fa))
    }

    /// Waits for the child; returns its exit status (128+signal when killed).
    @discardableResult
    public func wait() -> Int32 {
        if let s = status { return s }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        let code: Int32 = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
        status = code
        return code
    }

    public func kill(_ sig: Int32 = SIGKILL) { _ = Glibc.kill(pid, sig) }
}

/// posix_spawnp with `fileActions`, the environment plus `env`, and `extraFlags` (e.g. POSIX_SPAWN_SETSID).
/// Children start with an empty signal mask and default handlers: the test runner's threads
/// block SIGCHLD, and a shell inheriting that mask never returns from `wait`.
public func spawnProcess(_ exe: String, _ args: [String], env: [String: String], fileActions fa: inout posix_spawn_file_actions_t,
                         extraFlags: Int32 = 0) throws -> pid_t {
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    let argv = ([exe] + args).map { strdup($0) } + [nil]
    let envp = e.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attr, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for sig in [SIGCHLD, SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGWINCH] { sigaddset(&defaults, sig) }
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | extraFlags))
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, exe, &fa, &attr, argv, envp)
    if rc != 0 { throw CairnError(.io, "cannot spawn \(exe): \(String(cString: strerror(rc)))") }
    return pid
}

/// Runs a program to completion, capturing its output.
@discardableResult
public func run(_ exe: String, _ args: [String], env: [String: String] = [:], stdin: String? = nil) throws -> RunResult {
    let io = TempDir("cairn-io")
    defer { io.remove() }
    var inPath: String?
    if let stdin {
        inPath = io.sub("i")
        try writeFile(inPath!, Array(stdin.utf8))
    }
    let c = try Child.spawn(exe, args, env: env, stdin: inPath, stdout: io.sub("o"), stderr: io.sub("e"))
    let status = c.wait()
    let ob = (try? FS.readAll(io.sub("o"))) ?? []
    let eb = (try? FS.readAll(io.sub("e"))) ?? []
    return RunResult(status: status, stderr: String(decoding: eb, as: UTF8.self), stdoutBytes: ob)
}

/// Runs `cairn` with `--repo` pointing at `repo`.
@discardableResult
public func cairn(_ repo: String, _ args: [String], env: [String: String] = [:]) throws -> RunResult {
    var a = args
    // Options go after the subcommand path; ArgumentParser accepts them anywhere after it.
    a.append(contentsOf: ["--repo", repo])
    return try run(cairnBinary(), a, env: env)
}

/// Runs a shell snippet.
@discardableResult
public func sh(_ script: String, env: [String: String] = [:]) throws -> RunResult {
    try run("/bin/sh", ["-c", script], env: env)
}

/// Writes bytes to a file, creating parent folders.
public func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    try FS.mkdirs(FS.parent(path))
    let f = try PosixFile.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
    try f.write(bytes)
    f.close()
    chmod(path, mode)
}

/// Deterministic pseudo-random bytes (SplitMix64).
public struct SeededBytes {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        out.withUnsafeMutableBytes { p in
            var i = 0
            while i + 8 <= n { p.storeBytes(of: next(), toByteOffset: i, as: UInt64.self); i += 8 }
            while i < n { p[i] = UInt8(truncatingIfNeeded: next()); i += 1 }
        }
        return out
    }
    public mutating func int(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// SHA-256 of a file's content (hex).
public func fileSHA(_ path: String) throws -> String {
    let f = try PosixFile.open(path, O_RDONLY)
    defer { f.close() }
    let h = SHA256Hasher()
    h.reset()
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = try buf.withUnsafeMutableBytes { try f.read(into: $0.baseAddress!, count: 1 << 20) }
        if n == 0 { break }
        buf.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    return h.finish().hex
}

/// One path's recorded state in a tree digest.
public struct PathState: Equatable, Sendable, CustomStringConvertible {
    public var kind: String
    public var mode: UInt32
    public var mtimeNs: Int64
    public var size: UInt64
    public var sha: String
    public var target: String
    public init(kind: String, mode: UInt32, mtimeNs: Int64, size: UInt64, sha: String, target: String) {
        self.kind = kind
        self.mode = mode
        self.mtimeNs = mtimeNs
        self.size = size
        self.sha = sha
        self.target = target
    }
    public var description: String { "\(kind) \(String(mode, radix: 8)) \(mtimeNs) \(size) \(sha.prefix(12)) \(target)" }
}

/// Walks a live tree: relative path -> state (content hash, mode, mtime, link target).
public func digestTree(_ root: String, mtimes: Bool = true) throws -> [String: PathState] {
    var out: [String: PathState] = [:]
    func walk(_ dir: String, _ rel: String) throws {
        for n in try FS.list(dir) {
            let p = dir + "/" + n
            let r = rel.isEmpty ? n : rel + "/" + n
            let st = try FS.lstat(p)
            switch st.kind {
            case .directory:
                out[r] = PathState(kind: "dir", mode: st.mode, mtimeNs: 0, size: 0, sha: "", target: "")
                try walk(p, r)
            case .symlink:
                out[r] = PathState(kind: "symlink", mode: 0, mtimeNs: 0, size: 0, sha: "", target: try FS.readlink(p))
            case .file:
                out[r] = PathState(kind: "file", mode: st.mode, mtimeNs: mtimes ? st.mtimeNs : 0, size: st.size, sha: try fileSHA(p), target: "")
            case .other:
                continue
            }
        }
    }
    try walk(root, "")
    return out
}

/// Generates the torture tree: many small files, empty files and dirs, odd and unicode names,
/// symlinks (dangling too), varied modes, and optionally a large sparse file.
@discardableResult
public func makeTortureTree(at root: String, files: Int = 10_000, largeSparseBytes: UInt64 = 0, seed: UInt64 = 7) throws -> Int {
    var rng = SeededBytes(seed: seed)
    try FS.mkdirs(root)
    let odd = ["with space.txt", "new\nline.txt", "-leading-dash", "ünïcödé-日本語.txt", "emoji-🪨.md", "tab\there", "quote'\"s", "back\\slash", ".hidden", "a:colon"]
    var count = 0
    for (i, n) in odd.enumerated() {
        try writeFile(root + "/odd/" + n, rng.bytes(100 + i * 37), mode: 0o644)
        count += 1
    }
    let modes: [mode_t] = [0o644, 0o600, 0o755, 0o400, 0o640, 0o777, 0o444]
    let dirs = max(1, files / 100)
    var made = count
    while made < files {
        let d = rng.int(dirs)
        let sub = "d\(d % 10)/e\(d)"
        let size = rng.int(10) == 0 ? 0 : (rng.int(20) == 0 ? 50_000 + rng.int(200_000) : rng.int(3000))
        let m = modes[rng.int(modes.count)]
        try writeFile("\(root)/\(sub)/f\(made).bin", rng.bytes(size), mode: m)
        made += 1
    }
    for i in 0..<5 { try FS.mkdirs("\(root)/empty/e\(i)/deeper") }
    symlink("../odd/with space.txt", "\(root)/d0/link-ok")
    symlink("/nonexistent/target", "\(root)/d0/link-dangling")
    symlink("e0", "\(root)/empty/link-to-dir")
    chmod("\(root)/empty/e1", 0o700)
    if largeSparseBytes > 0 {
        let f = try PosixFile.open(root + "/large.sparse", O_WRONLY | O_CREAT | O_TRUNC)
        try f.write(Array("start".utf8))
        try f.seek(to: largeSparseBytes / 2)
        try f.write(rng.bytes(70_000))
        _ = ftruncate(f.fd, off_t(largeSparseBytes))
        try f.seek(to: largeSparseBytes - 3)
        try f.write(Array("end".utf8))
        f.close()
        made += 1
    }
    // Fixed mtimes with nanoseconds on a few entries.
    _ = cairnTouch(root + "/odd/with space.txt", 1_600_000_000_123_456_789)
    return made
}

/// Sets a path's mtime (ns) without following symlinks.
@discardableResult
public func cairnTouch(_ path: String, _ ns: Int64) -> Bool {
    var ts = [timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000)), timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))]
    return utimensat(AT_FDCWD, path, &ts, AT_SYMLINK_NOFOLLOW) == 0
}

/// Makes a repository with the given silos (name -> path) through the library.
public func makeRepository(_ dir: TempDir, silos: [String: String]) throws -> Repository {
    let r = try Repository.create(at: dir.sub("repo"))
    for (n, p) in silos.sorted(by: { $0.key < $1.key }) { try r.addSilo(Silo(name: n, path: p)) }
    return r
}

/// Runs one snapshot through the library.
@discardableResult
public func snapshot(_ r: Repository, silos: [String] = [], tags: [String] = []) throws -> SnapshotResult {
    try Snapshotter(repository: r, options: SnapshotOptions(silos: silos, tags: tags)).run()
}

/// The id of the repository folder `repo` (its config.json).
public func repositoryId(_ repo: String) -> String {
    let obj = (try? FS.readAll(repo + "/config.json")).flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    return obj?["id"] as? String ?? "no-id"
}

/// The index cache of the format-3 repository folder `repo` (under this process's CAIRN_CACHE_DIR).
public func cacheIndexPath(_ repo: String) -> String {
    _ = TempDir.hostFolders
    return HostFolders.cache(id: repositoryId(repo)) + "/index.sqlite"
}

/// The host-local state folder of the format-3 repository folder `repo` (silos, restore journal, temporaries).
public func stateFolder(_ repo: String) -> String {
    _ = TempDir.hostFolders
    return HostFolders.state(id: repositoryId(repo))
}
