/* `publish-filter`: publish-in middleware that blocks or rewrites client publishes by channel
 * (world `middleware-plugin`), the same rules as the Rust, Python and JavaScript versions:
 *
 *   blocked/...    block with `PublishBlockedError` "Publishing to CHANNEL is not allowed"
 *   rewrite/...    rewrite to {"rewritten":true,"data":DATA} (DATA as sent, null if none)
 *   anything else  allow
 *
 * Ownership: arguments belong to the callee (free them), results are freed by the bindings
 * after the call returns (so they are heap-allocated).
 */
#include "middleware_plugin.h"

#include <stdlib.h>
#include <string.h>

typedef middleware_plugin_string_t string_t;
typedef exports_scgate_plugin_middleware_verdict_t verdict_t;
typedef exports_scgate_plugin_middleware_socket_t socket_t;

/* Publishes on channels under this prefix are refused. */
static const char BLOCKED_PREFIX[] = "blocked/";
/* Publishes on channels under this prefix are wrapped before they reach subscribers. */
static const char REWRITE_PREFIX[] = "rewrite/";

static bool starts_with(const string_t *s, const char *prefix) {
    size_t n = strlen(prefix);
    return s->len >= n && memcmp(s->ptr, prefix, n) == 0;
}

/* A new heap string: the concatenation of `n` parts. */
static void concat(string_t *out, size_t n, const string_t parts[]) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += parts[i].len;
    out->ptr = malloc(len > 0 ? len : 1);
    out->len = len;
    for (size_t i = 0, at = 0; i < n; at += parts[i].len, i++) memcpy(out->ptr + at, parts[i].ptr, parts[i].len);
}

static string_t lit(const char *s) {
    return (string_t){(uint8_t *)s, strlen(s)};
}

bool exports_scgate_plugin_middleware_init(string_t *config,
                                           exports_scgate_plugin_middleware_list_stage_t *ret,
                                           string_t *err) {
    (void)err;
    middleware_plugin_string_free(config);
    ret->len = 1;
    ret->ptr = malloc(sizeof(exports_scgate_plugin_middleware_stage_t));
    ret->ptr[0] = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_STAGE_PUBLISH_IN;
    return true;
}

void exports_scgate_plugin_middleware_publish_in(socket_t *socket, string_t *channel,
                                                 string_t *maybe_data, verdict_t *ret) {
    exports_scgate_plugin_middleware_socket_free(socket);
    if (starts_with(channel, BLOCKED_PREFIX)) {
        ret->tag = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_VERDICT_BLOCK;
        middleware_plugin_string_dup(&ret->val.block.name, "PublishBlockedError");
        const string_t message[] = {lit("Publishing to "), *channel, lit(" is not allowed")};
        concat(&ret->val.block.message, 3, message);
        ret->val.block.extra.is_some = false;
    } else if (starts_with(channel, REWRITE_PREFIX)) {
        /* The data is JSON text already: wrap it without parsing it. */
        ret->tag = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_VERDICT_REWRITE;
        const string_t parts[] = {lit("{\"rewritten\":true,\"data\":"),
                                  maybe_data ? *maybe_data : lit("null"), lit("}")};
        concat(&ret->val.rewrite, 3, parts);
    } else {
        ret->tag = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_VERDICT_ALLOW;
    }
    middleware_plugin_string_free(channel);
    if (maybe_data) middleware_plugin_string_free(maybe_data);
}

/* Registered for `publish-in` only: the gateway never calls the other stages. They still free
 * their arguments, as the ABI asks. */
void exports_scgate_plugin_middleware_handshake_ws(
    exports_scgate_plugin_middleware_http_request_t *request, verdict_t *ret) {
    exports_scgate_plugin_middleware_http_request_free(request);
    ret->tag = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_VERDICT_ALLOW;
}

void exports_scgate_plugin_middleware_handshake_sc(socket_t *socket, uint16_t *maybe_status_code,
                                                   verdict_t *ret) {
    (void)maybe_status_code;
    exports_scgate_plugin_middleware_socket_free(socket);
    ret->tag = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_VERDICT_ALLOW;
}

/* emit, subscribe and publish-out share one signature. */
static void allow_action(socket_t *socket, string_t *name, string_t *maybe_data, verdict_t *ret) {
    exports_scgate_plugin_middleware_socket_free(socket);
    middleware_plugin_string_free(name);
    if (maybe_data) middleware_plugin_string_free(maybe_data);
    ret->tag = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_VERDICT_ALLOW;
}

void exports_scgate_plugin_middleware_emit(socket_t *socket, string_t *event, string_t *maybe_data,
                                           verdict_t *ret) {
    allow_action(socket, event, maybe_data, ret);
}

void exports_scgate_plugin_middleware_subscribe(socket_t *socket, string_t *channel,
                                                string_t *maybe_data, verdict_t *ret) {
    allow_action(socket, channel, maybe_data, ret);
}

void exports_scgate_plugin_middleware_publish_out(socket_t *socket, string_t *channel,
                                                  string_t *maybe_data, verdict_t *ret) {
    allow_action(socket, channel, maybe_data, ret);
}

void exports_scgate_plugin_middleware_authenticate(socket_t *socket, string_t *claims,
                                                   verdict_t *ret) {
    exports_scgate_plugin_middleware_socket_free(socket);
    middleware_plugin_string_free(claims);
    ret->tag = EXPORTS_SCGATE_PLUGIN_MIDDLEWARE_VERDICT_ALLOW;
}

/* The bindings were generated with `--no-object-file`: the component type comes from the WIT
 * at link time (`-Wl,--component-type`), but the bindings still reference this symbol. */
void __component_type_object_force_link_middleware_plugin(void) {}
