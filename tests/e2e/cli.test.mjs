// cli.test.mjs — the command line: help texts, `llmux check` on good and bad
// files, and what a bad serve invocation does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LLMUX_BIN, childEnv, tempDir, toYaml } from './harness.mjs';

const SAN = ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer'];

function run(args, { env = {}, cwd } = {}) {
  const r = spawnSync(LLMUX_BIN, args, { env: childEnv(env), cwd, encoding: 'utf8', timeout: 20000 });
  for (const m of SAN) assert.ok(!r.stderr.includes(m), `sanitizer report for llmux ${args.join(' ')}:\n${r.stderr}`);
  return r;
}

test('llmux --help exits 0 and names the commands', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /serve/);
  assert.match(r.stdout, /check/);
});

test('llmux serve --help exits 0 and documents the flags and variables', () => {
  const r = run(['serve', '--help']);
  assert.equal(r.status, 0, r.stderr);
  for (const s of ['--listen', '--config', '--upstream', 'LLMUX_UPSTREAM', 'LLMUX_LISTEN', 'LLMUX_CONFIG', '--audit-log']) {
    assert.ok(r.stdout.includes(s), `serve --help mentions ${s}`);
  }
});

test('llmux with no command or an unknown one exits non-zero with usage', () => {
  const a = run([]);
  assert.notEqual(a.status, 0);
  assert.match(a.stderr, /Usage/);
  const b = run(['frobnicate']);
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /frobnicate/);
});

test('llmux version', () => {
  const r = run(['version']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^llmux \d+\.\d+\.\d+/);
});

test('llmux check -c good.yaml exits 0 and prints the routing table (never the key)', () => {
  const dir = tempDir();
  const file = path.join(dir, 'good.yaml');
  fs.writeFileSync(file, toYaml({
    listeners: [{ address: '127.0.0.1:17711' }],
    backends: [
      { name: 'local', url: 'http://127.0.0.1:8080/v1', api_key_env: 'E2E_CHECK_KEY', timeouts: { idle_ms: 1234 } },
      { name: 'cloud', url: 'https://api.example.com/v1/' },
    ],
    models: [
      { name: 'fast-chat', backend: 'local', upstream_model: 'qwen2.5-7b-instruct-q4_k_m' },
      { name: 'big-chat', backend: 'cloud', upstream_model: 'gpt-4o-mini' },
      { name: 'same-name', backend: 'local' },
    ],
  }));
  const secret = 'sk-check-should-not-print-99';
  const r = run(['check', '-c', file], { env: { E2E_CHECK_KEY: secret } });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /fast-chat\s+->\s+local \/ qwen2\.5-7b-instruct-q4_k_m/);
  assert.match(out, /big-chat\s+->\s+cloud \/ gpt-4o-mini/);
  assert.match(out, /same-name\s+->\s+local \/ same-name/, 'upstream_model defaults to the public name');
  assert.match(out, /127\.0\.0\.1:17711/);
  assert.match(out, /https:\/\/api\.example\.com\/v1(\s|$)/m, 'trailing slash removed');
  assert.match(out, /1234/);
  assert.ok(!out.includes(secret) && !r.stderr.includes(secret), 'the key is never printed');
});

test('llmux check -c bad.yaml (unknown key) exits 1 with FILE:LINE:COL', () => {
  const dir = tempDir();
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'backends:\n  - name: a\n    url: http://127.0.0.1:1/v1\n    colour: blue\n');
  const r = run(['check', '-c', file]);
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes(`${file}:4:5:`), `FILE:LINE:COL in: ${r.stderr}`);
  assert.match(r.stderr, /colour/);
});

test('llmux check reports other errors with their position too', () => {
  const dir = tempDir();
  const cases = [
    ['limits:\n  max_headers: "64"\n', /:2:\d+:.*max_headers/],
    ['backends:\n  - name: a\n    url: ftp://x/v1\n', /:3:\d+:.*url/],
    ['models:\n  - name: m\n    backend: nope\n', /:3:\d+:.*nope/],
  ];
  for (const [text, re] of cases) {
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, text);
    const r = run(['check', '-c', file]);
    assert.equal(r.status, 1, text);
    assert.match(r.stderr, re);
  }
});

test('llmux serve with a bad config file exits 1 without listening', () => {
  const dir = tempDir();
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'listeners:\n  - address: 127.0.0.1:1\n    nope: 1\n');
  const r = run(['serve', '-c', file], { cwd: dir });
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes(`${file}:3:5:`), r.stderr);
});
