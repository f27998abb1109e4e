// gen.mjs - writes the independent test vectors tests/vectors/*.yaml with @bare-ts/tools and
// @bare-ts/lib (pinned in package.json / package-lock.json). For each schema it builds random
// encodings from bare-ts's own AST of the schema (seeded PRNG: the output is the same on every
// run), has the codec that @bare-ts/tools generates decode each one and encode the value again,
// and records bare-ts's encoding: so every byte string in the files was written by bare-ts.
// Reject vectors are kept only when bare-ts's decoder indeed throws on them.
// usage (from the repository root): cd tests/vectors && npm ci && node gen.mjs
import { readFileSync, writeFileSync, mkdirSync } from "node:fs"
import { execFileSync } from "node:child_process"
import * as tools from "@bare-ts/tools"
import * as bare from "@bare-ts/lib"

const here = new URL(".", import.meta.url).pathname
const root = `${here}../../`
const out = `${here}node_modules/.gen`
mkdirSync(out, { recursive: true })

// xorshift32: deterministic, seeded per file
let seed = 1
const rnd = () => {
    seed ^= seed << 13
    seed >>>= 0
    seed ^= seed >>> 17
    seed ^= seed << 5
    seed >>>= 0
    return seed
}
const below = (n) => rnd() % n
const pick = (a) => a[below(a.length)]

function uvarint(v) {
    const b = []
    v = BigInt(v)
    do {
        let byte = Number(v & 0x7fn)
        v >>= 7n
        if (v !== 0n) byte |= 0x80
        b.push(byte)
    } while (v !== 0n)
    return b
}
const rand64 = () => (BigInt(rnd()) << 32n) | BigInt(rnd())
function randUint(bits) {
    const edge = [0n, 1n, 127n, 128n, (1n << BigInt(bits)) - 1n, (1n << BigInt(bits - 1)) - 1n]
    if (below(3) === 0) return pick(edge)
    const mask = (1n << BigInt(below(bits) + 1)) - 1n
    return rand64() & mask
}
function fixedLE(v, n) {
    const b = []
    v = BigInt.asUintN(n * 8, BigInt(v))
    for (let i = 0; i < n; i++) b.push(Number((v >> BigInt(8 * i)) & 0xffn))
    return b
}
function randStr() {
    const pieces = ["a", "Z", "0", " ", "é", "ß", "€", "日本", "😀", "\n", "\t", '"', "'", ":",
        "- ", "#", "yes", "~", "null", "1.5", "\u0000", "\u007f", "\u0080", "\uffff", "𝄞"]
    let s = ""
    const n = below(4) === 0 ? 0 : below(8)
    for (let i = 0; i < n; i++) s += pick(pieces)
    const b = [...new TextEncoder().encode(s)]
    return [...uvarint(b.length), ...b]
}
function randBytes(n) {
    const b = []
    for (let i = 0; i < n; i++) b.push(below(256))
    return b
}
const F32 = [0, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff,
    0x7f800000, 0xff800000, 0x3f800000, 0xbf800000]
const F64 = [0n, 0x8000000000000000n, 1n, 0x800fffffffffffffn, 0x0010000000000000n,
    0x7fefffffffffffffn, 0x7ff0000000000000n, 0xfff0000000000000n, 0x3ff0000000000000n,
    0xc00921fb54442d18n]

