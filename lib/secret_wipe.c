/* Wiping secrets.  A plain memset before free is a dead store the compiler
 * may drop; OPENSSL_cleanse and explicit_bzero(3) are made so it cannot.
 * Both functions work in builds without OpenSSL too, since the store and
 * the strength policy hand out secrets from the environment either way. */
#define _DEFAULT_SOURCE /* explicit_bzero(3) in glibc's <string.h> */

#include "config.h"

#include "internal.h"

#include <string.h>

#ifdef RESIL_HAVE_OPENSSL
#include <openssl/crypto.h>
#endif

void resil_secret_wipe(void *p, size_t len)
{
    if (!p || len == 0)
        return;
#ifdef RESIL_HAVE_OPENSSL
    OPENSSL_cleanse(p, len);
#else
    explicit_bzero(p, len);
#endif
}

void resil_secret_free(void *p, size_t len)
{
    if (!p)
        return;
    resil_secret_wipe(p, len);
    resil__free(p);
}
