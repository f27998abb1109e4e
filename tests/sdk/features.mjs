#!/usr/bin/env node
/*
 * tests/sdk/features.mjs - the public API of the published Secure Exec TypeScript SDK
 * (`secure-exec` / `@secure-exec/core` 0.3.0-rc.1, built by ../shared/tools/refsdk/run.sh)
 * driven against a sidecar binary, as an SDK user would call it.
 *
 *   REFHOST_WORKDIR=/work/refwork SECURE_EXEC_SIDECAR_BIN=build/secure-exec-sidecar \
 *       node tests/sdk/features.mjs
 *
 * It needs node >= 20, a sidecar that can run guests (as root), and the refsdk work directory
 * set up by ../shared/tools/refsdk/run.sh (REFHOST_WORKDIR=DIR run.sh ... extracts, installs
 * and builds packages/core and packages/secure-exec there and keeps them). The SDK is loaded
 * from $REFHOST_WORKDIR (default: the directory above this script when it holds the SDK, as
 * in run.sh's copy, else /work/refwork); SECURE_EXEC_SIDECAR_BIN is the SDK's own override
 * of the sidecar it spawns.
 *
 * Checks, one line each, `PASS name` or `FAIL name: reason`, then
 * `sdk-features: N passed, N failed, N skipped (S s)`; exit 0 only when nothing failed
 * (2 when the setup is missing):
 *   NodeRuntime.create() and dispose() (the sidecar exits); exec: stdout, stderr, the exit
 *   code of a failing program, stdin/env/cwd/onStdout; run: the __return value and console
 *   output, a failing program; spawn: streamed stdout/stderr while running, stdin, kill
 *   (SIGTERM default, a handled SIGTERM, SIGKILL); writeFile/readFile: a nested path whose
 *   parents do not exist, binary content both ways, a missing file; fetch: a guest
 *   node:http server started with spawn, GET with a header, POST with a body, the error for
 *   a port without a listener, waitForListener (network.inspect granted); tools: the `tools`
 *   create option and registerTools on a live runtime, invoked from a guest through
 *   node:child_process, stdout {"ok":true,"result":...}, a host tool error, schema
 *   violations; mounts: a host directory read-only and one read-write through the mounts
 *   option, guest reads and writes, refused writes, the writes visible on the host; and
 *   `localhost` resolving in a guest (dns, node:http, fetch).
 *
 * Every check has a timeout (a hang is a FAIL) and its own runtime(s) and temporary
 * directories, disposed and removed whatever happens; sidecars that outlive their check are
 * killed (SIGKILL, by pid, only the ones this script's SDK spawned).
 *
 * env: SDKCHECK_ONLY (or REFHOST_ONLY)  regex: run only the checks whose names match
 *      SDKCHECK_TIMEOUT_SCALE            multiply every timeout (slow or sanitizer builds)
 *      SDKCHECK_TRACE=1                  on a FAIL, also print the sidecar's rejections of the
 *                                        check (needs $REFHOST_WORKDIR/refhost/trace.mjs)
 */
import assert from "node:assert/strict";
import childProcess from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const startedAt = Date.now();
const here = path.dirname(fileURLToPath(import.meta.url));

function setupError(message) {
	console.error(`sdk-features: ${message}`);
	process.exit(2);
}

if (Number(process.versions.node.split(".")[0]) < 20) setupError("node >= 20 is needed");

// ---- where the SDK and the sidecar are ----
const sdkEntry = (dir) => path.join(dir, "packages/secure-exec/dist/index.js");
const workdir = path.resolve(
	process.env.REFHOST_WORKDIR ||
		(fs.existsSync(sdkEntry(path.join(here, ".."))) ? path.join(here, "..") : "/work/refwork"),
);
if (!fs.existsSync(sdkEntry(workdir)))
	setupError(
		`no built SDK at ${sdkEntry(workdir)}: set REFHOST_WORKDIR to a work directory set up by ` +
			"../shared/tools/refsdk/run.sh (REFHOST_WORKDIR=DIR MIRROR_GITDIR=... run.sh SIDECAR_BIN)",
	);
if (!process.env.SECURE_EXEC_SIDECAR_BIN) setupError("set SECURE_EXEC_SIDECAR_BIN to the sidecar binary");
const sidecarBin = path.resolve(process.env.SECURE_EXEC_SIDECAR_BIN);
try {
	fs.accessSync(sidecarBin, fs.constants.X_OK);
} catch {
	setupError(`not an executable: ${sidecarBin}`);
}
process.env.SECURE_EXEC_SIDECAR_BIN = sidecarBin; // absolute, whatever the cwd
// The guest commands NodeRuntime registers (run.sh writes stand-ins for the reference's WASM
// builds; the sidecar runs the host's programs of those names).
const commandsDir = path.join(workdir, "registry/native/target/wasm32-wasip1/release/commands");
if (!process.env.SECURE_EXEC_WASM_COMMANDS_DIR && fs.existsSync(commandsDir))
	process.env.SECURE_EXEC_WASM_COMMANDS_DIR = commandsDir;

