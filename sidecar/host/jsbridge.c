/*
 * jsbridge.c - PLACEHOLDER while issue 11 is in progress: the js_bridge plugin refuses to open
 * (ConfigureVm answers plugin_error). Replaced by the real plugin before the issue lands.
 */
#include <stdio.h>

#include "jsbridge.h"

sc_jsbridge_t *sc_jsbridge_open(sc_server_t *srv, sc_vm_t *vm, const char *mount_id,
                                const char *guest_path, bool read_only, char *err,
                                size_t errlen)
{
    (void)srv, (void)vm, (void)mount_id, (void)guest_path, (void)read_only;
    snprintf(err, errlen, "ENOSYS: filesystem plugin is not registered: js_bridge");
    return NULL;
}

int sc_jsbridge_mount_fd(sc_jsbridge_t *jb, char *err, size_t errlen)
{
    (void)jb;
    snprintf(err, errlen, "js_bridge is not available");
    return -1;
}

void sc_jsbridge_fs_call(sc_req_t *req, sc_jsbridge_t *jb, const char *rel,
                         const sx_guest_filesystem_call_request_t *v)
{
    (void)req, (void)jb, (void)rel, (void)v;
}

void sc_jsbridge_close(sc_jsbridge_t *jb)
{
    (void)jb;
}
