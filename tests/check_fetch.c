/*
 * check_fetch.c - VmFetch through the real sidecar: a Node HTTP server runs in the VM and the
 * host fetches from it: methods, paths and queries, headers both ways, text and binary bodies,
 * the responseJson the SDK parses, a slow server (other requests are answered meanwhile), one
 * that never answers (the timeout), no listener, bad requests, responses over the limit, a
 * DisposeVm while a fetch waits, and that a fetch reaches only its own VM's loopback.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "guest_fixture.h"

/* The guest server: one route per behaviour under test. Port in argv[1], its name in argv[2]. */
static const char SERVER[] =
    "const http = require('http');"
    "const port = +process.argv[1], name = process.argv[2] || 'vm';"
    "const srv = http.createServer((q, s) => {"
    "  const chunks = []; q.on('data', (c) => chunks.push(c));"
    "  s.on('error', () => {});"
    "  q.on('end', () => {"
    "    const u = q.url, body = Buffer.concat(chunks);"
    "    if (u.startsWith('/echo')) {"
    "      s.statusCode = 201; s.statusMessage = 'Made It';"
    "      s.setHeader('Content-Type', 'application/json');"
    "      s.setHeader('Set-Cookie', ['a=1', 'b=2']);"
    "      s.setHeader('X-Reply', 'caf\\u00e9 \"q\"');"
    "      s.end(JSON.stringify({name, method: q.method, url: u, headers: q.headers,"
    "                            raw: q.rawHeaders, body: body.toString('base64')}));"
    "    } else if (u === '/binary') {"
    "      const b = Buffer.alloc(256); for (let i = 0; i < 256; i++) b[i] = i; s.end(b);"
    "    } else if (u === '/dup') {"
    "      s.writeHead(200, ['X-Dup', 'one', 'x-dup', 'two', 'Set-Cookie', 'c=3',"
    "                        'Set-Cookie', 'd=4']); s.end('dup');"
    "    } else if (u === '/trailers') {"
    "      s.writeHead(200, {'Trailer': 'X-Sum'}); s.write('data');"
    "      s.addTrailers({'X-Sum': 'abc'}); s.end();"
    "    } else if (u === '/slow') {"
    "      setTimeout(() => s.end('slow done'), 1500);"
    "    } else if (u === '/never') {"
    "    } else if (u.startsWith('/big')) {"
    "      s.end(Buffer.alloc(+u.slice(5), 97));"
    "    } else if (u === '/stream') {"
    "      const chunk = Buffer.alloc(65536, 98); let open = true;"
    "      s.on('close', () => { open = false; });"
    "      const w = () => { while (open && s.write(chunk)); if (open) s.once('drain', w); };"
    "      w();"
    "    } else if (u === '/nothing') {"
    "      q.socket.destroy();"
    "    } else { s.statusCode = 404; s.end('nope ' + u); }"
    "  });"
    "});"
    "srv.listen(port, () => console.log('listening'));";

/* Starts the server as process id on port; waits until it listens. */
static void serve(const char *vm, const char *id, const char *port, const char *name)
{
    const char *args[] = {"-e", SERVER, port, name, NULL};
    exec_opts_t o = cmd("node", args);
    ck_assert_int_eq(execute(vm, id, &o, NULL), SE_OK);
    result_t r = {0};
    r.code = -1;
    wait_output(id, &r, "listening\n");
    result_free(&r);
}

static void fill_fetch(sx_request_payload_t *p, int port, const char *method, const char *path,
                       const char *headers, const char *body, size_t body_len)
{
    memset(p, 0, sizeof *p);
    p->tag = SX_REQUEST_PAYLOAD_TAG_VM_FETCH_REQUEST;
    sx_vm_fetch_request_t *f = &p->u.vm_fetch_request;
    f->port = (uint16_t)port;
    f->method = bare_str_from_cstr(method);
    f->path = bare_str_from_cstr(path);
    f->headers_json = bare_str_from_cstr(headers);
    if (body) {
        f->body.present = true;
        f->body.value = (bare_str_t){body, body_len};
    }
}

