// `ping`: the SocketCluster boilerplate handler as an scgate plugin (world `handler-plugin`).
//
// Each `ping` bumps a counter, publishes the new count on the `pong` channel and acknowledges
// with the data it received, unchanged. The counter lives in the instance, so it counts per
// worker (an instance replaced after a trap starts again at 1).

import { publish, log } from 'scgate:plugin/host@0.1.0';

let pings = 0;

export const handler = {
  init(_config) {
    return { events: ['ping'] };
  },

  // `data` is JSON text, or undefined when the client sent none; returning it acks with it.
  onEvent(_socket, event, data) {
    if (event !== 'ping') {
      // The gateway only sends the events registered in `init`. A thrown object is `err(error)`.
      throw { name: 'UnknownEventError', message: `ping does not handle ${event}` };
    }
    pings += 1;
    try {
      publish('pong', String(pings));
    } catch (e) {
      // A failed publish should not fail the ping itself: log it and acknowledge anyway.
      log('warn', `publish on pong failed: ${e.payload?.name}: ${e.payload?.message}`);
    }
    return data;
  },
};
