/*
 * ext.c - the registry of ExtEnvelope namespaces. A namespace is added by one entry in the
 * table below (with its handler); none is registered yet, so every ExtEnvelope is answered
 * unknown_extension.
 */
#include "sidecar.h"

static const sc_extension_t extensions[] = {
    {NULL, NULL}, /* end marker */
};

const sc_extension_t *sc_extension_find(bare_str_t ns)
{
    for (const sc_extension_t *e = extensions; e->ns; e++)
        if (bare_str_eq_cstr(ns, e->ns))
            return e;
    return NULL;
}
