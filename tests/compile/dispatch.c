/*
 * dispatch.c - the dispatch table macro turns handler mistakes into compile errors.
 * Built by `make check` with -DVARIANT=0 (must compile, warning-free under the strict flags), 1 (a
 * handler missing), 2 (two handlers swapped) and 3 (one handler too many); variants 1-3 must fail
 * to compile both under the strict flags and under the compiler's defaults (no -Werror: a
 * swapped handler is only an incompatible-pointer warning there unless the macro refuses it).
 */
#include "secure_exec_sidecar_v1.h"

static int on_callback(void *ctx, const sx_host_callback_result_response_t *v)
{
    (void)ctx;
    (void)v;
    return 0;
}

static int on_bridge(void *ctx, const sx_js_bridge_result_response_t *v)
{
    (void)ctx;
    (void)v;
    return 0;
}

static int on_ext(void *ctx, const sx_ext_envelope_t *v)
{
    (void)ctx;
    (void)v;
    return 0;
}

#if VARIANT == 0
static const sx_sidecar_response_payload_handlers_t handlers =
    SX_SIDECAR_RESPONSE_PAYLOAD_HANDLERS(on_callback, on_bridge, on_ext);
/* NULL stays a valid "no handler" (dispatch answers BARE_E_NO_HANDLER). */
static const sx_sidecar_response_payload_handlers_t partial =
    SX_SIDECAR_RESPONSE_PAYLOAD_HANDLERS(NULL, on_bridge, NULL);
#elif VARIANT == 1
static const sx_sidecar_response_payload_handlers_t handlers =
    SX_SIDECAR_RESPONSE_PAYLOAD_HANDLERS(on_callback, on_bridge);
#elif VARIANT == 2
static const sx_sidecar_response_payload_handlers_t handlers =
    SX_SIDECAR_RESPONSE_PAYLOAD_HANDLERS(on_bridge, on_callback, on_ext);
#else
static const sx_sidecar_response_payload_handlers_t handlers =
    SX_SIDECAR_RESPONSE_PAYLOAD_HANDLERS(on_callback, on_bridge, on_ext, on_ext);
#endif

int dispatch_response(const sx_sidecar_response_payload_t *p);
int dispatch_response(const sx_sidecar_response_payload_t *p)
{
#if VARIANT == 0
    if (p->tag == SX_SIDECAR_RESPONSE_PAYLOAD_TAG_JS_BRIDGE_RESULT_RESPONSE)
        return sx_sidecar_response_payload_dispatch(&partial, NULL, p);
#endif
    return sx_sidecar_response_payload_dispatch(&handlers, NULL, p);
}
