/*
 * fetch.c - VmFetch (fetch.h): the host's HTTP request to a guest server on the VM's loopback.
 *
 * The reference hands the request to its in-process guest HTTP bridge and blocks its loop for
 * up to 30 s. Here it is a real HTTP/1.1 request made with libcurl's multi interface, which the
 * sidecar's epoll loop drives: curl says which sockets to watch and when to wake it
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION), the loop tells it what happened
 * (curl_multi_socket_action), and the request is answered from there. Other requests and VMs
 * are served meanwhile.
 *
 * What keeps it inside the VM: curl's only socket is made in the VM's network namespace
 * (sc_vm_socket, CURLOPT_OPENSOCKETFUNCTION), whose only interface is the VM's loopback, for
 * the URL http://127.0.0.1:PORT/...; connections are never reused (another VM's port of the
 * same number is another socket), no proxy, no redirect, HTTP only. The guest's response is
 * untrusted: it is bounded while it arrives (the transfer is aborted past the limit), and
 * everything of it goes into the JSON escaped.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base64.h"
#include "fetch.h"
#include "log.h"
#include "sidecar.h"

/* A socket curl asked the loop to watch. */
typedef struct fetch_sock {
    struct fetch_sock *next;
    struct sc_fetcher *f;
    curl_socket_t fd;
    sc_watch_t *w;
} fetch_sock_t;

/* Header lines of the guest's response, as received (name and value bytes, NUL-terminated). */
typedef struct fetch_hdr {
    char *name, *value;
} fetch_hdr_t;

typedef struct fetch_hdrs {
    fetch_hdr_t *v;
    size_t n, cap;
} fetch_hdrs_t;

typedef struct fetch {
    struct fetch *next;
    struct sc_fetcher *f;
    sc_vm_t *vm;
    sc_deferred_t *reply;
    CURL *easy;
    struct curl_slist *req_headers;
    uint16_t port;
    size_t json_limit;  /* the largest responseJson that can be answered */
    size_t frame_limit; /* min(maxFrameBytes, SC_FETCH_LIMIT_BYTES) */
    size_t overhead;    /* the response frame's bytes besides the JSON and its length */
    /* the response */
    long status;
    char *status_text;
    fetch_hdrs_t hdrs, trailers;
    size_t lines;     /* header and trailer lines so far */
    bool final_block; /* the header block being read is the final response's (not a 1xx) */
    bool in_trailers; /* the final response's headers ended: what follows are trailers */
    uint8_t *body;
    size_t body_len, body_cap;
    size_t hdr_json; /* a lower bound of what the header lines take in the JSON */
    bool too_large;  /* aborted: the response would not fit */
    bool too_many;   /* aborted: more than SC_FETCH_MAX_HEADER_LINES */
    bool no_netns;   /* the VM had no network namespace when curl connected */
    char errbuf[CURL_ERROR_SIZE];
    char sockerr[160];
} fetch_t;

typedef struct sc_fetcher {
    sc_server_t *srv;
    CURLM *multi;
    sc_timer_t *timer;
    fetch_t *fetches;
    size_t nfetches;
    fetch_sock_t *socks;
} sc_fetcher_t;

/* ---- JSON text ---- */

typedef struct jbuf {
    char *p;
    size_t len, cap;
    bool oom;
} jbuf_t;

