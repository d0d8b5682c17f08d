'use strict';
// The package itself: generated from schema/ without drift, nothing typed twice, both module systems.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { test } = require('node:test');
const doshit = require('..');
const { ROOT } = require('./helpers');

const SCHEMA_DIR = path.join(ROOT, 'schema');
const PACKAGE = path.resolve(__dirname, '..');

test('lib/schema.js holds exactly schema/schema.json and the scripts', () => {
  const source = JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, 'schema.json'), 'utf8'));
  delete source.$comment;
  for (const spec of Object.values(source.scripts)) {
    spec.source = fs.readFileSync(path.join(SCHEMA_DIR, spec.file), 'utf8');
    spec.sha = crypto.createHash('sha1').update(spec.source).digest('hex');
  }
  assert.deepStrictEqual(JSON.parse(JSON.stringify(doshit.schema)), source);
  assert.ok(Object.isFrozen(doshit.schema.keys.task));
});

test('no key pattern, field name or environment variable is typed a second time in lib/', () => {
  const schema = doshit.schema;
  const patterns = [...Object.values(schema.keys), ...Object.values(schema.channels), ...Object.values(schema.commands)]
    .flatMap((item) => item.pattern.split(/\{[^}]*\}/))
    .filter((part) => part.replace(/:/g, ''));
  const words = [
    ...schema.task_fields.map((field) => field.name).filter((name) => name.includes('-')),
    ...Object.keys(schema.states),
    ...Object.keys(schema.results),
    ...Object.values(schema.error_reasons),
  ];
  // Anywhere in the code, quoted or not: `env.DOSHIT_QUEUE` would type it again as much as 'DOSHIT_QUEUE'.
  const config = [
    ...Object.values(schema.config.environment).map((variable) => variable.name),
    schema.config.default_url,
    schema.names.regex,
  ];
  for (const file of fs.readdirSync(path.join(PACKAGE, 'lib'))) {
    if (!file.endsWith('.js') || file === 'schema.js') continue;
    const text = fs
      .readFileSync(path.join(PACKAGE, 'lib', file), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\/?\*)/.test(line)) // comments may name things
      .join('\n');
    for (const needle of patterns) assert.ok(!text.includes(needle), `${file} spells ${needle}`);
    for (const needle of config) assert.ok(!text.includes(needle), `${file} spells ${needle}`);
    for (const word of words) {
      for (const quote of ["'", '"', '`']) {
        assert.ok(!text.includes(`${quote}${word}${quote}`), `${file} spells ${quote}${word}${quote}`);
      }
    }
  }
});

test('require and import give the same API; the default export is the legacy factory', async () => {
  assert.equal(typeof doshit, 'function');
  const esm = await import('../index.mjs');
  assert.equal(esm.default, doshit);
  const names = Object.keys(doshit).sort();
  assert.deepStrictEqual(
    Object.keys(esm).filter((name) => name !== 'default').sort(),
    names,
  );
  for (const name of names) assert.equal(esm[name], doshit[name], name);
  assert.deepStrictEqual(names, [
    'Client', 'ConfigError', 'DecodeError', 'DoshitDate', 'DoshitError', 'EncodeError', 'Keys', 'LegacyClient',
    'Task', 'TaskExistsError', 'TaskFailedError', 'TaskInfo', 'TaskNotDurableError', 'TaskNotFoundError',
    'TaskTimeoutError',
    'createClient', 'decode', 'encode', 'formatTimestamp', 'parseTimestamp', 'schema',
  ]);
});

test('the published files hold every module the package loads, and the type declarations', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE, 'package.json'), 'utf8'));
  const published = (file) => pkg.files.some((entry) => file === entry || (entry.endsWith('/') && file.startsWith(entry)));
  for (const file of Object.keys(require.cache)) {
    if (file.startsWith(PACKAGE) && !file.includes('node_modules') && !file.includes(`${path.sep}test${path.sep}`)) {
      assert.ok(published(path.relative(PACKAGE, file)), file);
    }
  }
  for (const file of ['index.d.ts', 'index.d.mts', 'lib/fields.d.ts']) {
    assert.ok(fs.existsSync(path.join(PACKAGE, file)), file);
    assert.ok(published(file), file);
  }
  assert.deepStrictEqual(Object.keys(pkg.dependencies), ['@redis/client']);
});

test('the npm package ships its README, the repository LICENSE and says where it comes from', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'MIT');
  assert.equal(fs.readFileSync(path.join(PACKAGE, 'LICENSE'), 'utf8'), fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'));
  assert.deepStrictEqual(pkg.repository, { type: 'git', url: 'git+https://github.com/doshit-dev/doshit.git', directory: 'clients/node' });
  assert.ok(pkg.homepage.startsWith('https://github.com/doshit-dev/doshit'));
  assert.ok(pkg.bugs.url.startsWith('https://github.com/doshit-dev/doshit'));
  // What `npm pack` would publish, asked of npm itself (no network: --dry-run, --offline).
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const [packed] = JSON.parse(
    execFileSync(npm[0], [...npm[1], 'pack', '--dry-run', '--json', '--offline', '--ignore-scripts'], { cwd: PACKAGE, encoding: 'utf8' }),
  );
  const files = packed.files.map((file) => file.path);
  for (const file of ['README.md', 'LICENSE', 'package.json', 'index.js', 'index.mjs', 'index.d.ts', 'index.d.mts', 'lib/schema.js', 'lib/fields.d.ts']) {
    assert.ok(files.includes(file), `${file} in ${files.join(', ')}`);
  }
  assert.ok(!files.some((file) => file.startsWith('test/') || file.startsWith('node_modules/')), files.join(', '));
});
