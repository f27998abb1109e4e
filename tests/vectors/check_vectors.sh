#!/bin/sh
# check_vectors.sh BARE-YAML [DRIVER...] - runs the independent vectors tests/vectors/*.yaml (written
# by @bare-ts under node; node is not needed here). Every vector is decoded to YAML by bare-yaml
# (the descriptor codec) and encoded back, and must give bare-ts's bytes again; every vector of
# reject.yaml must be refused by bare-yaml's decoder. Each DRIVER (a program built on a schema's
# generated codecs: `DRIVER SCHEMA TYPE HEX` exits 0 when it decodes HEX and re-encodes the same
# bytes, 1 when it refuses HEX, 2 when the type is not its) is run on every vector too.
set -u
bare_yaml=$1
shift
dir=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0 r=0 c=0
# one line per vector: KIND SCHEMA TYPE HEX (the files are written by gen.mjs in this one shape)
for f in "$dir"/*.yaml; do
    awk '/^schema: /{s=$2} /^vectors:/{k="ok"} /^reject:/{k="reject"}
         /^- schema: /{s=$3} /^(- |  )type: /{t=$NF}
         /^  hex: /{h=$2; gsub(/"/,"",h); print k, s, t, (h==""?"-":h)}' "$f"
done >"$tmp/list"
while read -r kind schema type hex; do
    [ "$hex" = - ] && hex=
    printf '%s' "$hex" | xxd -r -p >"$tmp/in"
    # recursive types are outside the draft: the schema named legacy-* needs --legacy
    case $schema in */legacy-*) by="$bare_yaml --legacy" ;; *) by=$bare_yaml ;; esac
    if [ "$kind" = ok ]; then
        n=$((n + 1))
        if ! $by decode "$schema" "$type" "$tmp/in" "$tmp/y" 2>"$tmp/err" ||
            ! $by encode "$schema" "$type" "$tmp/y" "$tmp/out" 2>>"$tmp/err" ||
            ! cmp -s "$tmp/in" "$tmp/out"; then
            echo "FAIL bare-yaml: $type $hex: $(cat "$tmp/err")"
            fail=$((fail + 1))
        fi
    else
        r=$((r + 1))
        if $by decode "$schema" "$type" "$tmp/in" "$tmp/y" 2>/dev/null; then
            echo "FAIL bare-yaml accepts the reject vector $type $hex"
            fail=$((fail + 1))
        fi
    fi
    ran=0
    for d in "$@"; do
        "$d" "$schema" "$type" "$hex"
        rc=$?
        [ $rc = 2 ] && continue
        ran=1 c=$((c + 1))
        if [ "$kind" = ok ] && [ $rc != 0 ]; then
            echo "FAIL $d: $type $hex"
            fail=$((fail + 1))
        elif [ "$kind" = reject ] && [ $rc != 1 ]; then
            echo "FAIL $d accepts the reject vector $type $hex"
            fail=$((fail + 1))
        fi
    done
    if [ $# -gt 0 ] && [ $ran = 0 ]; then
        echo "FAIL no generated codec for $schema $type"
        fail=$((fail + 1))
    fi
done <"$tmp/list"
echo "vectors: $n round-tripped, $r refused by bare-yaml; $c runs of generated codecs; $fail failures"
[ $n -ge 1000 ] || { echo "vectors: fewer than 1000 (tests/vectors/*.yaml missing?)"; exit 1; }
[ $fail = 0 ]