const only = process.env.SDKCHECK_ONLY || process.env.REFHOST_ONLY;
const onlyRe = only ? new RegExp(only) : null;
const scale = Number(process.env.SDKCHECK_TIMEOUT_SCALE || 1) || 1;

// ---- every sidecar the SDK spawns, so none outlives this script ----
const sidecars = []; // ChildProcess
const realSpawn = childProcess.spawn;
childProcess.spawn = function (command, ...rest) {
	const child = realSpawn.call(this, command, ...rest);
	if (command === sidecarBin) sidecars.push(child);
	return child;
};
syncBuiltinESMExports(); // the SDK's `import { spawn } from "node:child_process"` sees it

let trace = null;
if (process.env.SDKCHECK_TRACE === "1") {
	const tracePath = path.join(workdir, "refhost/trace.mjs");
	if (fs.existsSync(tracePath)) trace = await import(pathToFileURL(tracePath).href);
	else console.error(`sdk-features: SDKCHECK_TRACE=1 but there is no ${tracePath}`);
}

const { NodeRuntime } = await import(pathToFileURL(sdkEntry(workdir)).href);

const alive = (child) => child.exitCode === null && child.signalCode === null;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tmpRoot = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "sdk-features-")));

function killSidecars(list) {
	for (const child of list) if (alive(child)) child.kill("SIGKILL");
}
function finalCleanup() {
	killSidecars(sidecars);
	fs.rmSync(tmpRoot, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"])
	process.on(sig, () => {
		finalCleanup();
		process.exit(128 + os.constants.signals[sig]);
	});

// An exception the SDK throws outside any promise fails the running check, not the script.
let crashCurrent = null;
process.on("uncaughtException", (error) => {
	if (crashCurrent) crashCurrent(error);
	else console.error(`sdk-features: uncaught exception between checks: ${error?.stack ?? error}`);
});
process.on("unhandledRejection", () => {}); // the leftovers of timed-out checks

// ---- the harness ----
function withTimeout(promise, ms, what) {
	let timer;
	return Promise.race([
		promise,
		new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
		}),
	]).finally(() => clearTimeout(timer));
}

class Context {
	constructor() {
		this.cleanups = [];
	}
	defer(fn) {
		this.cleanups.push(fn);
	}
	async runtime(options) {
		const rt = await NodeRuntime.create(options);
		this.defer(() => rt.dispose());
		return rt;
	}
	tmpdir(name) {
		const dir = fs.mkdtempSync(path.join(tmpRoot, `${name}-`));
		this.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
		return dir;
	}
	/** spawn() with its output collected; killed (SIGKILL) at cleanup if still running. */
	async spawn(rt, code, options = {}) {
		const stdout = new Collector();
		const stderr = new Collector();
		const proc = await rt.spawn(code, {
			...options,
			onStdout: (chunk) => stdout.push(chunk),
			onStderr: (chunk) => stderr.push(chunk),
		});
		this.defer(async () => {
			if (proc.exitCode === null) {
				proc.kill("SIGKILL");
				await withTimeout(proc.wait(), 5000, "wait after SIGKILL").catch(() => {});
			}
		});
		return { proc, stdout, stderr };
	}
}

class Collector {
	constructor() {
		this.decoder = new TextDecoder();
		this.text = "";
		this.chunks = 0;
		this.waiters = [];
	}
	push(chunk) {
		this.chunks++;
		this.text += this.decoder.decode(chunk, { stream: true });
		this.waiters = this.waiters.filter((w) => !w.test());
	}
	/** resolves when the text so far contains `needle` */
	waitFor(needle, ms, what = JSON.stringify(needle)) {
		return withTimeout(
			new Promise((resolve) => {
				const w = { test: () => (this.text.includes(needle) ? (resolve(), true) : false) };
				if (!w.test()) this.waiters.push(w);
			}),
			ms,
			`waiting for ${what} (output so far: ${JSON.stringify(this.text.slice(-300))})`,
		);
	}
}

const checks = [];
function check(name, timeoutMs, fn) {
	checks.push({ name, timeoutMs, fn });
}

function reasonOf(error) {
	let text = error instanceof Error ? error.message : String(error);
	if (error instanceof assert.AssertionError && error.generatedMessage === false && error.actual !== undefined)
		text += ` (actual: ${JSON.stringify(error.actual)?.slice(0, 300)})`;
	return text.replace(/\s*\n\s*/g, " | ").slice(0, 700);
}