/* A VmFetch; SE_OK with the response in *r, or SE_REJECTED (rej_code, rej_msg). */
static int fetch(const char *vm, int port, const char *method, const char *path,
                 const char *headers, const char *body, sx_response_frame_t *r)
{
    sx_request_payload_t p;
    fill_fetch(&p, port, method, path, headers, body, body ? strlen(body) : 0);
    return vm_call(vm, &p, r);
}

/* A fetch that must succeed: its responseJson, parsed. */
static json_t *fetch_json(const char *vm, int port, const char *method, const char *path,
                          const char *headers, const char *body)
{
    sx_response_frame_t r;
    int st = fetch(vm, port, method, path, headers, body, &r);
    ck_assert_msg(st == SE_OK, "fetch %s %s: %s: %s %s", method, path, se_strerror(st), rej_code,
                  rej_msg);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_FETCH_RESPONSE);
    bare_str_t s = r.payload.u.vm_fetch_response.response_json;
    json_error_t err;
    json_t *j = json_loadb(s.ptr, s.len, 0, &err);
    ck_assert_msg(j != NULL, "responseJson is not JSON: %s", err.text);
    return j;
}

/* The body of a responseJson, decoded (NUL-terminated, malloc'd); its length in *n. */
static char *body_of(json_t *j, size_t *n)
{
    ck_assert_str_eq(json_string_value(json_object_get(j, "bodyEncoding")), "base64");
    const char *b = json_string_value(json_object_get(j, "body"));
    ck_assert_ptr_nonnull(b);
    size_t len = strlen(b), at;
    char *out = malloc(len / 4 * 3 + 1);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(sc_base64_decode(b, len, (uint8_t *)out, n, &at), SC_BASE64_OK);
    out[*n] = '\0';
    return out;
}

/* The body the guest's /echo saw (base64 in its "body"), decoded; its length in *n. */
static char *echoed_body(json_t *seen, size_t *n)
{
    json_t *j =
        json_pack("{s:O, s:s}", "body", json_object_get(seen, "body"), "bodyEncoding", "base64");
    char *out = body_of(j, n);
    json_decref(j);
    return out;
}