static char *jb_room(jbuf_t *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void jb_put(jbuf_t *b, const char *s, size_t n)
{
    char *d = jb_room(b, n);
    if (!d)
        return;
    memcpy(d, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void jb_cstr(jbuf_t *b, const char *s)
{
    jb_put(b, s, strlen(s));
}

/*
 * Header bytes in a JSON string. A value that is valid UTF-8 stays as it is (Node's http
 * writes its header strings so, and the reference hands the guest's strings over as they
 * are); any other is Latin-1, as HTTP has it (and Node's client reads it): 0x80..0xff become
 * two bytes of UTF-8. Quotes, backslashes and control bytes are escaped.
 */
static size_t json_byte_len(unsigned char c, bool utf8)
{
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        return 2;
    if (c < 0x20)
        return 6;
    return c >= 0x80 && !utf8 ? 2 : 1;
}

static size_t json_str_len(const char *s, size_t n)
{
    bool utf8 = bare_utf8_valid(s, n);
    size_t len = 2;
    for (size_t i = 0; i < n; i++)
        len += json_byte_len((unsigned char)s[i], utf8);
    return len;
}

/* s (n bytes) as a JSON string; ASCII letters lower-cased when lower. */
static void jb_str(jbuf_t *b, const char *s, size_t n, bool lower)
{
    static const char hex[] = "0123456789abcdef";
    bool utf8 = bare_utf8_valid(s, n);
    char *d = jb_room(b, json_str_len(s, n));
    if (!d)
        return;
    *d++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (lower && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        switch (c) {
        case '"':
        case '\\':
            *d++ = '\\';
            *d++ = (char)c;
            break;
        case '\b':
            *d++ = '\\';
            *d++ = 'b';
            break;
        case '\f':
            *d++ = '\\';
            *d++ = 'f';
            break;
        case '\n':
            *d++ = '\\';
            *d++ = 'n';
            break;
        case '\r':
            *d++ = '\\';
            *d++ = 'r';
            break;
        case '\t':
            *d++ = '\\';
            *d++ = 't';
            break;
        default:
            if (c < 0x20) {
                memcpy(d, "\\u00", 4);
                d[4] = hex[c >> 4];
                d[5] = hex[c & 15];
                d += 6;
            } else if (c >= 0x80 && !utf8) {
                *d++ = (char)(0xc0 | c >> 6);
                *d++ = (char)(0x80 | (c & 0x3f));
            } else {
                *d++ = (char)c;
            }
        }
    }
    *d++ = '"';
    b->len = (size_t)(d - b->p);
    b->p[b->len] = '\0';
}

/* ---- the response, as it arrives ---- */

static size_t b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Past the limit: abort (curl fails the transfer with CURLE_WRITE_ERROR). */
static bool over_limit(fetch_t *x, size_t body_len)
{
    if (x->hdr_json + b64_len(body_len) <= x->json_limit)
        return false;
    x->too_large = true;
    return true;
}

static void hdrs_free(fetch_hdrs_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    memset(h, 0, sizeof *h);
}

static int hdrs_add(fetch_hdrs_t *h, const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        fetch_hdr_t *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    char *n = strndup(name, nlen), *val = strndup(value, vlen);
    if (!n || !val) {
        free(n);
        free(val);
        return -1;
    }
    h->v[h->n].name = n;
    h->v[h->n].value = val;
    h->n++;
    return 0;
}

/* A folded line (obs-fold: it starts with a space or tab) continues the last value. */
static int hdrs_fold(fetch_hdrs_t *h, const char *more, size_t n)
{
    if (h->n == 0)
        return 0;
    fetch_hdr_t *last = &h->v[h->n - 1];
    size_t old = strlen(last->value);
    char *v = realloc(last->value, old + 1 + n + 1);
    if (!v)
        return -1;
    v[old] = ' ';
    memcpy(v + old + 1, more, n);
    v[old + 1 + n] = '\0';
    last->value = v;
    return 0;
}

/* One line of the response head (or of its trailers), CRLF included. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    fetch_t *x = ud;
    size_t len = size * n, all = len;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0 && !x->in_trailers) {
        /* a status line starts a response: the headers of a 1xx before it are dropped */
        hdrs_free(&x->hdrs);
        free(x->status_text);
        x->status_text = NULL;
        x->hdr_json = 0;
        const char *sp = memchr(p, ' ', len);
        long code = 0;
        const char *q = sp ? sp + 1 : p + len;
        while (q < p + len && *q >= '0' && *q <= '9' && code < 1000)
            code = code * 10 + (*q++ - '0');
        x->final_block = code >= 200;
        if (q < p + len && *q == ' ')
            q++;
        x->status_text = strndup(q, (size_t)(p + len - q));
        if (!x->status_text)
            return 0;
        x->hdr_json += json_str_len(x->status_text, strlen(x->status_text));
        return over_limit(x, x->body_len) ? 0 : all;
    }
    if (len == 0) {
        if (x->final_block)
            x->in_trailers = true;
        return all;
    }
    fetch_hdrs_t *h = x->in_trailers ? &x->trailers : &x->hdrs;
    if (++x->lines > SC_FETCH_MAX_HEADER_LINES) {
        x->too_many = true;
        return 0;
    }
    if (p[0] == ' ' || p[0] == '\t') {
        x->hdr_json += 2 * json_str_len(p, len);
        if (hdrs_fold(h, p, len) != 0)
            return 0;
        return over_limit(x, x->body_len) ? 0 : all;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return all; /* not a header: nothing to report */
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    /* each name and value appears twice (headers and rawHeaders), with their punctuation */
    x->hdr_json += 2 * (json_str_len(p, nlen) + json_str_len(v, (size_t)(end - v)) + 4);
    if (over_limit(x, x->body_len))
        return 0;
    if (hdrs_add(h, p, nlen, v, (size_t)(end - v)) != 0)
        return 0;
    return all;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    fetch_t *x = ud;
    size_t len = size * n;
    if (over_limit(x, x->body_len + len))
        return 0;
    if (x->body_len + len > x->body_cap) {
        size_t cap = x->body_cap ? x->body_cap : 16384;
        while (cap < x->body_len + len)
            cap *= 2;
        uint8_t *b = realloc(x->body, cap);
        if (!b)
            return 0;
        x->body = b;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, p, len);
    x->body_len += len;
    return len;
}

/* curl's socket: made in the VM's network namespace, for the VM's loopback only. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    fetch_t *x = ud;
    const struct sockaddr_in *sa = (const struct sockaddr_in *)&addr->addr;
    if (purpose != CURLSOCKTYPE_IPCXN || addr->family != AF_INET || addr->addrlen < sizeof *sa ||
        sa->sin_addr.s_addr != htonl(INADDR_LOOPBACK) || ntohs(sa->sin_port) != x->port) {
        snprintf(x->sockerr, sizeof x->sockerr, "curl asked for another socket than 127.0.0.1:%u",
                 x->port);
        return CURL_SOCKET_BAD;
    }
    int fd = sc_vm_socket(x->vm, SOCK_STREAM, x->sockerr, sizeof x->sockerr);
    if (fd < 0) {
        x->no_netns = true;
        return CURL_SOCKET_BAD;
    }
    return fd;
}

/* ---- finishing ---- */

static void fetch_free(fetch_t *x)
{
    sc_fetcher_t *f = x->f;
    for (fetch_t **pp = &f->fetches; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            f->nfetches--;
            break;
        }
    }
    if (x->easy) {
        curl_multi_remove_handle(f->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->req_headers);
    sc_deferred_free(x->reply); /* NULL once answered */
    hdrs_free(&x->hdrs);
    hdrs_free(&x->trailers);
    free(x->status_text);
    free(x->body);
    free(x);
}

static bool is_set_cookie(const char *name)
{
    return strcasecmp(name, "set-cookie") == 0;
}

/* headers: [[lower-case name, value], ...] with the values of one name joined by ", " (each
 * set-cookie a pair of its own); rawHeaders: [name, value, ...] the same way, under the first
 * spelling of each name. As the reference's guest bridge serializes a response. */
static void put_headers(jbuf_t *b, const fetch_hdrs_t *h, bool raw)
{
    jb_cstr(b, "[");
    bool first = true;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->v[i].name;
        bool cookie = is_set_cookie(name);
        bool seen = false;
        for (size_t j = 0; j < i && !cookie && !seen; j++)
            seen = strcasecmp(h->v[j].name, name) == 0;
        if (seen)
            continue; /* joined into the first one */
        if (!first)
            jb_cstr(b, ",");
        first = false;
        if (!raw)
            jb_cstr(b, "[");
        jb_str(b, name, strlen(name), !raw);
        jb_cstr(b, ",");
        if (cookie) {
            jb_str(b, h->v[i].value, strlen(h->v[i].value), false);
        } else {
            /* the value: this line's and those of later lines of the same name */
            jbuf_t v = {0};
            for (size_t j = i; j < h->n; j++) {
                if (strcasecmp(h->v[j].name, name) != 0)
                    continue;
                if (j > i)
                    jb_put(&v, ", ", 2);
                jb_cstr(&v, h->v[j].value);
            }
            jb_str(b, v.p ? v.p : "", v.len, false);
            b->oom = b->oom || v.oom;
            free(v.p);
        }
        if (!raw)
            jb_cstr(b, "]");
    }
    jb_cstr(b, "]");
}

/* trailers: [[lower-case name, value], ...] one pair a line; rawTrailers: [name, value, ...]. */
static void put_trailers(jbuf_t *b, const fetch_hdrs_t *h, bool raw)
{
    jb_cstr(b, "[");
    for (size_t i = 0; i < h->n; i++) {
        if (i)
            jb_cstr(b, ",");
        if (!raw)
            jb_cstr(b, "[");
        jb_str(b, h->v[i].name, strlen(h->v[i].name), !raw);
        jb_cstr(b, ",");
        jb_str(b, h->v[i].value, strlen(h->v[i].value), false);
        if (!raw)
            jb_cstr(b, "]");
    }
    jb_cstr(b, "]");
}

/*
 * The responseJson: the fields the reference's guest bridge writes (ServerResponseBridge
 * serialize) and the SDK's parseFetchResponse reads, plus the reason phrase as statusText
 * (which the SDK reads when present; the reference's own outbound HTTP JSON carries it too).
 */
static void build_json(fetch_t *x, jbuf_t *b)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", x->status);
    jb_cstr(b, "{\"status\":");
    jb_cstr(b, num);
    jb_cstr(b, ",\"statusText\":");
    jb_str(b, x->status_text ? x->status_text : "", x->status_text ? strlen(x->status_text) : 0,
           false);
    jb_cstr(b, ",\"headers\":");
    put_headers(b, &x->hdrs, false);
    jb_cstr(b, ",\"rawHeaders\":");
    put_headers(b, &x->hdrs, true);
    jb_cstr(b, ",\"body\":\"");
    char *d = jb_room(b, b64_len(x->body_len) + 1);
    if (d) {
        b->len += sc_base64_encode(x->body, x->body_len, d);
        b->p[b->len] = '\0';
    }
    jb_cstr(b, "\",\"bodyEncoding\":\"base64\"");
    if (x->trailers.n) {
        jb_cstr(b, ",\"trailers\":");
        put_trailers(b, &x->trailers, false);
        jb_cstr(b, ",\"rawTrailers\":");
        put_trailers(b, &x->trailers, true);
    }
    jb_cstr(b, ",\"connectionEnded\":true,\"connectionReset\":false}");
}

