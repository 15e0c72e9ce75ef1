// SIGINT and SIGTERM end every command cleanly. `Signals.install()` (first thing in main)
// blocks them in every thread and starts one thread that waits for them with sigwait(2).
// On the first one it cancels `Signals.token`, the command's cancellation token (CairnCore's
// CancellationToken; main runs the command inside it): the working thread's next
// `Cancellation.check()` throws `.interrupted`/`.terminated`, the normal error paths remove
// partial and temporary files, the repository lock is released, and main prints
// `cairn: interrupted` and exits 130 (143 for SIGTERM).
//
// When the work does not reach a check in time (blocked in a system call, or a loop
// without one), or on a second signal, the thread cleans up itself: it removes the paths
// registered with `Cleanup` and this process's files in the repositories it opened
// (REPO/tmp/*-PID-*, REPO/locks/PID-*.json), then exits with the same code.
// SIGWINCH (terminal resized) redraws the progress line.

import CairnCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files to remove when the process is stopped before it could clean up itself.
enum Cleanup {
    private final class Registry: @unchecked Sendable {
        var mutex = pthread_mutex_t()
        var paths: [String] = []
        var repositories: [String] = []
        init() { pthread_mutex_init(&mutex, nil) }
    }
    private static let registry = Registry()

    /// `path` is removed on a forced exit (until `unregister`).
    static func register(_ path: String) {
        pthread_mutex_lock(&registry.mutex)
        registry.paths.append(path)
        pthread_mutex_unlock(&registry.mutex)
    }

    static func unregister(_ path: String) {
        pthread_mutex_lock(&registry.mutex)
        registry.paths.removeAll { $0 == path }
        pthread_mutex_unlock(&registry.mutex)
    }

    /// A repository this process opened: its tmp spools and lock info of this pid go on a forced exit.
    static func repository(_ root: String) {
        pthread_mutex_lock(&registry.mutex)
        if !registry.repositories.contains(root) { registry.repositories.append(root) }
        pthread_mutex_unlock(&registry.mutex)
    }

    /// Removes everything registered (runs on the signal thread, the work still running).
    static func now() {
        pthread_mutex_lock(&registry.mutex)
        let paths = registry.paths
        let repos = registry.repositories
        pthread_mutex_unlock(&registry.mutex)
        for p in paths { unlink(p) }
        let pid = "\(getpid())"
        for root in repos {
            for f in (try? FS.list(root + "/tmp")) ?? [] where f.split(separator: "-").contains(Substring(pid)) {
                unlink(root + "/tmp/" + f)
            }
            for f in (try? FS.list(root + "/locks")) ?? [] where f.hasPrefix(pid + "-") {
                unlink(root + "/locks/" + f)
            }
        }
    }
}

enum Signals {
    /// Seconds the work gets to stop at a cancellation check before the signal thread exits for it.
    static let grace = 10.0
    /// The cancellation token of the one command this process runs (main runs it inside `token.run`).
    static let token = CancellationToken()

    /// Blocks SIGINT, SIGTERM and SIGWINCH in this (and every later) thread and starts the thread that handles them.
    static func install() {
        var blocked = handled()
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        let t = Thread {
            var set = handled()
            var first: Int32 = 0
            var deadline = Double.infinity
            while true {
                var sig: Int32 = 0
                if first != 0 {
                    // After the first signal: wait for a second one, or the grace period.
                    var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
                    sig = sigtimedwait(&set, nil, &ts)
                    if sig < 0 {
                        if monotonicSeconds() >= deadline { forcedExit(first) }
                        continue
                    }
                } else if sigwait(&set, &sig) != 0 {
                    continue
                }
                if sig == SIGWINCH {
                    ProgressLine.withActive { $0.resized() }
                    continue
                }
                if first != 0 { forcedExit(first) }
                first = sig
                deadline = monotonicSeconds() + grace
                token.cancel(Cancellation.error(for: sig))
            }
        }
        t.start()
    }

    static func handled() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGWINCH] { sigaddset(&set, s) }
        return set
    }

    /// Cleans up for the work and exits 128+signal with the one-line message.
    static func forcedExit(_ sig: Int32) -> Never {
        Cleanup.now()
        _ = Report.error(Cancellation.error(for: sig))
        Out.flush()
        _exit(128 + sig)
    }
}