/* The value of name in a [[name, value], ...] list; NULL when absent. */
static const char *pair(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (strcmp(json_string_value(json_array_get(e, 0)), name) == 0)
            return json_string_value(json_array_get(e, 1));
    }
    return NULL;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A sidecar with extra environment and arguments (the fixture's start() has neither). */
static void start_with(const char *env_extra, const char *const *args)
{
    const char *env[] = {"PATH=/usr/bin:/bin", env_extra, NULL};
    char err[256];
    int logfd = getenv("CHECK_EXEC_LOGS") ? 2 : open("/dev/null", O_WRONLY | O_CLOEXEC);
    se_client_options_t opt = {SIDECAR_PATH, args, env, logfd, 0};
    c = se_client_spawn(&opt, err, sizeof err);
    if (logfd != 2)
        close(logfd);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(se_client_authenticate(c, "fetch", "t", T), SE_OK);
    ck_assert_int_eq(se_client_open_session(c, T), SE_OK);
}

START_TEST(get_with_headers_and_query)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "8080", "one");
    json_t *j =
        fetch_json(vm, 8080, "GET", "echo/x y?a=1&b=\"c d\"#frag",
                   "{\"X-Test\": \"v1\", \"X-Multi\": [\"a\", \"b\"], \"X-Empty\": \"\"}", NULL);
    /* the response: status, reason, headers as [[lower-case name, value]] and raw */
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 201);
    ck_assert_str_eq(json_string_value(json_object_get(j, "statusText")), "Made It");
    json_t *h = json_object_get(j, "headers");
    ck_assert_str_eq(pair(h, "content-type"), "application/json");
    ck_assert_str_eq(pair(h, "x-reply"), "caf\xc3\xa9 \"q\"");
    /* each set-cookie a pair of its own */
    int cookies = 0;
    size_t i;
    json_t *e;
    json_array_foreach(h, i, e)
    {
        if (strcmp(json_string_value(json_array_get(e, 0)), "set-cookie") == 0)
            cookies++;
    }
    ck_assert_int_eq(cookies, 2);
    json_t *raw = json_object_get(j, "rawHeaders");
    ck_assert(json_is_array(raw) && json_array_size(raw) >= 2);
    ck_assert_str_eq(json_string_value(json_array_get(raw, 0)), "Content-Type");
    ck_assert(json_is_true(json_object_get(j, "connectionEnded")));
    ck_assert(json_is_false(json_object_get(j, "connectionReset")));
    /* what the guest saw */
    size_t n;
    char *body = body_of(j, &n);
    json_t *seen = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(seen);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "method")), "GET");
    ck_assert_str_eq(json_string_value(json_object_get(seen, "url")),
                     "/echo/x%20y?a=1&b=%22c%20d%22");
    json_t *sh = json_object_get(seen, "headers");
    ck_assert_str_eq(json_string_value(json_object_get(sh, "x-test")), "v1");
    ck_assert_str_eq(json_string_value(json_object_get(sh, "x-multi")), "a, b");
    ck_assert_str_eq(json_string_value(json_object_get(sh, "x-empty")), "");
    ck_assert_str_eq(json_string_value(json_object_get(sh, "host")), "127.0.0.1:8080");
    /* nothing curl would add on its own */
    ck_assert_ptr_null(json_object_get(sh, "accept"));
    ck_assert_ptr_null(json_object_get(sh, "expect"));
    ck_assert_ptr_null(json_object_get(sh, "user-agent"));
    ck_assert_ptr_null(json_object_get(sh, "content-length"));
    json_decref(seen);
    free(body);
    json_decref(j);
    /* an empty method is GET, an empty path is / */
    j = fetch_json(vm, 8080, "", "", "{}", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 404);
    body = body_of(j, &n);
    ck_assert_str_eq(body, "nope /");
    free(body);
    json_decref(j);
    /* '\' is '/', dot segments go, as the reference's URL parser makes them */
    j = fetch_json(vm, 8080, "GET", "/a\\b/../c", "{}", NULL);
    body = body_of(j, &n);
    ck_assert_str_eq(body, "nope /a/c");
    free(body);
    json_decref(j);
    /* repeated headers are joined, set-cookie lines are not */
    j = fetch_json(vm, 8080, "GET", "/dup", "{}", NULL);
    h = json_object_get(j, "headers");
    ck_assert_str_eq(pair(h, "x-dup"), "one, two");
    raw = json_object_get(j, "rawHeaders");
    ck_assert_str_eq(json_string_value(json_array_get(raw, 0)), "X-Dup");
    ck_assert_str_eq(json_string_value(json_array_get(raw, 1)), "one, two");
    cookies = 0;
    json_array_foreach(h, i, e)
    {
        if (strcmp(json_string_value(json_array_get(e, 0)), "set-cookie") == 0)
            cookies++;
    }
    ck_assert_int_eq(cookies, 2);
    json_decref(j);
    /* trailers */
    j = fetch_json(vm, 8080, "GET", "/trailers", "{}", NULL);
    body = body_of(j, &n);
    ck_assert_str_eq(body, "data");
    free(body);
    ck_assert_str_eq(pair(json_object_get(j, "trailers"), "x-sum"), "abc");
    ck_assert_ptr_null(pair(json_object_get(j, "headers"), "x-sum"));
    json_decref(j);
    /* HEAD: no body is waited for */
    j = fetch_json(vm, 8080, "HEAD", "/echo", "{}", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 201);
    ck_assert_str_eq(json_string_value(json_object_get(j, "body")), "");
    json_decref(j);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(post_with_body)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "3000", "one");
    json_t *j = fetch_json(vm, 3000, "POST", "/echo", "{\"content-type\": \"text/plain\"}",
                           "hello w\xc3\xb6rld");
    size_t n, m;
    char *body = body_of(j, &n);
    json_t *seen = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(seen);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "method")), "POST");
    json_t *sh = json_object_get(seen, "headers");
    ck_assert_str_eq(json_string_value(json_object_get(sh, "content-type")), "text/plain");
    ck_assert_str_eq(json_string_value(json_object_get(sh, "content-length")), "12");
    char *sent = echoed_body(seen, &m);
    ck_assert_uint_eq(m, 12);
    ck_assert_str_eq(sent, "hello w\xc3\xb6rld");
    free(sent);
    json_decref(seen);
    free(body);
    json_decref(j);
    /* a Content-Length of the host's is curl's to write; no form type is made up */
    j = fetch_json(vm, 3000, "PUT", "/echo", "{\"Content-Length\": \"999\"}", "abc");
    body = body_of(j, &n);
    seen = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(seen);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "method")), "PUT");
    sh = json_object_get(seen, "headers");
    ck_assert_str_eq(json_string_value(json_object_get(sh, "content-length")), "3");
    ck_assert_ptr_null(json_object_get(sh, "content-type"));
    sent = echoed_body(seen, &m);
    ck_assert_str_eq(sent, "abc");
    free(sent);
    json_decref(seen);
    free(body);
    json_decref(j);
    /* an empty body and any method token */
    j = fetch_json(vm, 3000, "DELETE", "/echo", "{}", "");
    body = body_of(j, &n);
    seen = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "method")), "DELETE");
    ck_assert_str_eq(json_string_value(json_object_get(seen, "body")), "");
    json_decref(seen);
    free(body);
    json_decref(j);
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(binary_body)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "8080", "one");
    json_t *j = fetch_json(vm, 8080, "GET", "/binary", "{}", NULL);
    size_t n;
    char *body = body_of(j, &n);
    ck_assert_uint_eq(n, 256);
    for (int i = 0; i < 256; i++)
        ck_assert_int_eq((unsigned char)body[i], i);
    free(body);
    json_decref(j);
    vm_dispose(vm);
    stop();
}
END_TEST