async function runCheck({ name, timeoutMs, fn }) {
	const ctx = new Context();
	const firstSidecar = sidecars.length;
	const firstFrame = trace ? trace.frames.length : 0;
	let failure = null;
	try {
		await withTimeout(
			Promise.race([
				fn(ctx),
				new Promise((_, reject) => {
					crashCurrent = reject;
				}),
			]),
			Math.round(timeoutMs * scale),
			"check",
		);
	} catch (error) {
		failure = error;
	} finally {
		crashCurrent = null;
	}
	// cleanups in reverse order, each bounded; a failing cleanup fails a passing check
	for (const cleanup of ctx.cleanups.reverse()) {
		try {
			await withTimeout(Promise.resolve().then(cleanup), 15000 * scale, "cleanup");
		} catch (error) {
			failure ??= new Error(`cleanup: ${reasonOf(error)}`);
		}
	}
	const mine = sidecars.slice(firstSidecar);
	for (let i = 0; i < 40 && mine.some(alive); i++) await sleep(50);
	killSidecars(mine);
	if (failure) {
		console.log(`FAIL ${name}: ${reasonOf(failure)}`);
		if (trace)
			for (const r of trace.frames.slice(firstFrame).filter((f) => f.payload === "RejectedResponse")) {
				const req = trace.requestFor(r);
				console.log(`  trace: ${req ? `${req.payload}${req.detail ? ` ${req.detail}` : ""}` : "?"} -> ${r.detail}`);
			}
		return false;
	}
	console.log(`PASS ${name}`);
	return true;
}

// ---- guest programs ----
// A guest program here is an async function of this file, serialized and called in the VM
// with a JSON argument; it prints its JSON result on a marked line. (Only its own source
// travels: it must import what it uses with await import().)
const MARK = "@@sdk-features-result@@";
function guestProgram(fn, arg = null) {
	return `const __result = await (${fn.toString()})(${JSON.stringify(arg)});\nconsole.log(${JSON.stringify(MARK)} + JSON.stringify(__result));\n`;
}
async function guest(rt, fn, arg = null, options = {}) {
	const r = await rt.exec(guestProgram(fn, arg), options);
	const line = r.stdout.split("\n").find((l) => l.startsWith(MARK));
	if (r.exitCode !== 0 || line === undefined)
		throw new Error(`guest program failed: exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout.slice(-300))}, stderr ${JSON.stringify(r.stderr.slice(-500))}`);
	return JSON.parse(line.slice(MARK.length));
}

/** in a guest: run each [command, args] with spawnSync and report status, stdout, stderr */
async function guestRunTools(invocations) {
	const { spawnSync } = await import("node:child_process");
	return invocations.map(([command, args]) => {
		const r = spawnSync(command, args, { encoding: "utf8", timeout: 20000 });
		return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, error: r.error?.code ?? null };
	});
}

function parseToolStdout(out) {
	try {
		return JSON.parse(out.stdout);
	} catch {
		throw new Error(`tool stdout is not JSON: ${JSON.stringify(out)}`);
	}
}

// ---- NodeRuntime.create / dispose ----
check("create-dispose", 30000, async (ctx) => {
	const before = sidecars.length;
	const rt = await NodeRuntime.create();
	let disposed = false;
	ctx.defer(() => (disposed ? undefined : rt.dispose()));
	assert.equal(sidecars.length, before + 1, "NodeRuntime.create() spawns one sidecar");
	const sidecar = sidecars[before];
	assert.ok(alive(sidecar), "the sidecar runs while the runtime is live");
	const r = await rt.exec(`console.log("alive", 6 * 7);`);
	assert.deepEqual(r, { stdout: "alive 42\n", stderr: "", exitCode: 0 });
	await rt.dispose();
	disposed = true;
	for (let i = 0; i < 100 && alive(sidecar); i++) await sleep(50);
	assert.ok(!alive(sidecar), "the sidecar has exited 5 s after dispose()");
	assert.equal(sidecar.exitCode, 0, `the sidecar exits 0 after dispose() (signal ${sidecar.signalCode})`);
	await assert.rejects(rt.exec(`console.log(1)`), "exec after dispose() rejects");
});

// ---- exec ----
check("exec-stdout-stderr", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const r = await rt.exec(
		`console.log("to stdout"); console.error("to stderr"); process.stdout.write("tail ✓ no newline");`,
	);
	assert.deepEqual(r, { stdout: "to stdout\ntail ✓ no newline", stderr: "to stderr\n", exitCode: 0 });
});

check("exec-exit-code", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const r = await rt.exec(`console.log("before exit"); console.error("failing on purpose"); process.exit(3);`);
	assert.deepEqual(r, { stdout: "before exit\n", stderr: "failing on purpose\n", exitCode: 3 });
	const thrown = await rt.exec(`throw new Error("boom-uncaught-42");`);
	assert.equal(thrown.exitCode, 1, `an uncaught exception exits 1 (stderr ${JSON.stringify(thrown.stderr)})`);
	assert.match(thrown.stderr, /boom-uncaught-42/);
	const syntax = await rt.exec(`this is not javascript(`);
	assert.notEqual(syntax.exitCode, 0, "a syntax error fails");
	assert.match(syntax.stderr, /SyntaxError/);
});