static void no_listener(sc_server_t *srv, fetch_t *x)
{
    sc_deferred_reject(srv, x->reply, "execution_error",
                       "vm.fetch could not find a guest HTTP listener on port %u", x->port);
    x->reply = NULL;
}

static void finish(fetch_t *x, CURLcode rc)
{
    sc_server_t *srv = x->f->srv;
    long oserr = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
    if (x->too_large) {
        sc_deferred_reject(srv, x->reply, "frame_too_large",
                           "vm.fetch response from port %u is larger than its limit of %zu "
                           "bytes of JSON (min(maxFrameBytes, %u)); the transfer was aborted",
                           x->port, x->json_limit, SC_FETCH_LIMIT_BYTES);
        x->reply = NULL;
    } else if (x->too_many) {
        sc_deferred_reject(srv, x->reply, "execution_error",
                           "vm.fetch response from port %u has more than %d header lines", x->port,
                           SC_FETCH_MAX_HEADER_LINES);
        x->reply = NULL;
    } else if (x->no_netns || rc == CURLE_COULDNT_CONNECT) {
        /* refused (nothing listens), or the VM lost its namespace (its supervisor ended) */
        sc_debug("%s: vm.fetch to port %u: %s", x->vm->id, x->port,
                 x->no_netns ? x->sockerr : strerror((int)oserr));
        no_listener(srv, x);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        sc_deferred_reject(srv, x->reply, "execution_error",
                           "vm.fetch to port %u timed out after %u ms waiting for the guest's "
                           "HTTP response",
                           x->port, srv->cfg.fetch_timeout_ms);
        x->reply = NULL;
    } else if (rc != CURLE_OK) {
        sc_deferred_reject(srv, x->reply, "execution_error", "vm.fetch to port %u failed: %s",
                           x->port, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        x->reply = NULL;
    } else {
        jbuf_t b = {0};
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        build_json(x, &b);
        size_t frame = x->overhead + bare_uint_size(b.len) + b.len;
        if (b.oom) {
            sc_deferred_reject(srv, x->reply, "execution_error",
                               "vm.fetch to port %u: out of memory", x->port);
        } else if (b.len > SC_FETCH_LIMIT_BYTES) {
            sc_deferred_reject(srv, x->reply, "frame_too_large",
                               "vm.fetch response is %zu bytes, limit is %u", b.len,
                               SC_FETCH_LIMIT_BYTES);
        } else if (frame > x->frame_limit) {
            sc_deferred_reject(srv, x->reply, "frame_too_large",
                               "vm.fetch response frame is %zu bytes, limit is %zu", frame,
                               x->frame_limit);
        } else {
            sx_response_payload_t p;
            memset(&p, 0, sizeof p);
            p.tag = SX_RESPONSE_PAYLOAD_TAG_VM_FETCH_RESPONSE;
            p.u.vm_fetch_response.response_json = (bare_str_t){b.p, b.len};
            sc_deferred_respond(srv, x->reply, &p);
        }
        x->reply = NULL;
        free(b.p);
    }
    fetch_free(x);
    sc_server_update_watches(srv);
}

/* Answers what curl finished. */
static void drain(sc_fetcher_t *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        fetch_t *x = NULL;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            finish(x, rc); /* m is invalid from here on */
    }
}

