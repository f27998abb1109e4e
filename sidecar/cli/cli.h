/*
 * cli.h - the secure-exec command: what `secure-exec run` was asked to do (secure-exec.c
 * parses it), the VM config it becomes (vmjson.c) and the conversation with the sidecar that
 * runs it (session.c). See secure-exec(1).
 */
#ifndef SE_CLI_H
#define SE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of our own (the guest's code otherwise). */
enum {
    CLI_EXIT_ERROR = 125,      /* secure-exec itself failed: usage, the sidecar, the protocol */
    CLI_EXIT_CANNOT_RUN = 126, /* the program was found but cannot be run */
    CLI_EXIT_NOT_FOUND = 127   /* the file or program does not exist */
};

typedef enum cli_what {
    CLI_RUN_FILE,   /* FILE: copied into the VM and run */
    CLI_RUN_CODE,   /* -e CODE */
    CLI_RUN_PROGRAM /* -- PROGRAM: found on the VM's PATH */
} cli_what_t;

typedef enum cli_runtime {
    CLI_RT_AUTO, /* by the file's extension (JavaScript for -e) */
    CLI_RT_JS,
    CLI_RT_PYTHON,
    CLI_RT_WASM,
    CLI_RT_COMMAND /* an executable file, run by its path */
} cli_runtime_t;

typedef struct cli_list {
    const char **items;
    size_t len, cap;
} cli_list_t;

typedef struct cli_opts {
    cli_what_t what;
    cli_runtime_t runtime;
    const char *target; /* FILE, CODE or PROGRAM */
    char **args;        /* what follows it */
    size_t nargs;
    const char *sidecar;
    const char *trace;
    const char *cwd;
    cli_list_t allow_env, env, allow_read, allow_write;
    bool allow_net, deny_fs, no_stdin, quiet, verbose;
    /* 0: unset (the sidecar's default, no limit for most) */
    uint64_t memory, disk, timeout_ms, cpu_ms, max_processes;
    const char *memory_text, *timeout_text, *cpu_text; /* as given, for messages */
} cli_opts_t;

/* The program and where it goes in the VM, decided before the VM config is built. */
typedef struct cli_program {
    cli_runtime_t runtime; /* resolved: never CLI_RT_AUTO */
    char *guest_path;      /* FILE's path in the VM (malloc'd), NULL otherwise */
    uint8_t *content;      /* FILE's bytes (malloc'd) */
    size_t content_len;
} cli_program_t;

/* The guest's home directory, where FILE is copied. */
#define CLI_GUEST_HOME "/home/user"

int cli_list_add(cli_list_t *l, const char *item);
void cli_list_free(cli_list_t *l);

/* Prints "secure-exec: " and the message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The CreateVm config JSON for o and p (malloc'd), or NULL with a message printed (the
 * caller exits CLI_EXIT_ERROR).
 */
char *cli_vm_config(const cli_opts_t *o, const cli_program_t *p);

/* Runs it all; returns the exit status secure-exec exits with. */
int cli_run(const cli_opts_t *o);

#endif