check("exec-options", 30000, async (ctx) => {
	const rt = await ctx.runtime({ env: { VM_LEVEL: "vm" } });
	const chunks = [];
	const r = await rt.exec(
		`let input = ""; process.stdin.setEncoding("utf8");
		 process.stdin.on("data", (c) => (input += c));
		 process.stdin.on("end", () => console.log(JSON.stringify({ input, vm: process.env.VM_LEVEL, run: process.env.RUN_LEVEL, cwd: process.cwd() })));`,
		{ stdin: "line one\nline two ✓\n", env: { RUN_LEVEL: "run" }, cwd: "/tmp", onStdout: (c) => chunks.push(c) },
	);
	assert.equal(r.exitCode, 0, `exit code (stderr ${JSON.stringify(r.stderr)})`);
	assert.deepEqual(JSON.parse(r.stdout), { input: "line one\nline two ✓\n", vm: "vm", run: "run", cwd: "/tmp" });
	assert.equal(Buffer.concat(chunks.map((c) => Buffer.from(c))).toString(), r.stdout, "onStdout chunks make stdout");
});

// ---- run ----
check("run-value", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const r = await rt.run(`
		import os from "node:os";
		const x = await Promise.resolve(20);
		console.log("log line", x);
		console.error("warn line");
		__return({ sum: x + 22, list: [1, "two", null, true], nested: { ok: true, text: "ünïcode ✓" }, platform: os.platform() });
	`);
	assert.deepEqual(r, {
		stdout: "log line 20\n",
		stderr: "warn line\n",
		exitCode: 0,
		value: { sum: 42, list: [1, "two", null, true], nested: { ok: true, text: "ünïcode ✓" }, platform: "linux" },
	});
	const none = await rt.run(`console.log("no value");`);
	assert.deepEqual(none, { stdout: "no value\n", stderr: "", exitCode: 0, value: undefined });
	const scalar = await rt.run(`__return(7);`);
	assert.equal(scalar.value, 7);
});

check("run-failure", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const r = await rt.run(`console.log("partial"); throw new Error("run-failed-here");`);
	assert.equal(r.exitCode, 1, "exit code");
	assert.equal(r.stdout, "partial\n");
	assert.match(r.stderr, /run-failed-here/);
	assert.equal(r.value, undefined, "no value from a failed run");
	const exited = await rt.run(`__return({ early: true }); process.exit(5);`);
	assert.equal(exited.exitCode, 5);
	assert.equal(exited.value, undefined, "no value unless the run succeeds");
});

// ---- spawn ----
check("spawn-stream", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const { proc, stdout, stderr } = await ctx.spawn(
		rt,
		`console.log("first out"); console.error("first err");
		 let n = 0; const t = setInterval(() => console.log("tick " + ++n), 100);`,
	);
	assert.equal(typeof proc.pid, "number", "a pid");
	await stdout.waitFor("first out", 10000);
	await stderr.waitFor("first err", 10000);
	await stdout.waitFor("tick 3", 10000);
	assert.equal(proc.exitCode, null, "output streams while the process runs");
	assert.ok(stdout.chunks >= 2, `several stdout chunks (${stdout.chunks})`);
	proc.kill();
	assert.equal(await withTimeout(proc.wait(), 10000, "wait()"), 143);
});

check("spawn-stdin", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const { proc, stdout } = await ctx.spawn(
		rt,
		`import readline from "node:readline";
		 const rl = readline.createInterface({ input: process.stdin });
		 console.log("ready");
		 rl.on("line", (l) => console.log("got:" + l.toUpperCase()));
		 rl.on("close", () => { console.log("stdin closed"); process.exit(7); });`,
	);
	await stdout.waitFor("ready", 10000);
	proc.writeStdin("hello\n");
	await stdout.waitFor("got:HELLO", 10000);
	proc.writeStdin(new TextEncoder().encode("wörld\nthird"));
	await stdout.waitFor("got:WÖRLD", 10000);
	proc.closeStdin();
	assert.equal(await withTimeout(proc.wait(), 10000, "wait() after closeStdin()"), 7);
	assert.equal(proc.exitCode, 7);
	assert.equal(stdout.text, "ready\ngot:HELLO\ngot:WÖRLD\ngot:THIRD\nstdin closed\n");
});

