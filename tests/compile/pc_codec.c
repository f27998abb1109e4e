/* Built by check-pkgconfig with nothing but `pkg-config --cflags --libs libbare` on a moved
 * install: a uint written and read back through the shared libbare. */
#include <bare.h>
#include <stdio.h>

int main(void)
{
    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    if (bare_write_uint(&w, 300) != BARE_OK)
        return 1;
    bare_reader_t r;
    bare_reader_init(&r, w.buf, w.len, NULL, NULL);
    uint64_t v = 0;
    int rc = bare_read_uint(&r, &v);
    bare_writer_free(&w);
    if (rc != BARE_OK || v != 300) {
        fprintf(stderr, "pc_codec: read back %llu\n", (unsigned long long)v);
        return 1;
    }
    return 0;
}
