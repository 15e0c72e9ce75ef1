// Command silos: a shell command whose standard output is stored as the silo's one file.
//
// The command runs under a watchdog (CCairnSys `cairn_spawn_command`) that leads its own
// process group: when the timeout expires the whole group is killed (SIGKILL), and when
// cairn itself dies, by any signal, the watchdog kills the group, so a hanging `pg_dump`
// or its children never outlive the snapshot. Output streams through the chunk pipeline;
// nothing is recorded unless the command exits with status 0 within its time.

#if canImport(Glibc)
import Glibc
#endif
import CCairnSys
import Dispatch

/// Runs command silos.
public enum CommandSilo {
    /// Seconds a command may run when neither the silo nor the snapshot sets a timeout (1 hour).
    public static let defaultTimeout: Double = 3600

    /// The smallest and largest accepted timeouts (seconds).
    public static let timeoutRange: ClosedRange<Double> = 0.1...(30 * 86400)

    /// Checks a `--timeout` value.
    public static func validate(timeout: Double) throws {
        guard timeout.isFinite, timeoutRange.contains(timeout) else {
            throw CairnError(.invalidInput, "--timeout \(timeout) is out of range; give seconds from 0.1 to \(Int(timeoutRange.upperBound)) (default \(Int(defaultTimeout)))")
        }
    }

    /// Watchdog state shared with the timer: the timer kills the group only while the command has not been reaped.
    private final class Guard: @unchecked Sendable {
        let lock = NSLockish()
        var finished = false
        var timedOut = false
        let group: pid_t
        init(group: pid_t) { self.group = group }
        func fire() {
            lock.locked {
                guard !finished else { return }
                timedOut = true
                kill(-group, SIGKILL)
            }
        }
    }

    /// Runs `silo`'s command once and stores nothing (`silo add` proves the command works):
    /// the output is chunked and hashed but no block is written. Returns its length in bytes.
    /// Throws `siloFailed` as a snapshot would, saying the silo was not added.
    public static func trial(_ silo: Silo, repository: Repository, timeout: Double? = nil) throws -> UInt64 {
        let writer = repository.makeWriter()
        writer.dryRun = true
        let pipeline = ChunkPipeline(chunker: FastCDC(repository.config.chunker), writer: writer)
        let r = try run(silo, timeout: timeout, pipeline: pipeline,
                        outcome: "the silo was not added; fix the command, or add it with --no-trial to skip this trial run")
        writer.discard()
        return r.length
    }

    /// Runs `silo`'s command, feeding its output to `pipeline`. Throws `siloFailed` when it cannot
    /// start, exits non-zero, is killed, or runs longer than its timeout (`outcome` says what that means).
    static func run(_ silo: Silo, timeout: Double?, pipeline: ChunkPipeline, outcome: String? = nil) throws -> ChunkPipeline.Result {
        let cmd = silo.command ?? ""
        let limit = timeout ?? silo.timeout ?? defaultTimeout
        var fds: [Int32] = [0, 0]
        guard cairn_pipe_cloexec(&fds) == 0 else { throw CairnError.posix("cannot create a pipe for silo", path: silo.name) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard null >= 0 else { close(fds[0]); close(fds[1]); throw CairnError.posix("cannot open", path: "/dev/null") }
        let pid = cairn_spawn_command(cmd, fds[1], fds[0], null)
        let spawnErrno = errno
        close(fds[1])
        close(null)
        guard pid > 0 else {
            close(fds[0])
            throw CairnError(.siloFailed, "silo '\(silo.name)': cannot start command `\(cmd)`: \(String(cString: strerror(spawnErrno)))")
        }
        let watch = Guard(group: pid)
        let timer = DispatchWorkItem { watch.fire() }
        DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: timer)
        let src = PosixFile(fd: fds[0], path: "output of `\(cmd)`")
        var result: ChunkPipeline.Result?
        var readError: Error?
        do {
            // Ctrl-C / SIGTERM of cairn stops the command's whole group too (Cancellation).
            result = try Cancellation.onRequest({ kill(-pid, SIGKILL) }) { try pipeline.process { try src.read(into: $0, count: $1) } }
        } catch { readError = error }
        src.close()
        if readError != nil { watch.fire() }
        // Wait without reaping, so the group id cannot be reused while the timer may still fire.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        let timedOut: Bool = watch.lock.locked {
            watch.finished = true
            return watch.timedOut
        }
        timer.cancel()
        kill(-pid, SIGKILL) // children the command left behind
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        try Cancellation.check()
        if timedOut {
            throw CairnError(.siloFailed, "silo '\(silo.name)': command `\(cmd)` did not finish within \(limit) seconds; it and its process group were killed; \(outcome ?? "the silo was not snapshotted") (raise it with `--timeout SECONDS`)")
        }
        if let readError { throw readError }
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0, let result else {
            let why = exited ? (code > 128 ? "was killed by signal \(code - 128)" : "exited with status \(code)") : "was killed by signal \(status & 0x7f)"
            throw CairnError(.siloFailed, "silo '\(silo.name)': command `\(cmd)` \(why); \(outcome ?? "the silo was not snapshotted, fix the command and run `cairn snapshot --silo \(silo.name)`")")
        }
        return result
    }
}