check("spawn-kill", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const term = await ctx.spawn(rt, `console.log("up"); setInterval(() => {}, 1000);`);
	await term.stdout.waitFor("up", 10000);
	term.proc.kill();
	assert.equal(await withTimeout(term.proc.wait(), 10000, "wait() after kill()"), 143, "kill() sends SIGTERM");

	const handled = await ctx.spawn(
		rt,
		`process.on("SIGTERM", () => { console.log("caught SIGTERM"); process.exit(42); });
		 console.log("handler set"); setInterval(() => {}, 1000);`,
	);
	await handled.stdout.waitFor("handler set", 10000);
	handled.proc.kill("SIGTERM");
	assert.equal(await withTimeout(handled.proc.wait(), 10000, "wait() after kill(SIGTERM)"), 42);
	assert.match(handled.stdout.text, /caught SIGTERM/);

	const stubborn = await ctx.spawn(
		rt,
		`process.on("SIGTERM", () => {}); console.log("ignoring TERM"); setInterval(() => {}, 1000);`,
	);
	await stubborn.stdout.waitFor("ignoring TERM", 10000);
	stubborn.proc.kill("SIGKILL");
	assert.equal(await withTimeout(stubborn.proc.wait(), 10000, "wait() after kill(SIGKILL)"), 137);
});

// ---- writeFile / readFile ----
check("fs-nested-path", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const file = "/home/user/sdk-check/deep/er/est/note.txt";
	await rt.writeFile(file, "nested ✓\n");
	assert.equal(new TextDecoder().decode(await rt.readFile(file)), "nested ✓\n");
	const seen = await guest(
		rt,
		async ({ file }) => {
			const fs = await import("node:fs");
			const path = await import("node:path");
			const out = { text: fs.readFileSync(file, "utf8"), dirs: [] };
			for (let d = path.dirname(file); d !== "/home/user"; d = path.dirname(d)) out.dirs.push(fs.statSync(d).isDirectory());
			fs.mkdirSync("/tmp/from-guest/a/b", { recursive: true });
			fs.writeFileSync("/tmp/from-guest/a/b/out.txt", "written by the guest");
			return out;
		},
		{ file },
	);
	assert.deepEqual(seen, { text: "nested ✓\n", dirs: [true, true, true, true] });
	assert.equal(new TextDecoder().decode(await rt.readFile("/tmp/from-guest/a/b/out.txt")), "written by the guest");
});

check("fs-binary", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const data = new Uint8Array(256 * 1024); // every byte value, then a deterministic mix (no valid UTF-8)
	for (let i = 0; i < data.length; i++) data[i] = i < 256 ? i : (i * 2654435761) >>> 24;
	data.set([0xff, 0xfe, 0xc3, 0x28, 0x00, 0x80], 256);
	const sha = (b) => createHash("sha256").update(b).digest("hex");
	await rt.writeFile("/home/user/bin/data.bin", data);
	const back = await rt.readFile("/home/user/bin/data.bin");
	assert.ok(back instanceof Uint8Array, "readFile gives a Uint8Array");
	assert.equal(back.length, data.length, "length");
	assert.equal(sha(back), sha(data), "the bytes read back are the bytes written");
	const seen = await guest(rt, async () => {
		const fs = await import("node:fs");
		const { createHash } = await import("node:crypto");
		const b = fs.readFileSync("/home/user/bin/data.bin");
		fs.writeFileSync("/home/user/bin/guest.bin", Buffer.from([0, 1, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0, 10, 13]));
		return { length: b.length, sha: createHash("sha256").update(b).digest("hex"), first: [...b.subarray(0, 4)] };
	});
	assert.deepEqual(seen, { length: data.length, sha: sha(data), first: [0, 1, 2, 3] });
	assert.deepEqual([...(await rt.readFile("/home/user/bin/guest.bin"))], [0, 1, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0, 10, 13]);
});

check("fs-missing-file", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	await assert.rejects(rt.readFile("/home/user/does/not/exist.txt"), /ENOENT/);
});

// ---- fetch ----
// The guest server answers with what it received, as JSON, and an echo of x-sdk-check.
const SERVER = `
import http from "node:http";
http.createServer((req, res) => {
	const chunks = [];
	req.on("data", (c) => chunks.push(c));
	req.on("end", () => {
		const body = Buffer.concat(chunks).toString("utf8");
		res.writeHead(req.url === "/missing" ? 404 : 200, {
			"Content-Type": "application/json",
			"X-Echo": req.headers["x-sdk-check"] ?? "none",
		});
		res.end(JSON.stringify({ method: req.method, url: req.url, header: req.headers["x-sdk-check"] ?? null,
			contentType: req.headers["content-type"] ?? null, body }));
	});
}).listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
`;
async function startServer(ctx, rt, port) {
	const server = await ctx.spawn(rt, SERVER, { env: { PORT: String(port) } });
	await server.stdout.waitFor("listening", 15000, "the guest server to listen").catch((e) => {
		throw new Error(`${e.message}; stderr ${JSON.stringify(server.stderr.text.slice(-400))}`);
	});
	return server;
}