/* ---- the loop drives curl ---- */

static void on_timer(sc_loop_t *loop, sc_timer_t *t, void *ud)
{
    sc_fetcher_t *f = ud;
    int running;
    (void)loop;
    (void)t;
    f->timer = NULL; /* a fired timer frees itself */
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(f);
}

static void on_sock(sc_loop_t *loop, sc_watch_t *w, uint32_t events, void *ud)
{
    fetch_sock_t *s = ud;
    sc_fetcher_t *f = s->f; /* s may be freed by the call below */
    curl_socket_t fd = s->fd;
    int mask = 0, running;
    (void)loop;
    (void)w;
    if (events & (EPOLLIN | EPOLLHUP))
        mask |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(f->multi, fd, mask, &running);
    drain(f);
}

static void sock_free(sc_fetcher_t *f, fetch_sock_t *s)
{
    for (fetch_sock_t **pp = &f->socks; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    sc_loop_unwatch(f->srv->loop, s->w);
    free(s);
}

/* curl: watch s for what (or stop). */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
    sc_fetcher_t *f = ud;
    fetch_sock_t *s = sockp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_free(f, s);
        return 0;
    }
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    if (s)
        return sc_loop_modify(f->srv->loop, s->w, ev) == 0 ? 0 : -1;
    s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->f = f;
    s->fd = fd;
    s->w = sc_loop_watch(f->srv->loop, fd, ev, on_sock, s);
    if (!s->w) {
        free(s);
        return -1;
    }
    s->next = f->socks;
    f->socks = s;
    curl_multi_assign(f->multi, fd, s);
    return 0;
}

