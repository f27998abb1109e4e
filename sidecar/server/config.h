/* config.h - the sidecar's configuration: YAML file, environment, defaults. */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stddef.h>

#include "sidecar.h"

/* The environment variable that overrides the auth token. */
#define SC_TOKEN_ENV "SECURE_EXEC_SIDECAR_TOKEN"
/* The environment variable that shortens VmFetch's 30 s timeout (for tests). */
#define SC_FETCH_TIMEOUT_ENV "SECURE_EXEC_SIDECAR_FETCH_TIMEOUT_MS"

void sc_config_defaults(sc_config_t *cfg);
/*
 * Reads the YAML file at path into cfg (keys: sidecarId, authToken, authTokenFile,
 * maxFrameBytes, stateDir, logLevel). Returns 0, or -1 with "file:line:col: message" in err.
 */
int sc_config_load(sc_config_t *cfg, const char *path, char *err, size_t errlen);
/* Applies SC_TOKEN_ENV and SC_FETCH_TIMEOUT_ENV; returns 0 or -1 with a message. */
int sc_config_env(sc_config_t *cfg, char *err, size_t errlen);
void sc_config_free(sc_config_t *cfg);

#endif