check("fetch-get-header", 45000, async (ctx) => {
	const rt = await ctx.runtime();
	await startServer(ctx, rt, 8080);
	const res = await rt.fetch(8080, { path: "/hello?x=1&y=two", headers: { "X-SDK-Check": "header-value-42" } });
	assert.equal(res.status, 200, "status");
	assert.equal(res.statusText, "OK");
	assert.equal(res.headers["content-type"], "application/json");
	assert.equal(res.headers["x-echo"], "header-value-42", "the response header echoes the request header");
	assert.deepEqual(JSON.parse(res.body), {
		method: "GET",
		url: "/hello?x=1&y=two",
		header: "header-value-42",
		contentType: null,
		body: "",
	});
	const missing = await rt.fetch(8080, { path: "/missing" });
	assert.equal(missing.status, 404);
	assert.equal(missing.statusText, "Not Found");
});

check("fetch-post-body", 45000, async (ctx) => {
	const rt = await ctx.runtime();
	await startServer(ctx, rt, 8080);
	const body = JSON.stringify({ text: "posted body ✓", n: [1, 2, 3] });
	const res = await rt.fetch(8080, { method: "POST", path: "/submit", headers: { "content-type": "application/json" }, body });
	assert.equal(res.status, 200, "status");
	assert.deepEqual(JSON.parse(res.body), {
		method: "POST",
		url: "/submit",
		header: null,
		contentType: "application/json",
		body,
	});
	const bytes = await rt.fetch(8080, { method: "PUT", path: "/bytes", body: new TextEncoder().encode("as bytes") });
	assert.equal(JSON.parse(bytes.body).body, "as bytes", "a Uint8Array body");
});

check("fetch-no-listener", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	await startServer(ctx, rt, 8080); // the VM has a live network, but nothing on 8081
	await assert.rejects(rt.fetch(8081, { path: "/" }), (error) => {
		assert.match(error.message, /8081/, "the error names the port");
		assert.match(error.message, /listener|ECONNREFUSED|refused/i);
		return true;
	});
	const ok = await rt.fetch(8080, { path: "/still-fine" });
	assert.equal(ok.status, 200, "the VM still serves fetches after the failed one");
});

check("fetch-waitForListener", 45000, async (ctx) => {
	// FindListener needs network `inspect` (as in the reference); egress stays denied.
	const rt = await ctx.runtime({
		permissions: { network: { default: "deny", rules: [{ mode: "allow", operations: ["inspect"], patterns: ["**"] }] } },
	});
	assert.equal(rt.findListener({ port: 9090 }), null, "no listener before the server starts");
	const server = await ctx.spawn(rt, SERVER, { env: { PORT: "9090" } });
	const listener = await rt.waitForListener({ port: 9090 }, { timeoutMs: 15000 });
	assert.equal(listener.port, 9090);
	assert.equal(typeof listener.processId, "string");
	const res = await rt.fetch(listener.port, { path: "/after-wait" });
	assert.equal(res.status, 200);
	server.proc.kill();
	await server.proc.wait();
});

// ---- tools ----
function echoTool(calls) {
	return {
		description: "Echo a message back with its number doubled",
		inputSchema: {
			type: "object",
			properties: { msg: { type: "string" }, n: { type: "number" } },
			required: ["msg"],
			additionalProperties: false,
		},
		handler: async (input) => {
			calls.push(input);
			return { echo: input.msg, doubled: (input.n ?? 0) * 2 };
		},
	};
}

check("tools-create-option", 30000, async (ctx) => {
	const calls = [];
	const rt = await ctx.runtime({ tools: { "sdk-echo": echoTool(calls) } });
	const [json, flags] = await guest(rt, guestRunTools, [
		["sdk-echo", ["sdk-echo", "--json", JSON.stringify({ msg: "hi ✓", n: 21 })]],
		["sdk-echo", ["sdk-echo", "--msg", "from flags", "--n", "4"]],
	]);
	assert.equal(json.status, 0, `--json exits 0 (${JSON.stringify(json)})`);
	assert.deepEqual(parseToolStdout(json), { ok: true, result: { echo: "hi ✓", doubled: 42 } });
	assert.equal(flags.status, 0, `flags exit 0 (${JSON.stringify(flags)})`);
	assert.deepEqual(parseToolStdout(flags), { ok: true, result: { echo: "from flags", doubled: 8 } });
	assert.deepEqual(calls, [{ msg: "hi ✓", n: 21 }, { msg: "from flags", n: 4 }], "the host handler got the inputs");
});

