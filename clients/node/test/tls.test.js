'use strict';
// rediss:// against a TLS redis-server this file starts, with a CA and certificates it makes with
// openssl: the redis-py spelling of the files in the URL (ssl_ca_certs, ssl_certfile, ssl_keyfile),
// and node-redis's own socket options through the `redis` option.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { createClient: createRedis } = require('@redis/client');
const doshit = require('..');
const { newPrefix, startRedis, workOne } = require('./helpers');

/** A CA, a certificate for the server (127.0.0.1 and localhost) and one for a client, in `dir`. */
function makeCertificates(dir) {
  const file = (name) => path.join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=doshit test CA');
  fs.writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  fs.writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    openssl('req', ...key, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=doshit test ${who}`);
    openssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${who}.pem`, '-days', '2', '-extfile', `${who}.ext`);
  }
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key'), clientCert: file('client.pem'), clientKey: file('client.key') };
}

/** The words a redis-server built without TLS answers a --tls-port with. */
const NO_TLS = /Bad directive|wrong number of arguments|not (compiled|built) with TLS|TLS.*not supported/i;

describe('rediss://', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doshit-node-tls-'));
  const files = makeCertificates(dir);
  const servers = {};
  let skip = null;

  const start = (authClients) =>
    startRedis({
      tls: (port) => ({
        args: ['--tls-port', String(port), '--tls-cert-file', files.cert, '--tls-key-file', files.key,
          '--tls-ca-cert-file', files.ca, '--tls-auth-clients', authClients],
        socket: {
          ca: fs.readFileSync(files.ca),
          ...(authClients === 'yes' ? { cert: fs.readFileSync(files.clientCert), key: fs.readFileSync(files.clientKey) } : {}),
        },
      }),
    });

  before(async () => {
    try {
      servers.open = await start('no');
      servers.mutual = await start('yes');
    } catch (error) {
      if (!NO_TLS.test(error.message)) throw error;
      skip = `this redis-server has no TLS support (${error.message.split('\n').find((line) => NO_TLS.test(line))})`;
    }
  });
  after(async () => {
    for (const server of Object.values(servers)) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A round trip through a client made with `options`, a worker on its own TLS connection. */
  async function roundTrip(server, options) {
    const prefix = newPrefix();
    const client = await doshit.createClient({ prefix, ...options });
    const worker = createRedis({ socket: { host: '127.0.0.1', port: server.port, ...server.socket } });
    worker.on('error', () => {});
    await worker.connect();
    try {
      const task = await client.submit('echo', { text: 'over TLS' });
      await workOne(worker, prefix, (fn, args) => ({ value: args.text }));
      assert.equal(await task.result({ timeout: 5000 }), 'over TLS');
    } finally {
      await worker.close();
      await client.close();
    }
  }

  test('ssl_ca_certs in the URL, as redis-py spells it', async (t) => {
    if (skip) return t.skip(skip);
    await roundTrip(servers.open, { url: `${servers.open.url}?ssl_ca_certs=${encodeURIComponent(files.ca)}` });
  });

  test('without the CA the server is not trusted: createClient rejects at once', async (t) => {
    if (skip) return t.skip(skip);
    const started = Date.now();
    await assert.rejects(doshit.createClient({ url: servers.open.url }), (error) => {
      assert.ok(error instanceof doshit.DoshitError);
      assert.match(error.message, /cannot connect to Redis at rediss:.*certificate/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
  });

  test('ssl_cert_reqs=none skips the verification, as in redis-py', async (t) => {
    if (skip) return t.skip(skip);
    await roundTrip(servers.open, { url: `${servers.open.url}?ssl_cert_reqs=none` });
  });

  test('a client certificate: ssl_certfile and ssl_keyfile', async (t) => {
    if (skip) return t.skip(skip);
    const query = new URLSearchParams({ ssl_ca_certs: files.ca, ssl_certfile: files.clientCert, ssl_keyfile: files.clientKey });
    await roundTrip(servers.mutual, { url: `${servers.mutual.url}?${query}` });
    const caOnly = `${servers.mutual.url}?ssl_ca_certs=${encodeURIComponent(files.ca)}`;
    await assert.rejects(doshit.createClient({ url: caOnly }), doshit.DoshitError);
  });

  test('anything else through the redis option: node-redis socket options', async (t) => {
    if (skip) return t.skip(skip);
    const socket = { ca: fs.readFileSync(files.ca), cert: fs.readFileSync(files.clientCert), key: fs.readFileSync(files.clientKey) };
    await roundTrip(servers.mutual, { url: servers.mutual.url, redis: { socket } });
  });
});
