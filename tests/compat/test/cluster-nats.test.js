'use strict';
// Issue 6: sc14 and sc20 on two scgate nodes over one nats-server (see lib/cluster.js).

const {clusterSuite} = require('../lib/cluster');
const {startNats} = require('../lib/engines');

clusterSuite('nats', startNats);
