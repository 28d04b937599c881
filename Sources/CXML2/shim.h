#ifndef SWITCHYARD_CXML2_SHIM_H
#define SWITCHYARD_CXML2_SHIM_H

#include <libxml/xmlversion.h>
// Debian's libxml2 is built with ICU; its headers would pull in the system's ICU, which
// clashes with the copy Foundation ships. Nothing here uses libxml2's ICU converters.
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

/// xmlFree is a global function pointer, which Swift 6 treats as shared mutable state.
static inline void sy_xml_free(void *pointer) { xmlFree(pointer); }

#endif