/* curl: call curl_multi_socket_action(CURL_SOCKET_TIMEOUT) in ms (-1: never). */
static int on_curl_timer(CURLM *multi, long ms, void *ud)
{
    sc_fetcher_t *f = ud;
    (void)multi;
    if (f->timer) {
        sc_loop_cancel(f->srv->loop, f->timer);
        f->timer = NULL;
    }
    if (ms < 0)
        return 0;
    f->timer = sc_loop_timer(f->srv->loop, (uint64_t)ms, on_timer, f);
    return f->timer ? 0 : -1;
}

static sc_fetcher_t *fetcher(sc_server_t *srv)
{
    if (srv->fetcher)
        return srv->fetcher;
    /* nothing of curl but HTTP over plain sockets: no TLS library to set up */
    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
        return NULL;
    sc_fetcher_t *f = calloc(1, sizeof *f);
    if (!f || !(f->multi = curl_multi_init())) {
        free(f);
        curl_global_cleanup();
        return NULL;
    }
    f->srv = srv;
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    srv->fetcher = f;
    return f;
}

/* ---- the request ---- */

/* An RFC 9110 token (method, header name). */
static bool is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c && strchr(extra, c))))
            return false;
    }
    return true;
}

/*
 * The request target as the reference's URL parser makes it of http://127.0.0.1:PORT + path
 * (WHATWG): a leading '/' added when missing, tabs and newlines removed, trailing controls and
 * spaces removed, '\' is '/' in the path, the fragment dropped, and what may not appear in a
 * request line percent-encoded. So nothing of path can break the request line.
 */
