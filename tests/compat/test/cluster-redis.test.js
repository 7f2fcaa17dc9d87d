'use strict';
// Issue 6: sc14 and sc20 on two scgate nodes over one redis-server (see lib/cluster.js).

const {clusterSuite} = require('../lib/cluster');
const {startRedis} = require('../lib/engines');

clusterSuite('redis', startRedis);