let symbols
let recursive = false
function gen(type, depth) {
    switch (type.tag) {
    case "alias": return gen(symbols.get(type.data).type, depth)
    case "u8": return fixedLE(randUint(8), 1)
    case "u16": return fixedLE(randUint(16), 2)
    case "u32": return fixedLE(randUint(32), 4)
    case "u64": return fixedLE(randUint(64), 8)
    case "i8": return fixedLE(randUint(8), 1)
    case "i16": return fixedLE(randUint(16), 2)
    case "i32": return fixedLE(randUint(32), 4)
    case "i64": return fixedLE(randUint(64), 8)
    case "uint": return uvarint(randUint(64))
    case "int": return uvarint(randUint(64)) // any u64 is a zigzag int64
    case "bool": return [below(2)]
    case "str": return randStr()
    case "f32": {
        // NaN is left out: its payload does not survive every JS engine's float conversions
        let v = below(2) ? pick(F32) : rnd()
        if ((v & 0x7f800000) === 0x7f800000 && (v & 0x7fffff) !== 0) v = 0x40490fdb
        return fixedLE(v >>> 0, 4)
    }
    case "f64": {
        let v = below(2) ? pick(F64) : rand64()
        if ((v & 0x7ff0000000000000n) === 0x7ff0000000000000n && (v & 0xfffffffffffffn) !== 0n)
            v = 0x400921fb54442d18n
        return fixedLE(v, 8)
    }
    case "void": return []
    case "data":
        if (type.data !== null) return randBytes(type.data.val)
        { const n = below(6); return [...uvarint(n), ...randBytes(n)] }
    case "enum": return uvarint(pick(type.data).val)
    case "optional":
        if (depth <= 0 || below(2) === 0) return [0]
        return [1, ...gen(type.types[0], depth - 1)]
    case "list": {
        const fixed = type.data !== null
        const n = fixed ? type.data.val : depth <= 0 ? 0 : below(4)
        const b = fixed ? [] : uvarint(n)
        for (let i = 0; i < n; i++) b.push(...gen(type.types[0], depth - 1))
        return b
    }
    case "map": {
        const n = depth <= 0 ? 0 : below(4)
        const seen = new Set()
        const b = []
        let count = 0
        for (let i = 0; i < n; i++) {
            const k = gen(type.types[0], depth - 1)
            const key = k.join(",")
            if (seen.has(key)) continue // keys are unique
            seen.add(key)
            count++
            b.push(...k, ...gen(type.types[1], depth - 1))
        }
        return [...uvarint(count), ...b]
    }
    case "struct": {
        const b = []
        for (const t of type.types) b.push(...gen(t, depth))
        return b
    }
    case "union": {
        // a recursive schema's first member is a leaf: taken at the bottom, values stay finite
        const i = recursive && depth <= 0 ? 0 : below(type.data.length)
        return [...uvarint(type.data[i].val), ...gen(type.types[i], depth - 1)]
    }
    }
    throw new Error(`unknown type tag ${type.tag}`)
}

const hex = (b) => Buffer.from(b).toString("hex")
const schemas = {}
async function load(name, path, legacy = false) {
    const src = readFileSync(`${root}${path}`, "utf8")
    const ast = tools.parse(src, tools.Config({ schema: path, legacy }))
    const js = `${out}/${name}.mjs`
    const flags = legacy ? ["--legacy"] : []
    execFileSync(`${here}node_modules/.bin/bare`, ["compile", ...flags, "--generator", "js", `${root}${path}`, "-o", js])
    const codec = await import(js)
    schemas[name] = { path, ast, codec, syms: tools.symbols(ast), legacy }
    return schemas[name]
}
function roundTrip(s, name, bytes) {
    const bc = new bare.ByteCursor(new Uint8Array(bytes), bare.Config({}))
    const v = s.codec[`read${name}`](bc)
    if (bc.offset !== bytes.length) throw new bare.BareError(bc.offset, "remaining bytes")
    const w = new bare.ByteCursor(new Uint8Array(64), bare.Config({}))
    s.codec[`write${name}`](w, v)
    return [...new Uint8Array(w.view.buffer, w.view.byteOffset, w.offset)]
}
const mismatch = new Set()
function vectors(s, names, perType, fileSeed) {
    seed = fileSeed
    symbols = s.syms
    recursive = s.legacy
    const list = []
    for (const name of names) {
        const seen = new Set()
        for (let i = 0; i < perType * 4 && seen.size < perType; i++) {
            const b = gen(s.syms.get(name).type, s.legacy ? 5 : 3)
            const enc = roundTrip(s, name, b)
            if (hex(enc) !== hex(b)) {
                // bare-ts does not give back what it read: such a value is not a vector of it
                if (!mismatch.has(name)) console.warn(`${name}: bare-ts re-encodes ${hex(b)} as ${hex(enc)}: skipped`)
                mismatch.add(name)
                continue
            }
            if (seen.has(hex(enc))) continue
            seen.add(hex(enc))
            list.push({ type: name, hex: hex(enc) })
        }
    }
    return list
}
const pkg = JSON.parse(readFileSync(`${here}package.json`, "utf8")).dependencies
function write(file, s, list, what) {
    let y = `# ${file}: ${what}.\n# Written by tests/vectors/gen.mjs with @bare-ts/tools ${pkg["@bare-ts/tools"]}` +
        ` and @bare-ts/lib ${pkg["@bare-ts/lib"]}; do not edit.\n` +
        `schema: ${s.path}\nvectors:\n`
    for (const v of list) {
        y += `- type: ${v.type}\n  hex: "${v.hex}"\n`
        if (v.why) y += `  why: ${v.why}\n`
    }
    writeFileSync(`${here}${file}`, y)
    console.log(`${file}: ${list.length} vectors`)
}

