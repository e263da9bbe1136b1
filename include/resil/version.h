/* libresil: version macros (compile time) and resil_version() (run time). */
#ifndef RESIL_VERSION_H
#define RESIL_VERSION_H

#include <resil/common.h>

#define RESIL_VERSION_MAJOR 0
#define RESIL_VERSION_MINOR 1
#define RESIL_VERSION_PATCH 0
#define RESIL_VERSION_STRING "0.1.0"
/* 0xMMmmpp: compare with >= to test for a feature's availability. */
#define RESIL_VERSION_NUM                                                      \
    ((RESIL_VERSION_MAJOR << 16) | (RESIL_VERSION_MINOR << 8) | RESIL_VERSION_PATCH)

RESIL_BEGIN_DECLS

/* The version of the library linked at run time, as "MAJOR.MINOR.PATCH". */
RESIL_API const char *resil_version(void);
/* The same as RESIL_VERSION_NUM of the library linked at run time. */
RESIL_API unsigned resil_version_num(void);

RESIL_END_DECLS

#endif /* RESIL_VERSION_H */
