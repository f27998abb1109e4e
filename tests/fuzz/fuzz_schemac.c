/*
 * fuzz_schemac.c - any bytes as schema text, compiled in memory by schemac_compile() in draft
 * mode and with --legacy. A schema that compiles must produce a header and a source; --legacy
 * must accept whatever the draft mode accepts, with the same output; the canonical text of an
 * accepted schema must compile to the same output (schema line numbers aside) and print
 * itself. --dialect vbare must accept whatever --legacy accepts, with the same output. Rejects
 * must count errors.
 */
#include "fuzz.h"
#include "schemac.h"

static FILE *diag_sink(void)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    FUZZ_CHECK(sink != NULL, "cannot open /dev/null");
    return sink;
}

static int compile(const char *text, size_t len, bool legacy, bool vbare, schemac_result_t *res)
{
    schemac_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.schema_path = "fuzz.bare";
    opt.text = text;
    opt.text_len = len;
    opt.no_write = true;
    opt.name = "fuzz";
    opt.prefix = "fz";
    opt.legacy = legacy;
    opt.vbare = vbare;
    int rc = schemac_compile(&opt, diag_sink(), res);
    if (rc == SCHEMAC_OK) {
        FUZZ_CHECK(res->errors == 0, "accepted with %d errors", res->errors);
        FUZZ_CHECK(res->header && res->source && res->header_len > 0 && res->source_len > 0,
                   "an accepted schema produced no output");
        FUZZ_CHECK(strlen(res->header) == res->header_len && strlen(res->source) == res->source_len,
                   "output lengths are wrong");
        FUZZ_CHECK(res->canonical && res->depend, "no canonical text or make rule");
    } else {
        FUZZ_CHECK(rc == SCHEMAC_SCHEMA_ERROR, "schemac_compile returned %d", rc);
        FUZZ_CHECK(res->errors > 0, "rejected without an error");
        FUZZ_CHECK(!res->header && !res->source, "a rejected schema produced output");
    }
    return rc;
}

#define WHERE "fuzz.bare:"

/* Equal text, except for the line numbers of WHERE references (comments in the header). */
static bool same_text(const char *a, const char *b, bool ignore_lines)
{
    size_t n = strlen(WHERE);
    while (*a && *a == *b) {
        if (ignore_lines && strncmp(a, WHERE, n) == 0 && strncmp(b, WHERE, n) == 0) {
            a += n;
            b += n;
            while (*a >= '0' && *a <= '9')
                a++;
            while (*b >= '0' && *b <= '9')
                b++;
            continue;
        }
        a++;
        b++;
    }
    return *a == *b;
}

static bool same_output(const schemac_result_t *a, const schemac_result_t *b, bool ignore_lines)
{
    return same_text(a->header, b->header, ignore_lines) &&
           same_text(a->source, b->source, ignore_lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    schemac_result_t draft, legacy, vbare, canon;
    const char *text = (const char *)data;

    int rc_draft = compile(text, size, false, false, &draft);
    int rc_legacy = compile(text, size, true, false, &legacy);
    int rc_vbare = compile(text, size, true, true, &vbare);
    if (rc_draft == SCHEMAC_OK) {
        FUZZ_CHECK(rc_legacy == SCHEMAC_OK, "--legacy rejects a schema the draft mode accepts");
        FUZZ_CHECK(same_output(&draft, &legacy, false),
                   "--legacy changes the output of a draft schema");
    }
    if (rc_legacy == SCHEMAC_OK) {
        FUZZ_CHECK(rc_vbare == SCHEMAC_OK, "--dialect vbare rejects a schema --legacy accepts");
        FUZZ_CHECK(same_output(&legacy, &vbare, false),
                   "--dialect vbare changes the output of a legacy schema");
    }
    if (rc_legacy == SCHEMAC_OK) {
        const schemac_result_t *first = rc_draft == SCHEMAC_OK ? &draft : &legacy;
        bool mode = rc_draft != SCHEMAC_OK;
        int rc = compile(first->canonical, strlen(first->canonical), mode, false, &canon);
        FUZZ_CHECK(rc == SCHEMAC_OK, "the canonical text of an accepted schema is rejected");
        FUZZ_CHECK(same_output(first, &canon, true), "the canonical text compiles differently");
        FUZZ_CHECK(strcmp(first->canonical, canon.canonical) == 0,
                   "printing the canonical text changes it");
        schemac_result_free(&canon);
    }
    schemac_result_free(&draft);
    schemac_result_free(&legacy);
    schemac_result_free(&vbare);
    return 0;
}
