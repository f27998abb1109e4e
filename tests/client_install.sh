#!/bin/sh
# The client library as a user gets it: `make install` into a scratch prefix, then the program
# of secure_exec_client.3's EXAMPLES, taken from the man page, built with pkg-config alone
# against the shared and then the static libraries, and run against the installed sidecar
# (it authenticates and creates a VM, so it needs root as the sidecar does).
# Usage: tests/client_install.sh BUILD_DIR
set -eu
o=$1
t=$(cd "$o" && pwd)/client-install
rm -rf "$t" && mkdir -p "$t"
${MAKE:-make} -s O="$o" install PREFIX="$t/prefix" >/dev/null
# The installed .pc files are relocatable: move the whole prefix and build from there.
mv "$t/prefix" "$t/moved"
p=$t/moved
export PKG_CONFIG_PATH="$p/lib/pkgconfig"

# The example between EXAMPLES' .Bd and .Ed, mdoc escapes undone.
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' man/secure_exec_client.3 |
    sed -n '/^\.Bd -literal/,/^\.Ed/{/^\.Bd/d;/^\.Ed/d;p;}' |
    sed -e 's/\\e/\\/g' -e 's/^\\&//' > "$t/example.c"
grep -q 'int$' "$t/example.c" || { echo "no example program in the man page" >&2; exit 1; }

cc -o "$t/example-shared" \
    "$t/example.c" $(pkg-config --cflags --libs secure-exec-client)
readelf -d "$t/example-shared" | grep -q 'NEEDED.*libsecure-exec-client\.so\.1' ||
    { echo "example-shared does not use libsecure-exec-client.so.1" >&2; exit 1; }

# Static: without the shared objects -l takes the archives; --static adds libbare's libyaml.
mkdir "$t/static" && cp -a "$p/." "$t/static/"
rm -f "$t/static/lib/"*.so*
PKG_CONFIG_PATH="$t/static/lib/pkgconfig" cc -o "$t/example-static" "$t/example.c" \
    $(PKG_CONFIG_PATH="$t/static/lib/pkgconfig" pkg-config --static --cflags --libs \
      secure-exec-client)
if readelf -d "$t/example-static" | grep -q 'NEEDED.*lib\(bare\|secure-exec-client\)'; then
    echo "example-static needs a shared library of ours" >&2; exit 1
fi

# The schema for bare-yaml's frame recipes is where the man pages say, under the prefix.
"$p/bin/bare-yaml" frames "$p/share/secure-exec/secure_exec_sidecar_v1.bare" - </dev/null

for prog in example-shared example-static; do
    PATH="$p/bin:$PATH" LD_LIBRARY_PATH="$p/lib" "$t/$prog" > "$t/$prog.out" \
        2> "$t/$prog.err" || { cat "$t/$prog.err" >&2; exit 1; }
    grep -q '^vm ' "$t/$prog.out" || { echo "$prog: no VM" >&2; exit 1; }
done
echo "  OK      client library installed, example built and run (shared and static)"
