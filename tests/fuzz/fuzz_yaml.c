/*
 * fuzz_yaml.c - libbare's YAML codec through the descriptors of the generated code. The first
 * input byte picks a named type of the protocol schema (sx_schema) or, after those, of the
 * recursive --legacy test schema (rec_schema), as in fuzz_types; the rest is YAML text for
 * bare_yaml_to_bare(). A rejection appends nothing and comes with a YAML error (status, line,
 * column, offset inside the text, terminated path). What is accepted is BARE that the type's
 * generated decoder takes and validates and that re-encodes to the same bytes; bare_to_yaml()
 * renders it and that text converts back to exactly the same bytes. The same rest, read as BARE,
 * must also be judged by bare_to_yaml() exactly as the generated decoder judges it (status,
 * offset, path), and when it decodes, its YAML must convert back to those very bytes. Read as
 * a frame stream, it must convert the same whole and fed in pieces.
 */
#include "fuzz.h"
#include "recursive.h"
#include "secure_exec_sidecar_v1.h"

static const bare_type_desc_t *pick(uint8_t byte)
{
    size_t i = byte % (sx_schema.count + rec_schema.count);
    return i < sx_schema.count ? sx_schema.types[i] : rec_schema.types[i - sx_schema.count];
}

static const char keep[4] = {'k', 'e', 'e', 'p'};

/* A failed YAML conversion: a YAML-side status, nothing appended, a located error. */
static void check_yaml_reject(const bare_type_desc_t *d, int rc, const bare_error_t *err,
                              const bare_writer_t *w, size_t len)
{
    switch (rc) {
    case BARE_E_YAML_SYNTAX:
    case BARE_E_YAML_TYPE:
    case BARE_E_YAML_VALUE:
    case BARE_E_YAML_FIELD:
    case BARE_E_DEPTH:
    case BARE_E_ENUM:
    case BARE_E_UTF8:
    case BARE_E_DUPLICATE_KEY:
    case BARE_E_UNION_TAG:
    case BARE_E_NOMEM:
        break;
    default:
        fuzz_fail(__FILE__, __LINE__,
                  "%s: bare_yaml_to_bare failed with %s, which it may not report", d->name,
                  bare_status_name(rc));
    }
    FUZZ_CHECK(err->status == rc, "%s: error status %d, returned %d", d->name, err->status, rc);
    FUZZ_CHECK(w->len == sizeof keep && memcmp(w->buf, keep, sizeof keep) == 0,
               "%s: a failed conversion left %zu bytes in the output", d->name, w->len);
    FUZZ_CHECK(err->offset <= len, "%s: error offset %zu beyond the %zu-byte text", d->name,
               err->offset, len);
    FUZZ_CHECK(err->line >= 1 && err->column >= 1, "%s: error at %u:%u", d->name, err->line,
               err->column);
    FUZZ_CHECK(err->path_start < BARE_PATH_MAX &&
                   memchr(err->path + err->path_start, '\0', BARE_PATH_MAX - err->path_start),
               "%s: error path is not terminated", d->name);
    FUZZ_CHECK(memchr(err->detail, '\0', sizeof err->detail) != NULL,
               "%s: error detail is not terminated", d->name);
}

/* bytes are a value of d: the generated decoder takes them, they validate and re-encode. */
static void check_generated(const bare_type_desc_t *d, const uint8_t *bytes, size_t n,
                            bare_arena_t *arena)
{
    bare_error_t err;
    bare_writer_t w;
    void *v = fuzz_junk(d->c_size);
    int rc = bare_decode(d, bytes, n, arena, NULL, v, &err);
    FUZZ_CHECK(rc == BARE_OK, "%s: the BARE of accepted YAML does not decode: %s at %zu %s",
               d->name, bare_strerror(rc), err.offset, bare_error_path(&err));
    rc = d->validate(v, &err);
    FUZZ_CHECK(rc == BARE_OK, "%s: the value of accepted YAML does not validate: %s at %s", d->name,
               bare_strerror(rc), bare_error_path(&err));
    bare_writer_init(&w, NULL, NULL);
    rc = bare_encode(d, &w, v);
    FUZZ_CHECK(rc == BARE_OK && w.len == n && (n == 0 || memcmp(w.buf, bytes, n) == 0),
               "%s: the value of accepted YAML re-encodes differently", d->name);
    bare_writer_free(&w);
    free(v);
}

