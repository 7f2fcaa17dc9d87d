// `publish-filter`: publish-in middleware that blocks or rewrites client publishes by channel
// (world `middleware-plugin`), the same rules as the Rust, Python and C versions:
//
// - `blocked/...`: block with `PublishBlockedError` "Publishing to CHANNEL is not allowed";
// - `rewrite/...`: rewrite to `{"rewritten":true,"data":DATA}` (DATA as sent, `null` if none);
// - anything else: allow.

const BLOCKED_PREFIX = 'blocked/'; // publishes on these channels are refused
const REWRITE_PREFIX = 'rewrite/'; // publishes on these channels are wrapped

const ALLOW = { tag: 'allow' };

export const middleware = {
  init(_config) {
    return ['publish-in'];
  },

  publishIn(_socket, channel, data) {
    if (channel.startsWith(BLOCKED_PREFIX)) {
      return {
        tag: 'block',
        val: { name: 'PublishBlockedError', message: `Publishing to ${channel} is not allowed` },
      };
    }
    if (channel.startsWith(REWRITE_PREFIX)) {
      // The data is JSON text already: wrap it without parsing it.
      return { tag: 'rewrite', val: `{"rewritten":true,"data":${data ?? 'null'}}` };
    }
    return ALLOW;
  },

  // Registered for `publish-in` only: the gateway never calls the other stages.
  handshakeWs: () => ALLOW,
  handshakeSc: () => ALLOW,
  emit: () => ALLOW,
  subscribe: () => ALLOW,
  publishOut: () => ALLOW,
  authenticate: () => ALLOW,
};
