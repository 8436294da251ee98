// Linux system calls that glibc 2.36's headers hide from Swift's Glibc module.
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/// rename(2) that fails with EEXIST instead of replacing the target
/// (renameat2 with RENAME_NOREPLACE). Returns 0 or -1 with errno set;
/// ENOSYS or EINVAL where the kernel or file system lacks it.
static inline int sovereign_rename_noreplace(const char *from, const char *to) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS:
/// the kernel itself refuses to leave `dirfd` (no "..", no absolute path)
/// or to follow any symlink while resolving `path`. Returns a descriptor or
/// -1 with errno set; ENOSYS where the kernel lacks openat2 (before 5.6),
/// and then the caller walks one checked component at a time instead.
struct sovereign_open_how { unsigned long long flags, mode, resolve; };
static inline int sovereign_openat_beneath(int dirfd, const char *path, int flags, unsigned int mode) {
#ifdef SYS_openat2
    struct sovereign_open_how how = { (unsigned long long)(unsigned int)flags, mode,
                                      0x08 /* BENEATH */ | 0x04 /* NO_SYMLINKS */ | 0x02 /* NO_MAGICLINKS */ };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// renameat(2) that fails with EEXIST instead of replacing the target.
static inline int sovereign_renameat_noreplace(int fromfd, const char *from, int tofd, const char *to) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, fromfd, from, tofd, to, 1 /* RENAME_NOREPLACE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// renameat(2) that swaps the two names atomically (renameat2 with
/// RENAME_EXCHANGE): at every instant each name holds one of the two
/// entries, never nothing. Both must exist. Returns 0 or -1 with errno set;
/// ENOSYS or EINVAL where the kernel or file system lacks it.
static inline int sovereign_renameat_exchange(int fromfd, const char *from, int tofd, const char *to) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, fromfd, from, tofd, to, 2 /* RENAME_EXCHANGE */);
#else
    errno = ENOSYS;
    return -1;
#endif
}
