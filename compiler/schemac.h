/* schemac.h - the compiler as a library: schemac_compile() does everything the CLI does. */
#ifndef SCHEMAC_H
#define SCHEMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SCHEMAC_VERSION "0.1.0"
#define SCHEMAC_ABI_VERSION 1 /* the BARE_ABI_VERSION generated code needs */

/* Exit statuses, shared by the library and the CLI. */
enum { SCHEMAC_OK = 0, SCHEMAC_SCHEMA_ERROR = 1, SCHEMAC_USAGE_ERROR = 2 };

typedef struct schemac_options {
    const char *schema_path; /* as given: used in diagnostics, banners and descriptors */
    const char *text;        /* the schema text; NULL reads schema_path */
    size_t text_len;
    const char *out_dir;     /* where outputs go (NULL: the current directory) */
    bool no_write;           /* check and generate in memory only */
    const char *name;        /* base name of outputs; NULL: the schema file's, sanitised */
    const char *prefix;      /* C prefix; NULL: the base name */
    bool legacy;             /* forward references and recursive types */
    bool trace;              /* bison's parser trace on stderr */
    int error_limit;         /* 0: the default (20); negative: no limit */
    const char *depfile;     /* also write a make rule (outputs: schema) here */
} schemac_options_t;

typedef struct schemac_result {
    char *header, *source; /* generated text (malloc'd), when the schema is valid */
    size_t header_len, source_len;
    char *canonical;       /* the schema in canonical syntax (malloc'd) */
    char *depend;          /* the make rule "NAME.h NAME.c: SCHEMA" (malloc'd) */
    char *header_path, *source_path; /* where they were (or would be) written */
    int errors;
} schemac_result_t;

/*
 * Parses, checks and compiles one schema, reporting diagnostics to diag_out. Outputs are
 * written (atomically, all or none) only when the schema has no error and no_write is unset.
 * Returns SCHEMAC_OK, SCHEMAC_SCHEMA_ERROR or SCHEMAC_USAGE_ERROR (I/O, bad options).
 */
int schemac_compile(const schemac_options_t *opt, FILE *diag_out, schemac_result_t *res);
void schemac_result_free(schemac_result_t *res);

/* A valid C identifier that is not reserved: usable as a prefix. */
bool schemac_valid_prefix(const char *p);

#endif
