/* What server_config.c, server_config_env.c and cli.c share: value checks
 * and the steps of config_load() after the file is parsed. */
#ifndef MCP_SERVER_CONFIG_INT_H
#define MCP_SERVER_CONFIG_INT_H

#include "server_config.h"

#include <stddef.h>

int config__check_url(const char *s, char *why, size_t n);
int config__parse_listen(const char *s, char *addr, size_t addrlen, unsigned *port, char *why,
                         size_t n);
int config__apply_env(struct config *c, char *const *env, char *err, size_t errlen);
int config__resolve_secrets(struct config *c, char *const *env, char *err, size_t errlen);
int config__check_exposure(const struct config *c, char *err, size_t errlen);
int config__locate_key(const char *text, size_t len, const char *path, int want_key, int *line,
                       int *column);
int config__check_text(const char *s, size_t cap, char *why, size_t n);
int config__check_charset(const char *s, const char *extra, int digit_first, char *why,
                          size_t n);
int config__check_origin(const char *s, char *why, size_t n);
void config__trim_url(char *url);

#endif
