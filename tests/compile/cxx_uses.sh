#!/bin/sh
# cxx_uses.sh HEADER - writes on stdout a C++ translation unit that includes HEADER (a header
# made by schemac) and uses every *_HANDLERS macro in it, and BARE_STR_LIT. `make check` builds
# it with g++ -std=c++11/17/20 -Wall -Wextra -Wpedantic -Werror: the header and its macros must
# work for C++ users too (C++ has no compound literals, and designated initializers only since
# C++20).
set -eu
cat <<END
#include "$(basename "$1")"

// One handler that fits every slot: the function pointer type being initialized picks the
// overload (the template for members with a value, the plain one for void members).
template <typename T> int h(void *ctx, const T *v)
{
    (void)ctx;
    (void)v;
    return 0;
}
inline int h(void *ctx)
{
    (void)ctx;
    return 0;
}
bare_str_t str_lit();
bare_str_t str_lit() { return BARE_STR_LIT("lit"); }
END
sed -n 's/^#define \([A-Z0-9_]*\)_HANDLERS(\(.*\)) *\\$/\1 \2/p' "$1" | sort -u |
while read -r macro args; do
    stem=$(echo "$macro" | tr 'A-Z' 'a-z')
    hs=$(echo "$args" | sed 's/h[0-9]*/h/g')
    echo "static const ${stem}_handlers_t ${stem}_table = ${macro}_HANDLERS($hs);"
    echo "int ${stem}_call(const ${stem}_t *v);"
    echo "int ${stem}_call(const ${stem}_t *v) { return ${stem}_dispatch(&${stem}_table, nullptr, v); }"
done
