#ifndef CAIRN_SYS_H
#define CAIRN_SYS_H
#include <sys/types.h>
#include <sys/stat.h>

/// Atomically exchanges two paths (Linux renameat2 RENAME_EXCHANGE).
/// Returns 0 on success, -1 with errno set otherwise (ENOSYS/EINVAL when unsupported).
int cairn_rename_exchange(const char *a, const char *b);

/// renameat2 with RENAME_NOREPLACE: fails with EEXIST instead of replacing.
int cairn_rename_noreplace(const char *from, const char *to);

/// Nanosecond timestamps of a stat buffer (the fields are macros in glibc).
long long cairn_stat_mtime_ns(const struct stat *st);
long long cairn_stat_ctime_ns(const struct stat *st);

/// Sets a path's mtime (and atime to the same value) in nanoseconds without following symlinks.
int cairn_set_mtime_ns(const char *path, long long mtime_ns);

/// Flushes every dirty page and inode of the filesystem holding `path` (Linux syncfs).
int cairn_syncfs(const char *path);

/// Returns 1 when stderr (fd 2) is a terminal.
int cairn_isatty(int fd);
#endif
