/*
 * replay.c - main() for a fuzz target built without libFuzzer: runs LLVMFuzzerTestOneInput()
 * once over every file named on the command line and every file of every directory named
 * there (sorted by name, not recursive), each in an exactly sized heap copy. This is how the
 * committed corpus and the crash regressions run in `make check`.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* libFuzzer calls it when a target defines it; so does the replay. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static const char *current; /* the input being run, for the abort handler */

static void on_abort(int sig)
{
    (void)sig;
    static const char msg[] = "replay: crashed on input ";
    if (current) {
        ssize_t rc = write(STDERR_FILENO, msg, sizeof msg - 1);
        rc = write(STDERR_FILENO, current, strlen(current));
        rc = write(STDERR_FILENO, "\n", 1);
        (void)rc;
    }
}

static int run_file(const char *path, bool verbose)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "%s: out of memory\n", path);
            fclose(f);
            return -1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *p = realloc(buf, cap * 2);
        if (!p)
            free(buf);
        buf = p;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        perror(path);
        free(buf);
        return -1;
    }
    /* An exact copy, so that AddressSanitizer sees any read past the end of the input. */
    uint8_t *input = malloc(n ? n : 1);
    if (!input) {
        fprintf(stderr, "%s: out of memory\n", path);
        free(buf);
        return -1;
    }
    memcpy(input, buf, n);
    free(buf);
    if (verbose)
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    current = path;
    LLVMFuzzerTestOneInput(input, n);
    current = NULL;
    free(input);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order; returns the count, or -1 on an error. */
static long run_dir(const char *dir, bool verbose)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    long done = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(names, cap * sizeof *names);
            if (!p) {
                done = -1;
                break;
            }
            names = p;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[count] = malloc(len);
        if (!names[count]) {
            done = -1;
            break;
        }
        snprintf(names[count], len, "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    if (count)
        qsort(names, count, sizeof *names, by_name);
    for (size_t i = 0; i < count; i++) {
        struct stat st;
        if (done >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i], verbose) != 0)
                done = -1;
            else
                done++;
        }
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    bool verbose = false;
    long total = 0;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abort;
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGABRT, &sa, NULL);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);

    int first = 1;
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        verbose = true;
        first = 2;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-v] FILE-OR-DIRECTORY...\n", argv[0]);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        long n = S_ISDIR(st.st_mode) ? run_dir(argv[i], verbose) : run_file(argv[i], verbose);
        if (n < 0)
            return 1;
        total += S_ISDIR(st.st_mode) ? n : 1;
    }
    if (total == 0) {
        fprintf(stderr, "%s: no inputs\n", argv[0]);
        return 1;
    }
    printf("  OK      %s: %ld inputs replayed\n", argv[0], total);
    return 0;
}