const proto = await load("proto", "schema/secure_exec_sidecar_v1.bare")
const feat = await load("features", "tests/vectors/features.bare")
// bare-ts writes no codec of a void type (it is only a union member)
const protoNames = proto.ast.defs.map((d) => d.alias).filter((n) => proto.codec[`read${n}`])
const half = Math.ceil(protoNames.length / 2)
write("protocol-1.yaml", proto, vectors(proto, protoNames.slice(0, half), 5, 11),
    "values of the first half of the protocol schema's types")
write("protocol-2.yaml", proto, vectors(proto, protoNames.slice(half), 5, 12),
    "values of the second half of the protocol schema's types")
write("features-scalars.yaml", feat, vectors(feat, ["Prims", "Floats", "Fixed", "Color", "Point"], 60, 13),
    "primitives, f32/f64 edge values, fixed data and lists, enums")
write("features-aggregates.yaml", feat, vectors(feat, ["Shape", "Nested", "Opts", "Lists", "Maps", "All"], 60, 14),
    "optionals, nested unions, lists, maps with every key type")
const rec = await load("recursive", "tests/vectors/legacy-recursive.bare", true)
write("legacy-recursive.yaml", rec, vectors(rec, ["Tree", "Lit", "Add", "Neg", "Expr", "Env"], 30, 16),
    "recursive types (schemac and bare-yaml need --legacy for this schema)")

// reject vectors: each must make bare-ts's decoder throw
function rejects() {
    const list = []
    const check = (s, type, bytes, why) => {
        try { roundTrip(s, type, bytes) } catch (e) {
            if (!(e instanceof bare.BareError) && !(e instanceof RangeError) && !(e instanceof TypeError))
                throw e
            list.push({ type, hex: hex(bytes), why, schema: s })
            return
        }
        throw new Error(`bare-ts accepted the reject vector ${type} ${hex(bytes)} (${why})`)
    }
    seed = 15
    symbols = feat.syms
    recursive = false
    for (let i = 0; i < 20; i++) {
        const b = gen(feat.syms.get("Prims").type, 3)
        check(feat, "Prims", b.slice(0, below(b.length)), "truncated")
        check(feat, "Prims", [...b, below(256)], "trailing byte")
    }
    for (const t of [8, 9, 199, 201, 0x7f]) check(feat, "Shape", [...uvarint(t), 0, 0, 0, 0, 0, 0, 0, 0], "unknown union tag")
    for (const t of [1, 2, 4, 7, 301]) check(feat, "Color", uvarint(t), "unknown enum value")
    check(feat, "Shape", [0x80, 0x00, 1, 0, 0, 0, 2, 0, 0, 0], "non-canonical varint tag")
    check(feat, "Color", [0x80, 0x00], "non-canonical varint")
    check(feat, "Color", [0x85, 0x80, 0x00], "non-canonical varint")
    for (const bad of [[0xff], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xc3]])
        check(feat, "Shape", [0xc8, 0x01, ...uvarint(bad.length), ...bad], "invalid UTF-8")
    for (const v of [2, 3, 0x80, 0xff]) {
        const p = gen(feat.syms.get("Prims").type, 3)
        // k (bool) follows a..j: find its offset by re-encoding the prefix fields
        const pre = roundTrip(feat, "Prims", p)
        const s = feat.codec.readPrims(new bare.ByteCursor(new Uint8Array(pre), bare.Config({})))
        const w = new bare.ByteCursor(new Uint8Array(64), bare.Config({}))
        s.k = false
        s.l = ""
        s.m = new ArrayBuffer(0)
        feat.codec.writePrims(w, s)
        const enc = [...new Uint8Array(w.view.buffer, 0, w.offset)]
        enc[enc.length - 3] = v // k, then l and m are one byte each (empty)
        check(feat, "Prims", enc, "bad bool byte")
    }
    check(feat, "Opts", [2], "bad optional byte")
    check(feat, "Maps", [2, 1, 1, 1, 2], "duplicate map key")
    check(proto, "ProtocolSchema", [0x05, 0x61], "truncated")
    check(proto, "OwnershipScope", [0x03, 0x00], "unknown union tag")
    return list
}
const rej = rejects()
let y = "# reject.yaml: byte strings that @bare-ts/lib's decoder refuses (checked by gen.mjs).\n" +
    `# Written by tests/vectors/gen.mjs with @bare-ts/tools ${pkg["@bare-ts/tools"]}` +
    ` and @bare-ts/lib ${pkg["@bare-ts/lib"]}; do not edit.\nreject:\n`
for (const v of rej) y += `- schema: ${v.schema.path}\n  type: ${v.type}\n  hex: "${v.hex}"\n  why: ${v.why}\n`
writeFileSync(`${here}reject.yaml`, y)
console.log(`reject.yaml: ${rej.length} vectors`)
