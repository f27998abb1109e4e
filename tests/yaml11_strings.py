#!/usr/bin/env python3
"""yaml11_strings.py BARE_YAML WORKDIR - bare-yaml's YAML reads back in PyYAML as it was written.

PyYAML resolves plain scalars by YAML 1.1's implicit types (bool, int in bases 2 to 60, float,
null, timestamp, merge, value). Strings that look like any of them, and a deterministic swarm of
texts made of the characters those forms use, go through `bare-yaml decode` as a list<str>;
yaml.safe_load must give back exactly the same strings. Exits non-zero on the first mismatch.
"""
import random
import subprocess
import sys

import yaml

NAMED = [
    "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-12-15T02:59:43.1Z",
    "2002-12-14", "2001-13-45", "190:20:30", "190:20:30.15", "-1:30", "yes", "no", "on", "off",
    "y", "n", "Y", "N", "YES", "yEs", "oFF", "True", "FALSE", "0b1010", "-0b1_0", "0o17", "017",
    "0x_1F", "1_000", "+685_230", "1,000", ".inf", "-.Inf", "+.INF", ".NaN", "~", "null", "Null",
    "NULL", "", "<<", "=", "1.", "1.2.3", "6.8523015e+5", "685.230_15e+03", "1e3", ":sym", "0",
    "-0", "+12", "12e03", ".5", "2001-1-1", "hello", "1-2", "nully", "0b", "12:60", "x:1",
]
ALPHABET = "0123456789+-._:,eEoxXbBtTzZ ynNaflsuiF~<=:"


def swarm(count, seed=14):
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        base = rnd.choice(NAMED)
        if base and rnd.random() < 0.5:
            chars = list(base)
            for _ in range(rnd.randint(1, 3)):
                op = rnd.randint(0, 2)
                i = rnd.randrange(len(chars) + 1)
                if op == 0:
                    chars.insert(i, rnd.choice(ALPHABET))
                elif chars and i < len(chars):
                    if op == 1:
                        chars[i] = rnd.choice(ALPHABET)
                    else:
                        del chars[i]
            out.append("".join(chars))
        else:
            out.append("".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 10))))
    return out


def uint(n):
    b = bytearray()
    while True:
        if n < 0x80:
            b.append(n)
            return bytes(b)
        b.append(n & 0x7F | 0x80)
        n >>= 7


def main():
    bare_yaml, work = sys.argv[1], sys.argv[2]
    strs = NAMED + swarm(20000)
    body = bytearray(uint(len(strs)))
    for s in strs:
        raw = s.encode()
        body += uint(len(raw)) + raw
    with open(work + "/strs.bare", "w") as f:
        f.write("type Strs list<str>\n")
    with open(work + "/strs.bin", "wb") as f:
        f.write(body)
    out = subprocess.run([bare_yaml, "decode", work + "/strs.bare", "Strs", work + "/strs.bin"],
                         check=True, capture_output=True).stdout
    try:
        back = yaml.safe_load(out)
    except (yaml.YAMLError, ValueError) as e:  # e.g. a plain 2001-13-45 is a bad timestamp
        print("yaml11_strings: PyYAML cannot load the output: %s" % e, file=sys.stderr)
        sys.exit(1)
    bad = [(s, b) for s, b in zip(strs, back) if s != b]
    if len(back) != len(strs) or bad:
        for s, b in bad[:20]:
            print("yaml11_strings: %r read back by PyYAML as %r" % (s, b), file=sys.stderr)
        sys.exit(1)
    print("  OK      %d strings read back by PyYAML %s as written" % (len(strs), yaml.__version__))


if __name__ == "__main__":
    main()
