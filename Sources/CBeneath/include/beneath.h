#ifndef SWITCHYARD_BENEATH_H
#define SWITCHYARD_BENEATH_H

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: `path` is resolved beneath
/// `directory`, and a `..` or symlink that would leave it fails with EXDEV. -1 with errno
/// ENOSYS where the kernel (before 5.6) or the platform has no openat2. The system call has
/// no glibc wrapper, and syscall(2) is variadic, which Swift cannot call.
int sy_open_beneath(int directory, const char *path, int flags, unsigned int mode);

/// O_PATH, which Glibc's Swift module leaves out: a descriptor that names a file or
/// directory without opening it for reading (0 where the platform has none).
int sy_o_path(void);

#endif
