/* basefs.h - the bundled base filesystem data file. */
#ifndef SC_BASEFS_H
#define SC_BASEFS_H

#include "fs.h"

#define SC_BASEFS_PATH_MAX 4096

/* Reads the YAML data file into entries (arena); -1 with "file:line:col: message". */
int sc_basefs_load(const char *file, bare_arena_t *arena, sc_entry_list_t *out, char *err,
                   size_t errlen);
/* The installed data file, or the one of the source tree for a build run from build/. */
const char *sc_basefs_default_path(char *buf, size_t len);

#endif
