/* An external project's use of schemac and libbare: encode a Greeting from hello.bare,
 * decode it back and print it. Built by Makefile, CMakeLists.txt and meson.build alike. */
#include "hello.h"

#include <stdio.h>

int main(void)
{
    hello_greeting_t in;
    hello_greeting_init(&in);
    in.name = BARE_STR_LIT("world");
    in.count = 3;

    bare_writer_t w;
    bare_writer_init(&w, NULL, NULL);
    if (hello_greeting_encode(&w, &in) != BARE_OK) {
        fprintf(stderr, "hello: encode failed\n");
        return 1;
    }

    /* The decoded strings point into the arena or the buffer, so both outlive `out`. */
    bare_arena_t arena;
    bare_arena_init(&arena, NULL, NULL);
    bare_reader_t r;
    bare_reader_init(&r, w.buf, w.len, &arena, NULL);
    hello_greeting_t out;
    int rc = hello_greeting_decode(&r, &out);
    if (rc == BARE_OK)
        rc = bare_reader_finish(&r);
    if (rc != BARE_OK) {
        fprintf(stderr, "hello: decode failed: %s\n", bare_strerror(rc));
        bare_writer_free(&w);
        bare_arena_free(&arena);
        return 1;
    }
    printf("hello, %.*s x%llu (%zu bytes)\n", (int)out.name.len, out.name.ptr,
           (unsigned long long)out.count, w.len);
    bare_writer_free(&w);
    bare_arena_free(&arena);
    return 0;
}
