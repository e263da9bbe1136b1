/* The production tool set: each file under tools/ registers its own tools; this
 * file only fixes the order (the order of tools/list). */
#include "tools/tools.h"

int tools_register(struct app *a, char *err, size_t errlen)
{
    static int (*const reg[])(struct app *, char *, size_t) = {
        tools_register_youtube,
        tools_register_ai,
        tools_register_video,
        tools_register_introspect,
    };

    for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++) {
        if (reg[i](a, err, errlen) != 0)
            return -1;
    }
    return 0;
}