/* A fetch to a slow server waits without holding anything else up. */
START_TEST(slow_server_blocks_nothing)
{
    char vm[64], other[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    vm_new("{" ALLOW_ALL "}", other);
    serve(vm, "srv", "8080", "one");
    sx_request_payload_t p;
    sx_ownership_scope_t own;
    sx_protocol_frame_t f;
    fill_fetch(&p, 8080, "GET", "/slow", "{}", NULL, 0);
    se_client_vm_scope(c, vm, &own);
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f.u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f.u.request_frame.schema.version = 7;
    f.u.request_frame.request_id = 9001;
    f.u.request_frame.ownership = own;
    f.u.request_frame.payload = p;
    long long t0 = now_ms();
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    /* meanwhile: a process runs to its end in the other VM, a fetch to the same server is
     * answered, and a snapshot of the first VM */
    int code;
    ck_assert_str_eq(sh(other, "echo meanwhile", &code), "meanwhile\n");
    json_t *j = fetch_json(vm, 8080, "GET", "/echo", "{}", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), 201);
    json_decref(j);
    sx_response_frame_t r;
    memset(&p, 0, sizeof p);
    p.tag = SX_REQUEST_PAYLOAD_TAG_GET_PROCESS_SNAPSHOT_REQUEST;
    ck_assert_int_eq(vm_call(vm, &p, &r), SE_OK);
    long long t1 = now_ms();
    ck_assert_int_eq(se_client_wait_response(c, 9001, 0, &r), SE_TIMEOUT);
    ck_assert_msg(t1 - t0 < 1400, "the other requests took %lld ms", t1 - t0);
    ck_assert_int_eq(se_client_wait_response(c, 9001, T, &r), SE_OK);
    long long t2 = now_ms();
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_VM_FETCH_RESPONSE);
    bare_str_t s = r.payload.u.vm_fetch_response.response_json;
    j = json_loadb(s.ptr, s.len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    size_t n;
    char *body = body_of(j, &n);
    ck_assert_str_eq(body, "slow done");
    free(body);
    json_decref(j);
    ck_assert_msg(t2 - t0 >= 1400, "the slow answer came after %lld ms", t2 - t0);
    vm_dispose(vm);
    vm_dispose(other);
    stop();
}
END_TEST