/* bare_to_yaml(bytes) succeeds, and its text converts back to exactly bytes. */
static void check_yaml_round_trip(const bare_type_desc_t *d, const uint8_t *bytes, size_t n)
{
    bare_writer_t y, b;
    bare_error_t err;
    bare_writer_init(&y, NULL, NULL);
    bare_writer_init(&b, NULL, NULL);
    int rc = bare_to_yaml(d, bytes, n, NULL, &y, &err);
    FUZZ_CHECK(rc == BARE_OK, "%s: bare_to_yaml of a valid value: %s at %zu %s", d->name,
               bare_strerror(rc), err.offset, bare_error_path(&err));
    rc = bare_yaml_to_bare(d, (const char *)y.buf, y.len, NULL, &b, &err);
    FUZZ_CHECK(rc == BARE_OK,
               "%s: the YAML bare_to_yaml wrote does not convert back: %s at %u:%u "
               "%s: %s\n%.*s",
               d->name, bare_strerror(rc), err.line, err.column, bare_error_path(&err),
               bare_error_message(&err), (int)(y.len > 2000 ? 2000 : y.len), (const char *)y.buf);
    FUZZ_CHECK(b.len == n && (n == 0 || memcmp(b.buf, bytes, n) == 0),
               "%s: BARE -> YAML -> BARE gives %zu bytes that differ from the %zu\n%.*s", d->name,
               b.len, n, (int)(y.len > 2000 ? 2000 : y.len), (const char *)y.buf);
    bare_writer_free(&y);
    bare_writer_free(&b);
}

/* The rest as BARE: bare_to_yaml judges it as the generated decoder does. */
static void check_same_verdict(const bare_type_desc_t *d, const uint8_t *bytes, size_t n,
                               bare_arena_t *arena)
{
    bare_error_t eg, ey;
    bare_writer_t y;
    void *v = fuzz_junk(d->c_size);
    int rg = bare_decode(d, bytes, n, arena, NULL, v, &eg);
    bare_writer_init(&y, NULL, NULL);
    int ry = bare_to_yaml(d, bytes, n, NULL, &y, &ey);
    /* the allocation limit counts the generated decoders' C values: not comparable */
    if (rg != BARE_E_ALLOC_LIMIT && ry != BARE_E_ALLOC_LIMIT) {
        FUZZ_CHECK(rg == ry,
                   "%s: the generated decoder says %s at %zu %s, bare_to_yaml %s at %zu %s",
                   d->name, bare_status_name(rg), eg.offset, bare_error_path(&eg),
                   bare_status_name(ry), ey.offset, bare_error_path(&ey));
        if (rg != BARE_OK) {
            FUZZ_CHECK(eg.offset == ey.offset &&
                           strcmp(bare_error_path(&eg), bare_error_path(&ey)) == 0,
                       "%s: %s at %zu %s from the generated decoder, at %zu %s from bare_to_yaml",
                       d->name, bare_status_name(rg), eg.offset, bare_error_path(&eg), ey.offset,
                       bare_error_path(&ey));
            FUZZ_CHECK(y.len == 0, "%s: a failed bare_to_yaml wrote %zu bytes", d->name, y.len);
        }
    }
    bare_writer_free(&y);
    free(v);
    if (rg == BARE_OK)
        check_yaml_round_trip(d, bytes, n);
}

