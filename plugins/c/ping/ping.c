/* `ping`: the SocketCluster boilerplate handler as an scgate plugin (world `handler-plugin`).
 *
 * Each `ping` bumps a counter, publishes the new count on the `pong` channel and acknowledges
 * with the data it received, unchanged. The counter lives in the instance's linear memory, so
 * it counts per worker (an instance replaced after a trap starts again at 1).
 *
 * Ownership follows the canonical ABI as wit-bindgen's C bindings expose it: arguments belong
 * to the callee (free them or move them into the result), and results are freed by the
 * bindings after the call returns, so they must be heap-allocated (`_dup`, never `_set`).
 */
#include "handler_plugin.h"

#include <stdlib.h>
#include <string.h>

/* Pings handled by this instance. */
static uint64_t pings;

/* Writes `n` in decimal into `buf` (at least 21 bytes) and returns its length. Hand-written
 * because snprintf would pull stdio, and with it WASI imports, into the component. */
static size_t format_u64(uint64_t n, char *buf) {
    char digits[20];
    size_t len = 0;
    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    for (size_t i = 0; i < len; i++) buf[i] = digits[len - 1 - i];
    return len;
}

bool exports_scgate_plugin_handler_init(handler_plugin_string_t *config,
                                        exports_scgate_plugin_handler_registration_t *ret,
                                        handler_plugin_string_t *err) {
    (void)err;
    handler_plugin_string_free(config);
    ret->events.len = 1;
    ret->events.ptr = malloc(sizeof(handler_plugin_string_t));
    handler_plugin_string_dup(&ret->events.ptr[0], "ping");
    return true;
}

bool exports_scgate_plugin_handler_on_event(exports_scgate_plugin_handler_socket_t *socket,
                                            handler_plugin_string_t *event,
                                            handler_plugin_string_t *maybe_data,
                                            handler_plugin_option_string_t *ret,
                                            exports_scgate_plugin_handler_error_t *err) {
    exports_scgate_plugin_handler_socket_free(socket);
    bool is_ping = event->len == 4 && memcmp(event->ptr, "ping", 4) == 0;
    handler_plugin_string_free(event);
    if (!is_ping) {
        /* The gateway only sends the events registered in `init`. */
        if (maybe_data) handler_plugin_string_free(maybe_data);
        handler_plugin_string_dup(&err->name, "UnknownEventError");
        handler_plugin_string_dup(&err->message, "ping does not handle this event");
        err->extra.is_some = false;
        return false;
    }

    char count[21];
    handler_plugin_string_t channel, data;
    handler_plugin_string_set(&channel, "pong");
    data.ptr = (uint8_t *)count;
    data.len = format_u64(++pings, count);
    scgate_plugin_host_error_t publish_err;
    if (!scgate_plugin_host_publish(&channel, &data, &publish_err)) {
        /* A failed publish should not fail the ping itself: log it and acknowledge anyway. */
        handler_plugin_string_t line;
        handler_plugin_string_set(&line, "publish on pong failed");
        scgate_plugin_host_log(SCGATE_PLUGIN_HOST_LEVEL_WARN, &line);
        scgate_plugin_types_error_free(&publish_err);
    }

    /* Ack with the data unchanged: move it (NULL when the client sent none) into the reply. */
    ret->is_some = maybe_data != NULL;
    if (maybe_data) ret->val = *maybe_data;
    return true;
}

/* The bindings were generated with `--no-object-file`: the component type comes from the WIT
 * at link time (`-Wl,--component-type`), but the bindings still reference this symbol. */
void __component_type_object_force_link_handler_plugin(void) {}
