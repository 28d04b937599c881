#ifndef SWITCHYARD_CGIT2_SHIM_H
#define SWITCHYARD_CGIT2_SHIM_H

#include <git2.h>

#endif