check("tools-error", 30000, async (ctx) => {
	const rt = await ctx.runtime({
		tools: {
			"sdk-fail": {
				description: "Always fails on the host",
				inputSchema: { type: "object", properties: {} },
				handler: () => {
					throw new Error("host tool exploded: 42");
				},
			},
		},
	});
	const [out] = await guest(rt, guestRunTools, [["sdk-fail", ["sdk-fail"]]]);
	assert.equal(out.status, 1, `a tool error exits 1 (${JSON.stringify(out)})`);
	assert.equal(out.stdout, "", "nothing on stdout");
	assert.match(out.stderr, /host tool exploded: 42/, "the host's error on stderr");
});

check("tools-schema-violation", 30000, async (ctx) => {
	const calls = [];
	const rt = await ctx.runtime({ tools: { "sdk-echo": echoTool(calls) } });
	const [wrongType, missing, extra] = await guest(rt, guestRunTools, [
		["sdk-echo", ["sdk-echo", "--json", JSON.stringify({ msg: 5 })]],
		["sdk-echo", ["sdk-echo", "--json", JSON.stringify({ n: 1 })]],
		["sdk-echo", ["sdk-echo", "--json", JSON.stringify({ msg: "x", other: true })]],
	]);
	for (const [what, out] of [["wrong type", wrongType], ["missing required", missing], ["extra property", extra]]) {
		assert.equal(out.status, 1, `${what} exits 1 (${JSON.stringify(out)})`);
		assert.equal(out.stdout, "", `${what}: nothing on stdout`);
		assert.ok(out.stderr.trim().length > 0, `${what}: a reason on stderr`);
	}
	assert.match(wrongType.stderr, /msg/, "the wrong-type reason names the property");
	assert.deepEqual(calls, [], "the host handler is never called");
});

check("tools-registerTools", 30000, async (ctx) => {
	const calls = [];
	const rt = await ctx.runtime({ permissions: { tool: "allow" } });
	const [before] = await guest(rt, guestRunTools, [["sdk-late", ["sdk-late", "--msg", "x"]]]);
	assert.ok(before.status !== 0 || before.error, `no such command before registerTools (${JSON.stringify(before)})`);
	await rt.registerTools({ "sdk-late": { ...echoTool(calls), commandAliases: ["sdk-late-alias"] } });
	const viaShell = await guest(rt, async () => {
		const { exec } = await import("node:child_process");
		return new Promise((resolve) =>
			exec(`sdk-late sdk-late --msg "via shell" --n 5`, (error, stdout, stderr) =>
				resolve({ code: error?.code ?? 0, stdout, stderr }),
			),
		);
	});
	assert.equal(viaShell.code, 0, `exit 0 (${JSON.stringify(viaShell)})`);
	assert.deepEqual(JSON.parse(viaShell.stdout), { ok: true, result: { echo: "via shell", doubled: 10 } });
	const [alias] = await guest(rt, guestRunTools, [["sdk-late-alias", ["sdk-late", "--msg", "alias"]]]);
	assert.equal(alias.status, 0, `the alias exits 0 (${JSON.stringify(alias)})`);
	assert.deepEqual(parseToolStdout(alias), { ok: true, result: { echo: "alias", doubled: 0 } });
	assert.deepEqual(calls, [{ msg: "via shell", n: 5 }, { msg: "alias" }]);
});

// ---- mounts ----
check("mounts-read-only", 30000, async (ctx) => {
	const host = ctx.tmpdir("ro");
	fs.mkdirSync(path.join(host, "sub"));
	fs.writeFileSync(path.join(host, "hello.txt"), "read-only host file\n");
	fs.writeFileSync(path.join(host, "sub/inner.bin"), Buffer.from([1, 2, 3, 0xff]));
	fs.chmodSync(host, 0o777); // writable to the guest's uid on the host: only the mount refuses
	const rt = await ctx.runtime({ mounts: [{ guestPath: "/mnt/ro", hostPath: host, readOnly: true }] });
	const seen = await guest(rt, async () => {
		const fs = await import("node:fs");
		const attempt = (fn) => {
			try {
				fn();
				return "written";
			} catch (e) {
				return e.code;
			}
		};
		return {
			text: fs.readFileSync("/mnt/ro/hello.txt", "utf8"),
			inner: [...fs.readFileSync("/mnt/ro/sub/inner.bin")],
			list: fs.readdirSync("/mnt/ro").sort(),
			create: attempt(() => fs.writeFileSync("/mnt/ro/new.txt", "x")),
			overwrite: attempt(() => fs.writeFileSync("/mnt/ro/hello.txt", "x")),
			mkdir: attempt(() => fs.mkdirSync("/mnt/ro/newdir")),
			unlink: attempt(() => fs.unlinkSync("/mnt/ro/hello.txt")),
		};
	});
	assert.equal(seen.text, "read-only host file\n");
	assert.deepEqual(seen.inner, [1, 2, 3, 0xff]);
	assert.deepEqual(seen.list, ["hello.txt", "sub"]);
	for (const op of ["create", "overwrite", "mkdir", "unlink"])
		assert.ok(["EROFS", "EACCES", "EPERM"].includes(seen[op]), `guest ${op} in the read-only mount is refused (${seen[op]})`);
	assert.equal(new TextDecoder().decode(await rt.readFile("/mnt/ro/hello.txt")), "read-only host file\n", "SDK readFile");
	await assert.rejects(rt.writeFile("/mnt/ro/sdk.txt", "x"), /EROFS|EACCES|read-only/i, "SDK writeFile is refused");
	assert.deepEqual(fs.readdirSync(host).sort(), ["hello.txt", "sub"], "nothing new on the host");
	assert.equal(fs.readFileSync(path.join(host, "hello.txt"), "utf8"), "read-only host file\n", "the host file is unchanged");
});

