#ifndef SWITCHYARD_CGIT2_SHIM_H
#define SWITCHYARD_CGIT2_SHIM_H

#include <git2.h>

/// git_libgit2_opts is variadic, which Swift cannot call.
static inline int sy_git_disable_read_verification(void) {
    return git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
}

#endif
