/* Built by check-pkgconfig with nothing but `pkg-config --cflags --libs libbare-yaml` on a
 * moved install: a uint from YAML to BARE and back through libbare-yaml. */
#include <bare.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    bare_writer_t bin, text;
    bare_writer_init(&bin, NULL, NULL);
    bare_writer_init(&text, NULL, NULL);
    int rc = bare_yaml_to_bare(&bare_desc_uint, "300\n", 4, NULL, &bin, NULL);
    if (rc == BARE_OK)
        rc = bare_to_yaml(&bare_desc_uint, bin.buf, bin.len, NULL, &text, NULL);
    int ok = rc == BARE_OK && text.len >= 3 && memcmp(text.buf, "300", 3) == 0;
    if (!ok)
        fprintf(stderr, "pc_yaml: status %d, %.*s\n", rc, (int)text.len, (const char *)text.buf);
    bare_writer_free(&bin);
    bare_writer_free(&text);
    return ok ? 0 : 1;
}
