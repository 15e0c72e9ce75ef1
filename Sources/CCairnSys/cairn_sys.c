#define _GNU_SOURCE
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include "cairn_sys.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

int cairn_rename_exchange(const char *a, const char *b) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}

int cairn_rename_noreplace(const char *from, const char *to) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

long long cairn_stat_mtime_ns(const struct stat *st) {
    return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

long long cairn_stat_ctime_ns(const struct stat *st) {
    return (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

int cairn_set_mtime_ns(const char *path, long long mtime_ns) {
    struct timespec ts[2];
    ts[0].tv_sec = mtime_ns / 1000000000LL; ts[0].tv_nsec = mtime_ns % 1000000000LL;
    if (ts[0].tv_nsec < 0) { ts[0].tv_nsec += 1000000000LL; ts[0].tv_sec -= 1; }
    ts[1] = ts[0];
    return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

int cairn_isatty(int fd) { return isatty(fd); }

int cairn_syncfs(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = syncfs(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- Command silos: a watchdog between cairn and the command ----
 * cairn forks W (the watchdog). W makes its own process group G, asks the kernel for SIGTERM
 * when cairn dies (PR_SET_PDEATHSIG), and forks C, which runs `/bin/sh -c CMD` in G with
 * stdout on the pipe. When cairn dies (any signal, even SIGKILL), W kills the whole group G,
 * so no process of the command outlives cairn. W exits with C's status (128+signal when C
 * was killed). Only async-signal-safe calls are made after fork. */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static void cairn_watchdog_fire(int sig) {
    (void)sig;
    kill(-getpgrp(), SIGKILL);
    _exit(137);
}

static void cairn_set_handlers(void (*handler)(int)) {
    /* cairn blocks SIGINT/SIGTERM in every thread (a sigwait thread takes them), and a fork
     * inherits that mask: unblock everything, or PR_SET_PDEATHSIG's SIGTERM never arrives. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction sa;
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int cairn_spawn_command(const char *cmd, int out_fd, int read_fd, int null_fd) {
    pid_t parent = getpid();
    pid_t w = fork();
    if (w < 0) return -1;
    if (w > 0) {
        setpgid(w, w); /* also done by the child: whichever runs first */
        return (int)w;
    }
    setpgid(0, 0);
    cairn_set_handlers(cairn_watchdog_fire);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) cairn_watchdog_fire(0);
    close(read_fd);
    pid_t c = fork();
    if (c < 0) _exit(127);
    if (c == 0) {
        cairn_set_handlers(SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(null_fd, 0);
        dup2(out_fd, 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)0);
        _exit(127);
    }
    /* W must not hold the pipe's write end, or cairn never sees the end of the output. */
    close(out_fd);
    close(null_fd);
    int st = 0;
    while (waitpid(c, &st, 0) < 0) {
        if (errno != EINTR) _exit(127);
    }
    if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
    _exit(128 + WTERMSIG(st));
}

int cairn_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

#include <malloc.h>
int cairn_bound_malloc(int mmap_threshold, int arena_max, int trim_threshold) {
    int ok = mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    ok &= mallopt(M_ARENA_MAX, arena_max);
    ok &= mallopt(M_TRIM_THRESHOLD, trim_threshold);
    return ok;
}
