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
