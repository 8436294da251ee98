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