static char *request_target(bare_str_t path)
{
    size_t n = path.len;
    while (n > 0 && (unsigned char)path.ptr[n - 1] <= 0x20)
        n--;
    char *out = malloc(1 + 3 * n + 1);
    if (!out)
        return NULL;
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    bool query = false;
    if (n == 0 || path.ptr[0] != '/')
        out[k++] = '/';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path.ptr[i];
        if (c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == '#')
            break;
        if (c == '?' && !query) {
            query = true;
            out[k++] = '?';
            continue;
        }
        if (c == '\\' && !query)
            c = '/';
        bool enc = c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' ||
                   (query ? c == '\'' : (c == '`' || c == '{' || c == '}' || c == '^'));
        if (enc) {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        } else {
            out[k++] = (char)c;
        }
    }
    out[k] = '\0';
    return out;
}

/* Adds "Name: value" (or "Name;", curl's spelling of an empty value) to *list. */
static int add_header(struct curl_slist **list, const char *name, const char *value, size_t vlen)
{
    size_t nlen = strlen(name);
    char *line = malloc(nlen + 2 + vlen + 1);
    if (!line)
        return -1;
    memcpy(line, name, nlen);
    if (vlen == 0) {
        line[nlen] = ';';
        line[nlen + 1] = '\0';
    } else {
        memcpy(line + nlen, ": ", 2);
        memcpy(line + nlen + 2, value, vlen);
        line[nlen + 2 + vlen] = '\0';
    }
    struct curl_slist *l = curl_slist_append(*list, line);
    free(line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

/* A header value must not end the line or hide a control byte: no CR, LF, NUL or other
 * control but tab. */
static bool value_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/*
 * headersJson: a JSON object of name -> string or array of strings (the reference's
 * parse_http_header_collection), each name a token and each value clean. Content-Length is
 * curl's to write (from the body); curl's own Accept and Expect are left out, and its
 * form Content-Type of a body, unless the host sent them. 0, or -1 with a rejection.
 */
static int parse_headers(sc_req_t *req, bare_str_t text, bool body, struct curl_slist **out)
{
    json_error_t jerr;
    json_t *obj = json_loadb(text.ptr, text.len, 0, &jerr);
    bool accept = false, expect = false, ctype = false;
    if (!obj || !json_is_object(obj)) {
        if (obj)
            sc_reject(req, "invalid_state",
                      "vm.fetch headers_json must be valid JSON: expected a JSON object, found %s",
                      json_is_array(obj) ? "an array" : "another value");
        else
            sc_reject(req, "invalid_state",
                      "vm.fetch headers_json must be valid JSON: %s at line %d column %d",
                      jerr.text, jerr.line, jerr.column);
        json_decref(obj);
        return -1;
    }
    const char *name;
    json_t *val;
    json_object_foreach(obj, name, val)
    {
        size_t nlen = strlen(name);
        if (!is_token(name, nlen)) {
            sc_reject(req, "invalid_state",
                      "vm.fetch headers header '%.100s' is not a valid HTTP header name", name);
            goto fail;
        }
        size_t count = json_is_array(val) ? json_array_size(val) : 1;
        if (!json_is_string(val) && !json_is_array(val)) {
            sc_reject(req, "invalid_state",
                      "vm.fetch headers header %.100s must be a string or string array", name);
            goto fail;
        }
        for (size_t i = 0; i < count; i++) {
            json_t *s = json_is_array(val) ? json_array_get(val, i) : val;
            if (!json_is_string(s)) {
                sc_reject(req, "invalid_state",
                          "vm.fetch headers header %.100s must contain only strings", name);
                goto fail;
            }
            const char *v = json_string_value(s);
            size_t vlen = json_string_length(s);
            if (!value_ok(v, vlen)) {
                sc_reject(req, "invalid_state",
                          "vm.fetch headers header %.100s has a value with a control character "
                          "(CR, LF, NUL, ...)",
                          name);
                goto fail;
            }
            if (strcasecmp(name, "content-length") == 0)
                continue;
            accept = accept || strcasecmp(name, "accept") == 0;
            expect = expect || strcasecmp(name, "expect") == 0;
            ctype = ctype || strcasecmp(name, "content-type") == 0;
            if (add_header(out, name, v, vlen) != 0)
                goto oom;
        }
    }
    /* "Name:" removes a header curl would add on its own */
    if ((!accept && !(*out = curl_slist_append(*out, "Accept:"))) ||
        (!expect && !(*out = curl_slist_append(*out, "Expect:"))) ||
        (body && !ctype && !(*out = curl_slist_append(*out, "Content-Type:"))))
        goto oom;
    json_decref(obj);
    return 0;
oom:
    sc_reject(req, "invalid_state", "out of memory");
fail:
    json_decref(obj);
    return -1;
}

/* The bytes of the response frame besides responseJson's content and length. */
static size_t frame_overhead(const sc_req_t *req)
{
    sx_protocol_frame_t fr;
    bare_writer_t w;
    memset(&fr, 0, sizeof fr);
    fr.tag = SX_PROTOCOL_FRAME_TAG_RESPONSE_FRAME;
    fr.u.response_frame.schema.name = bare_str_from_cstr(SC_SCHEMA_NAME);
    fr.u.response_frame.schema.version = SC_SCHEMA_VERSION;
    fr.u.response_frame.request_id = req->id;
    fr.u.response_frame.ownership = *req->ownership;
    fr.u.response_frame.payload.tag = SX_RESPONSE_PAYLOAD_TAG_VM_FETCH_RESPONSE;
    fr.u.response_frame.payload.u.vm_fetch_response.response_json = bare_str_from_cstr("");
    bare_writer_init(&w, bare_default_alloc, NULL);
    size_t len = sx_protocol_frame_encode(&w, &fr) == BARE_OK ? w.len - 1 : 0;
    bare_writer_free(&w);
    return len;
}

void sc_handle_vm_fetch(sc_req_t *req, const sx_vm_fetch_request_t *v)
{
    sc_server_t *srv = req->srv;
    sc_vm_t *vm = sc_require_vm(req);
    if (!vm)
        return;
    /* the target */
    char *target = request_target(v->path);
    char *full = NULL;
    if (!target) {
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    if (asprintf(&full, "http://127.0.0.1:%u%s", v->port, target) < 0) {
        free(target);
        sc_reject(req, "invalid_state", "out of memory");
        return;
    }
    free(target);
    CURLU *u = curl_url();
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, full, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc != CURLUE_OK) {
        sc_reject(req, "invalid_state", "invalid vm.fetch target \"%.*s\": %s",
                  (int)(v->path.len > 200 ? 200 : v->path.len), v->path.ptr, curl_url_strerror(uc));
        free(full);
        return;
    }
    /* the method: a token; GET when empty */
    char method[64] = "GET";
    if (v->method.len) {
        if (v->method.len >= sizeof method || !is_token(v->method.ptr, v->method.len)) {
            sc_reject(req, "invalid_state", "vm.fetch method \"%.*s\" is not an HTTP method",
                      (int)(v->method.len > 64 ? 64 : v->method.len), v->method.ptr);
            free(full);
            return;
        }
        memcpy(method, v->method.ptr, v->method.len);
        method[v->method.len] = '\0';
    }
    struct curl_slist *headers = NULL;
    if (parse_headers(req, v->headers_json, v->body.present, &headers) != 0) {
        curl_slist_free_all(headers);
        free(full);
        return;
    }
    /* nothing listens in a VM that has no network namespace yet (no guest has run) */
    if (vm->exec.state != SC_SUP_RUNNING) {
        sc_reject(req, "execution_error",
                  "vm.fetch could not find a guest HTTP listener on port %u", v->port);
        curl_slist_free_all(headers);
        free(full);
        return;
    }
    sc_fetcher_t *f = fetcher(srv);
    fetch_t *x = NULL;
    char why[96] = "out of memory";
    if (f && f->nfetches >= SC_FETCH_MAX_PENDING)
        snprintf(why, sizeof why, "%d vm.fetch requests are already pending", SC_FETCH_MAX_PENDING);
    else if (f)
        x = calloc(1, sizeof *x);
    if (!x || !(x->easy = curl_easy_init()) || !(x->reply = sc_defer(req))) {
        if (x) {
            if (x->easy)
                curl_easy_cleanup(x->easy);
            free(x);
        }
        curl_slist_free_all(headers);
        free(full);
        sc_reject(req, "invalid_state", "%s", why);
        return;
    }
    x->f = f;
    x->vm = vm;
    x->port = v->port;
    x->req_headers = headers;
    x->frame_limit = srv->cfg.max_frame_bytes < SC_FETCH_LIMIT_BYTES ? srv->cfg.max_frame_bytes
                                                                     : SC_FETCH_LIMIT_BYTES;
    x->overhead = frame_overhead(req);
    /* the largest JSON whose frame fits (its length prefix is at most 3 bytes here) */
    x->json_limit = x->frame_limit > x->overhead + 3 ? x->frame_limit - x->overhead - 3 : 0;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, full);
    free(full);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    /* one connection per fetch: a cached one would be another VM's on the same port number */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)srv->cfg.fetch_timeout_ms);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L); /* curl must not wait for a body */
    } else {
        if (strcmp(method, "GET") != 0 || v->body.present)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (v->body.present) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)v->body.value.len);
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, v->body.value.ptr);
        }
    }
    x->next = f->fetches;
    f->fetches = x;
    f->nfetches++;
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        sc_deferred_reject(srv, x->reply, "execution_error", "vm.fetch could not start");
        x->reply = NULL;
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        fetch_free(x);
        return;
    }
    sc_debug("%s: vm.fetch %s port %u started", vm->id, method, x->port);
}

void sc_fetch_end_vm(sc_server_t *srv, sc_vm_t *vm)
{
    sc_fetcher_t *f = srv->fetcher;
    if (!f)
        return;
    for (fetch_t *x = f->fetches, *next; x; x = next) {
        next = x->next;
        if (vm && x->vm != vm)
            continue;
        sc_deferred_reject(srv, x->reply, "execution_error",
                           "vm.fetch to port %u was cancelled: the VM is being disposed", x->port);
        x->reply = NULL;
        fetch_free(x);
    }
}

void sc_fetch_free(sc_server_t *srv)
{
    sc_fetcher_t *f = srv->fetcher;
    if (!f)
        return;
    sc_fetch_end_vm(srv, NULL);
    curl_multi_cleanup(f->multi); /* may still call back: f stays until it returns */
    if (f->timer)
        sc_loop_cancel(srv->loop, f->timer);
    while (f->socks)
        sock_free(f, f->socks);
    free(f);
    srv->fetcher = NULL;
    curl_global_cleanup();
}
