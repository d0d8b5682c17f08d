'use strict';
// doshit for Node.js. `require('doshit')` is the legacy 1.1.2 factory function, and carries the new
// API as properties: `const { createClient } = require('doshit')`.

const { legacy, LegacyClient } = require('./lib/legacy');
const { Client, Task, createClient } = require('./lib/client');
const { TaskInfo } = require('./lib/protocol');
const { DoshitDate, decode, encode, formatTimestamp, parseTimestamp } = require('./lib/codec');
const { Keys } = require('./lib/keys');
const errors = require('./lib/errors');
const schema = require('./lib/schema');

module.exports = legacy;
Object.assign(module.exports, {
  createClient,
  Client,
  Task,
  TaskInfo,
  LegacyClient,
  Keys,
  DoshitDate,
  encode,
  decode,
  formatTimestamp,
  parseTimestamp,
  schema,
  ...errors,
});
