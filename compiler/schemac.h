/* schemac.h - the compiler as a library: schemac_compile() does everything the CLI does. */
#ifndef SCHEMAC_H
#define SCHEMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bare.h"

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
    bool legacy;             /* pre-2022 syntax, forward references and recursive types */
    bool vbare;              /* --dialect vbare: also '//' comments and map<K, V> (implies legacy) */
    bool trace;              /* bison's parser trace on stderr */
    int error_limit;         /* 0: the default (20); negative: no limit */
    const char *depfile;     /* also write a make rule (outputs: schema) here */
    /* gcc-style dependency options (-MD, -MT/-MQ, -MP, -M -MF) and --suffix. */
    bool depfile_default;    /* -MD: with no depfile, write DIR/NAME{suffix}.h.d */
    bool depfile_only;       /* -M -MF: write the depfile but neither output */
    const char *dep_targets; /* the rule's targets, already quoted (-MT/-MQ); NULL: outputs */
    bool dep_phony;          /* -MP: an empty rule for each dependency but the schema */
    const char *suffix;      /* --suffix: outputs NAME{suffix}.h and .c; NULL: none */
} schemac_options_t;

typedef struct schemac_result {
    char *header, *source; /* generated text (malloc'd), when the schema is valid */
    size_t header_len, source_len;
    char *canonical;       /* the schema in canonical syntax (malloc'd) */
    char *depend;          /* the make rule "NAME.h NAME.c: SCHEMA" (malloc'd) */
    char *header_path, *source_path; /* where they were (or would be) written */
    char *depfile_path;              /* the depfile written, or NULL */
    int errors;
} schemac_result_t;

/*
 * Parses, checks and compiles one schema, reporting diagnostics to diag_out. Outputs are
 * written (atomically, all or none) only when the schema has no error and no_write is unset.
 * Returns SCHEMAC_OK, SCHEMAC_SCHEMA_ERROR or SCHEMAC_USAGE_ERROR (I/O, bad options).
 */
int schemac_compile(const schemac_options_t *opt, FILE *diag_out, schemac_result_t *res);
void schemac_result_free(schemac_result_t *res);

/* path quoted for a make rule as gcc quotes it (-MQ): '$' doubled, '#' and blanks escaped. */
char *schemac_make_quote(const char *path);
/* A valid --suffix: letters, digits, '.', '_', '-' and '+' (it ends up in an #include). */
bool schemac_valid_suffix(const char *suffix);

/* A valid C identifier that is not reserved: usable as a prefix. */
bool schemac_valid_prefix(const char *p);
/* Why p cannot be a prefix or output name (a static sentence), or NULL when it can. */
const char *schemac_name_problem(const char *p);
/* The whole file (at most 16 MiB, malloc'd), or NULL with an errno value in *err. */
char *schemac_read_file(const char *path, size_t *len, int *err);
/* The schema file's base name without extension, other characters as '_' (malloc'd). */
char *schemac_default_name(const char *path);

/*
 * A schema parsed, checked and described at run time, for tools that work without compiling C
 * (bare-yaml): a descriptor of every named type, as schemac would emit them but with no C
 * layout (c_* fields 0) and no entry points. Types of recursive schemas (--legacy) point at
 * each other; union members carry the names generated descriptors carry.
 */
typedef struct schemac_loaded {
    bare_schema_desc_t schema; /* every named type, in schema order */
    struct schemac_front *front; /* the syntax tree and the memory behind the descriptors */
} schemac_loaded_t;

/*
 * Reads, parses and checks opt->schema_path (or opt->text) with the diagnostics schemac gives,
 * then builds the descriptors. Returns SCHEMAC_OK, SCHEMAC_SCHEMA_ERROR or
 * SCHEMAC_USAGE_ERROR; call schemac_loaded_free() whatever it returns.
 */
int schemac_load(const schemac_options_t *opt, FILE *diag_out, schemac_loaded_t *out);
void schemac_loaded_free(schemac_loaded_t *l);

/* Exit statuses of a compatibility check. */
enum { SCHEMAC_COMPATIBLE = 0, SCHEMAC_BREAKING = 1 };

/*
 * Lists to report every difference between two schemas that matters on the wire, in the
 * diagnostic format with both locations: breaking changes as errors, changes old readers or
 * old writers tolerate as warnings and notes. Problems loading either schema go to diag_out.
 * Returns SCHEMAC_COMPATIBLE, SCHEMAC_BREAKING or SCHEMAC_USAGE_ERROR (I/O, invalid schema).
 */
int schemac_compat(const schemac_options_t *old_opt, const schemac_options_t *new_opt,
                   FILE *report, FILE *diag_out);

#endif