/*
 * The rest as a frame stream, fed in pieces of `piece` bytes: the incremental converter gives
 * bare_frames_to_yaml's verdict, offset and frame index, and its output, also on failure, is
 * the whole conversion of the good frames before the failing one.
 */
static void check_frames_incremental(const bare_type_desc_t *d, const uint8_t *bytes, size_t n,
                                     size_t piece)
{
    bare_writer_t whole, inc, good;
    bare_error_t ew, ei;
    size_t frames = 0;
    bare_yaml_frames_t *f;
    bare_writer_init(&whole, NULL, NULL);
    bare_writer_init(&inc, NULL, NULL);
    bare_writer_init(&good, NULL, NULL);
    int rw = bare_frames_to_yaml(d, bytes, n, 64, NULL, &whole, &ew, &frames);
    int ri = bare_yaml_frames_open(&f, d, 64, NULL, &inc, &ei);
    FUZZ_CHECK(ri == BARE_OK, "bare_yaml_frames_open: %s", bare_status_name(ri));
    for (size_t at = 0; at < n && ri == BARE_OK; at += piece)
        ri = bare_yaml_frames_feed(f, bytes + at, n - at < piece ? n - at : piece, &ei);
    if (ri == BARE_OK)
        ri = bare_yaml_frames_finish(f, &ei);
    FUZZ_CHECK(ri == rw && bare_yaml_frames_index(f) == frames,
               "%s: frames %s at frame %zu whole, %s at frame %zu fed in pieces of %zu", d->name,
               bare_status_name(rw), frames, bare_status_name(ri), bare_yaml_frames_index(f),
               piece);
    if (rw == BARE_OK) {
        FUZZ_CHECK(inc.len == whole.len && (!inc.len || memcmp(inc.buf, whole.buf, inc.len) == 0),
                   "%s: frames fed in pieces give other YAML", d->name);
    } else if (rw != BARE_E_NOMEM) {
        FUZZ_CHECK(ei.offset == ew.offset, "%s: frames fail at %zu whole, %zu in pieces", d->name,
                   ew.offset, ei.offset);
        size_t p = 0;
        for (size_t i = 0; i < frames; i++)
            p += BARE_FRAME_HEADER_SIZE + bare_frame_header_decode(bytes + p);
        FUZZ_CHECK(bare_frames_to_yaml(d, bytes, p, 64, NULL, &good, NULL, NULL) == BARE_OK &&
                       inc.len <= good.len &&
                       (!inc.len || memcmp(inc.buf, good.buf, inc.len) == 0) &&
                       (frames == 0 || inc.len > 0),
                   "%s: a failed feed kept other than the good frames", d->name);
    }
    bare_yaml_frames_free(f);
    bare_writer_free(&whole);
    bare_writer_free(&inc);
    bare_writer_free(&good);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const bare_type_desc_t *d = pick(data[0]);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    bare_arena_t arena;
    bare_writer_t w;
    bare_error_t err;
    bare_arena_init(&arena, NULL, NULL);
    bare_writer_init(&w, NULL, NULL);
    FUZZ_CHECK(bare_write_bytes(&w, keep, sizeof keep) == BARE_OK, "out of memory");

    int rc = bare_yaml_to_bare(d, text, len, NULL, &w, &err);
    if (rc != BARE_OK) {
        check_yaml_reject(d, rc, &err, &w, len);
    } else {
        FUZZ_CHECK(w.len >= sizeof keep && memcmp(w.buf, keep, sizeof keep) == 0,
                   "%s: the conversion changed what the output held", d->name);
        const uint8_t *bytes = w.buf + sizeof keep;
        size_t n = w.len - sizeof keep;
        check_generated(d, bytes, n, &arena);
        check_yaml_round_trip(d, bytes, n);
    }
    bare_writer_free(&w);

    check_same_verdict(d, data + 1, len, &arena);
    check_frames_incremental(d, data + 1, len, (size_t)(data[0] % 7) + 1);
    bare_arena_free(&arena);
    return 0;
}
