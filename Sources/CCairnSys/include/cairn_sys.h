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
/// Starts `/bin/sh -c cmd` under a watchdog process that leads its own process group and
/// kills that whole group when the calling process dies. The command's stdin is `null_fd`,
/// its stdout `out_fd` (the write end of a pipe whose read end is `read_fd`). Returns the
/// watchdog's pid (= the group id; its exit status is the command's, 128+N when killed by
/// signal N), or -1 with errno set.
int cairn_spawn_command(const char *cmd, int out_fd, int read_fd, int null_fd);

/// pipe2(fds, O_CLOEXEC).
int cairn_pipe_cloexec(int fds[2]);
/// glibc malloc tuning for long-running servers: large blocks (>= mmap_threshold bytes)
/// always mmapped (returned to the system on free), at most arena_max heap arenas, the heap
/// trimmed above trim_threshold free bytes. Returns 1 when every setting was accepted.
int cairn_bound_malloc(int mmap_threshold, int arena_max, int trim_threshold);

#endif