check("mounts-read-write", 30000, async (ctx) => {
	const host = ctx.tmpdir("rw");
	fs.writeFileSync(path.join(host, "existing.txt"), "from the host\n");
	// The guest runs as uid 1000 mapped to an unused host id, and host files keep their owners
	// and modes (man secure-exec-sidecar, Mounts): the directory must be writable to others.
	fs.chmodSync(host, 0o777);
	const rt = await ctx.runtime({ mounts: [{ guestPath: "/mnt/rw", hostPath: host, readOnly: false }] });
	const seen = await guest(rt, async () => {
		const fs = await import("node:fs");
		const existing = fs.readFileSync("/mnt/rw/existing.txt", "utf8");
		fs.writeFileSync("/mnt/rw/guest.txt", "written by the guest ✓\n");
		fs.mkdirSync("/mnt/rw/made/by/guest", { recursive: true });
		fs.writeFileSync("/mnt/rw/made/by/guest/data.bin", Buffer.from([0, 0xff, 7]));
		fs.renameSync("/mnt/rw/guest.txt", "/mnt/rw/renamed.txt");
		return { existing, list: fs.readdirSync("/mnt/rw").sort() };
	});
	assert.deepEqual(seen, { existing: "from the host\n", list: ["existing.txt", "made", "renamed.txt"] });
	assert.equal(fs.readFileSync(path.join(host, "renamed.txt"), "utf8"), "written by the guest ✓\n", "the guest's file on the host");
	assert.deepEqual([...fs.readFileSync(path.join(host, "made/by/guest/data.bin"))], [0, 0xff, 7], "the guest's nested file on the host");
	assert.ok(!fs.existsSync(path.join(host, "guest.txt")), "the rename shows on the host");
	await rt.writeFile("/mnt/rw/sdk/written.txt", "by SDK writeFile");
	assert.equal(fs.readFileSync(path.join(host, "sdk/written.txt"), "utf8"), "by SDK writeFile", "SDK writeFile lands on the host");
	fs.writeFileSync(path.join(host, "late.txt"), "written on the host while the VM runs");
	const late = await guest(rt, async () => (await import("node:fs")).readFileSync("/mnt/rw/late.txt", "utf8"));
	assert.equal(late, "written on the host while the VM runs", "a host write shows in the guest");
});

// ---- localhost ----
check("localhost", 30000, async (ctx) => {
	const rt = await ctx.runtime();
	const seen = await guest(rt, async () => {
		const dns = await import("node:dns");
		const http = await import("node:http");
		const addresses = await dns.promises.lookup("localhost", { all: true });
		const server = http.createServer((req, res) => res.end(`local ok ${req.url}`));
		await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
		const port = server.address().port;
		const viaHttp = await new Promise((resolve, reject) =>
			http
				.get(`http://localhost:${port}/http`, (res) => {
					let body = "";
					res.on("data", (c) => (body += c));
					res.on("end", () => resolve(body));
				})
				.on("error", (e) => reject(e)),
		);
		const viaFetch = await (await fetch(`http://localhost:${port}/fetch`)).text();
		server.close();
		return { addresses, viaHttp, viaFetch };
	});
	assert.ok(seen.addresses.length > 0, "localhost resolves");
	for (const a of seen.addresses)
		assert.ok(/^127\./.test(a.address) || a.address === "::1", `localhost is a loopback address (${a.address})`);
	assert.equal(seen.viaHttp, "local ok /http", "node:http to localhost");
	assert.equal(seen.viaFetch, "local ok /fetch", "fetch to localhost");
});

// ---- run them ----
let passed = 0;
let failed = 0;
let skipped = 0;
try {
	for (const c of checks) {
		if (onlyRe && !onlyRe.test(c.name)) {
			skipped++;
			continue;
		}
		if (await runCheck(c)) passed++;
		else failed++;
	}
} finally {
	finalCleanup();
}
const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
console.log(`sdk-features: ${passed} passed, ${failed} failed, ${skipped} skipped (${seconds} s; sidecar ${sidecarBin}; SDK ${workdir})`);
process.exit(failed === 0 ? 0 : 1);