START_TEST(never_answers_times_out)
{
    char vm[64];
    start_with("SECURE_EXEC_SIDECAR_FETCH_TIMEOUT_MS=1500", NULL);
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "8080", "one");
    sx_response_frame_t r;
    long long t0 = now_ms();
    expect_rejection(fetch(vm, 8080, "GET", "/never", "{}", NULL, &r), "execution_error",
                     "vm.fetch to port 8080 timed out after 1500 ms");
    long long dt = now_ms() - t0;
    ck_assert_msg(dt >= 1400 && dt < 10000, "timed out after %lld ms", dt);
    /* the server is still there and serves the next one */
    json_t *j = fetch_json(vm, 8080, "GET", "/echo", "{}", NULL);
    json_decref(j);
    /* a server that closes the connection without answering */
    expect_rejection(fetch(vm, 8080, "GET", "/nothing", "{}", NULL, &r), "execution_error",
                     "vm.fetch to port 8080 failed: ");
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(bad_timeout_variable)
{
    const char *env[] = {"PATH=/usr/bin:/bin", "SECURE_EXEC_SIDECAR_FETCH_TIMEOUT_MS=0", NULL};
    char err[256];
    int logfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    se_client_options_t opt = {SIDECAR_PATH, NULL, env, logfd, 0};
    se_client_t *s = se_client_spawn(&opt, err, sizeof err);
    close(logfd);
    ck_assert_ptr_nonnull(s);
    int status = se_client_close(s, T);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}
END_TEST

START_TEST(no_listener)
{
    char vm[64];
    sx_response_frame_t r;
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    /* no guest has run: the VM has no network namespace yet */
    expect_rejection(fetch(vm, 8080, "GET", "/", "{}", NULL, &r), "execution_error",
                     "vm.fetch could not find a guest HTTP listener on port 8080");
    ck_assert_str_eq(rej_msg, "vm.fetch could not find a guest HTTP listener on port 8080");
    /* a guest ran; nothing listens on the port */
    int code;
    sh(vm, "true", &code);
    expect_rejection(fetch(vm, 8080, "GET", "/", "{}", NULL, &r), "execution_error",
                     "vm.fetch could not find a guest HTTP listener on port 8080");
    /* the host's own loopback is another namespace: a host listener is not reached */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in sa;
    socklen_t salen = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&sa, &salen), 0);
    int port = ntohs(sa.sin_port);
    char want[96];
    snprintf(want, sizeof want, "vm.fetch could not find a guest HTTP listener on port %d", port);
    expect_rejection(fetch(vm, port, "GET", "/", "{}", NULL, &r), "execution_error", want);
    close(ls);
    /* the VM's own listener on a port is not another VM's */
    char other[64];
    vm_new("{" ALLOW_ALL "}", other);
    serve(vm, "srv", "8080", "one");
    sh(other, "true", &code);
    expect_rejection(fetch(other, 8080, "GET", "/", "{}", NULL, &r), "execution_error",
                     "vm.fetch could not find a guest HTTP listener on port 8080");
    vm_dispose(other);
    vm_dispose(vm);
    /* a disposed VM is unknown */
    expect_rejection(fetch(vm, 8080, "GET", "/", "{}", NULL, &r), "invalid_state",
                     "unknown sidecar VM");
    stop();
}
END_TEST

/* Two VMs serve the same port: each fetch reaches its own VM (never a reused connection). */
START_TEST(each_vm_its_own_port)
{
    char a[64], b[64];
    start();
    vm_new("{" ALLOW_ALL "}", a);
    vm_new("{" ALLOW_ALL "}", b);
    serve(a, "srv", "8080", "alpha");
    serve(b, "srv", "8080", "beta");
    for (int i = 0; i < 3; i++) {
        const char *vm = i % 2 ? b : a;
        json_t *j = fetch_json(vm, 8080, "GET", "/echo", "{}", NULL);
        size_t n;
        char *body = body_of(j, &n);
        json_t *seen = json_loads(body, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(seen, "name")),
                         i % 2 ? "beta" : "alpha");
        json_decref(seen);
        free(body);
        json_decref(j);
    }
    vm_dispose(a);
    vm_dispose(b);
    stop();
}
END_TEST

