#ifndef SWITCHYARD_CSQLITE_SHIM_H
#define SWITCHYARD_CSQLITE_SHIM_H

#include <sqlite3.h>

// SQLITE_TRANSIENT is a cast Swift does not import: SQLite copies the bound bytes.
static inline sqlite3_destructor_type sy_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

#endif
