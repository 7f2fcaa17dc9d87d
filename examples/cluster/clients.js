'use strict';
// One socketcluster-client (20.x, the compat suite's copy) per port given on the command line.
// Each subscribes to `chat`, then publishes "hello from node N"; each prints what it receives
// and the script exits 0 once every client has seen the line of every node (10 s at most).

const path = require('node:path');
const sc = require(path.resolve(__dirname, '../../tests/compat/node_modules/sc20'));

// Long enough for three debug-build nodes on a loaded machine.
const DEADLINE_MS = 10000;

async function main(ports) {
  const clients = ports.map((port) => sc.create({hostname: '127.0.0.1', port: Number(port)}));
  const seen = clients.map(() => new Set());
  const done = clients.map((socket, i) => (async () => {
    const channel = socket.subscribe('chat');
    await channel.listener('subscribe').once();
    for await (const line of channel) {
      console.log(`client on node ${i + 1} (port ${ports[i]}) got: ${line}`);
      seen[i].add(line);
      if (seen[i].size === ports.length) return;
    }
  })());
  // Publish only once every client is subscribed, so nobody misses a line.
  await Promise.all(clients.map((socket) => socket.channel('chat').listener('subscribe').once()));
  await Promise.all(clients.map((socket, i) => socket.invokePublish('chat', `hello from node ${i + 1}`)));
  const timer = setTimeout(() => {
    console.error('not every client saw every node within the deadline');
    process.exit(1);
  }, DEADLINE_MS);
  await Promise.all(done);
  clearTimeout(timer);
  console.log('every client saw every node: the three nodes act as one');
  clients.forEach((socket) => socket.disconnect());
  process.exit(0);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err);
  process.exit(1);
});