START_TEST(bad_requests)
{
    char vm[64];
    sx_response_frame_t r;
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "8080", "one");
    expect_rejection(fetch(vm, 8080, "GET", "/", "not json", NULL, &r), "invalid_state",
                     "vm.fetch headers_json must be valid JSON: ");
    expect_rejection(fetch(vm, 8080, "GET", "/", "", NULL, &r), "invalid_state",
                     "vm.fetch headers_json must be valid JSON: ");
    expect_rejection(fetch(vm, 8080, "GET", "/", "[\"a\"]", NULL, &r), "invalid_state",
                     "vm.fetch headers_json must be valid JSON: expected a JSON object");
    expect_rejection(fetch(vm, 8080, "GET", "/", "{\"a\": 1}", NULL, &r), "invalid_state",
                     "vm.fetch headers header a must be a string or string array");
    expect_rejection(fetch(vm, 8080, "GET", "/", "{\"a\": [\"x\", 2]}", NULL, &r), "invalid_state",
                     "vm.fetch headers header a must contain only strings");
    expect_rejection(fetch(vm, 8080, "GET", "/", "{\"bad name\": \"x\"}", NULL, &r),
                     "invalid_state", "is not a valid HTTP header name");
    expect_rejection(fetch(vm, 8080, "GET", "/", "{\"X-A\": \"v\\r\\nX-Injected: 1\"}", NULL, &r),
                     "invalid_state", "vm.fetch headers header X-A has a value with a control");
    expect_rejection(fetch(vm, 8080, "GET", "/", "{\"X-A\": [\"ok\", \"v\\n\"]}", NULL, &r),
                     "invalid_state", "control character");
    expect_rejection(fetch(vm, 8080, "GET / HTTP/1.1\r\nX:", "/", "{}", NULL, &r), "invalid_state",
                     "is not an HTTP method");
    /* a path cannot reach the request line: control bytes are dropped or escaped */
    json_t *j = fetch_json(vm, 8080, "GET", "/echo\r\nX-Injected: 1\r\n\r\n", "{}", NULL);
    size_t n;
    char *body = body_of(j, &n);
    json_t *seen = json_loads(body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(seen, "url")), "/echoX-Injected:%201");
    ck_assert_ptr_null(json_object_get(json_object_get(seen, "headers"), "x-injected"));
    json_decref(seen);
    free(body);
    json_decref(j);
    /* the server is unharmed */
    j = fetch_json(vm, 8080, "GET", "/echo", "{}", NULL);
    json_decref(j);
    /* scopes: a session scope is refused */
    sx_request_payload_t p;
    sx_ownership_scope_t own;
    fill_fetch(&p, 8080, "GET", "/", "{}", NULL, 0);
    se_client_session_scope(c, &own);
    ck_assert_int_eq(se_client_call(c, &own, &p, T, &r), SE_OK);
    ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
    ck_assert(bare_str_eq_cstr(r.payload.u.rejected_response.code, "invalid_state"));
    vm_dispose(vm);
    stop();
}
END_TEST

START_TEST(response_limits)
{
    char vm[64];
    sx_response_frame_t r;
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "8080", "one");
    /* 700 KiB of body is about 933 KiB of base64: it fits */
    json_t *j = fetch_json(vm, 8080, "GET", "/big/716800", "{}", NULL);
    size_t n;
    char *body = body_of(j, &n);
    ck_assert_uint_eq(n, 716800);
    free(body);
    json_decref(j);
    /* 800 KiB does not */
    expect_rejection(fetch(vm, 8080, "GET", "/big/819200", "{}", NULL, &r), "frame_too_large",
                     "vm.fetch response from port 8080 is larger than its limit");
    /* an endless response is cut off, not buffered */
    long long t0 = now_ms();
    expect_rejection(fetch(vm, 8080, "GET", "/stream", "{}", NULL, &r), "frame_too_large",
                     "the transfer was aborted");
    ck_assert_msg(now_ms() - t0 < 10000, "took %lld ms", now_ms() - t0);
    /* and the server goes on */
    j = fetch_json(vm, 8080, "GET", "/binary", "{}", NULL);
    json_decref(j);
    vm_dispose(vm);
    stop();
}
END_TEST

/* With maxFrameBytes below 1 MiB, the response frame must fit it. */
START_TEST(response_within_max_frame)
{
    char vm[64], cfg[] = "/tmp/fetch-cfg.XXXXXX";
    sx_response_frame_t r;
    int fd = mkstemp(cfg);
    ck_assert_int_ge(fd, 0);
    const char text[] = "maxFrameBytes: 65536\n";
    ck_assert_int_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    const char *args[] = {"--config", cfg, NULL};
    start_with("X=1", args);
    unlink(cfg);
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "8080", "one");
    json_t *j = fetch_json(vm, 8080, "GET", "/big/40000", "{}", NULL);
    json_decref(j);
    expect_rejection(fetch(vm, 8080, "GET", "/big/60000", "{}", NULL, &r), "frame_too_large",
                     "is larger than its limit of");
    vm_dispose(vm);
    stop();
}
END_TEST

/* DisposeVm answers a waiting fetch and frees it. */
START_TEST(dispose_while_pending)
{
    char vm[64];
    start();
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv", "8080", "one");
    sx_request_payload_t p;
    sx_ownership_scope_t own;
    sx_protocol_frame_t f;
    sx_response_frame_t r;
    se_client_vm_scope(c, vm, &own);
    memset(&f, 0, sizeof f);
    f.tag = SX_PROTOCOL_FRAME_TAG_REQUEST_FRAME;
    f.u.request_frame.schema.name = bare_str_from_cstr("secure-exec-sidecar");
    f.u.request_frame.schema.version = 7;
    f.u.request_frame.ownership = own;
    for (int i = 0; i < 3; i++) {
        fill_fetch(&p, 8080, "GET", "/never", "{}", NULL, 0);
        f.u.request_frame.request_id = 7000 + i;
        f.u.request_frame.payload = p;
        ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    }
    msleep(300);
    vm_dispose(vm);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(se_client_wait_response(c, 7000 + i, T, &r), SE_OK);
        ck_assert_int_eq(r.payload.tag, SX_RESPONSE_PAYLOAD_TAG_REJECTED_RESPONSE);
        ck_assert(bare_str_eq_cstr(r.payload.u.rejected_response.code, "execution_error"));
        ck_assert(strstr(r.payload.u.rejected_response.message.ptr, "being disposed"));
    }
    /* a fetch pending when the host goes away ends with the sidecar */
    vm_new("{" ALLOW_ALL "}", vm);
    serve(vm, "srv2", "8080", "one"); /* "srv" of the disposed VM ends meanwhile */
    se_client_vm_scope(c, vm, &own);
    f.u.request_frame.ownership = own;
    f.u.request_frame.request_id = 7100;
    fill_fetch(&p, 8080, "GET", "/never", "{}", NULL, 0);
    f.u.request_frame.payload = p;
    ck_assert_int_eq(se_client_send_frame(c, &f), SE_OK);
    msleep(200);
    stop();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *t = tcase_create("fetch");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, get_with_headers_and_query);
    tcase_add_test(t, post_with_body);
    tcase_add_test(t, binary_body);
    tcase_add_test(t, slow_server_blocks_nothing);
    tcase_add_test(t, never_answers_times_out);
    tcase_add_test(t, bad_timeout_variable);
    tcase_add_test(t, no_listener);
    tcase_add_test(t, each_vm_its_own_port);
    tcase_add_test(t, bad_requests);
    tcase_add_test(t, response_limits);
    tcase_add_test(t, response_within_max_frame);
    tcase_add_test(t, dispose_while_pending);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
