// keys.test.mjs — virtual API keys: `llmux keys create|list|revoke` on a
// temp store, then `llmux serve` with auth enabled: no key, a bad key and a
// revoked key get 401 invalid_api_key; a good key works through the official
// openai SDK (Bearer) and as x-api-key; a key limited to other models gets
// 403 model_not_allowed; public paths need no key; the audit record names
// the key's id; no secret ever reaches the audit log, stderr or the store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll, postJSON,
  assertOpenAIError, waitFor, USER,
} from './harness.mjs';

const SAN = ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer'];
let sim, gw, dir, store;
const keys = {}; // name -> { id, secret }

function keysCli(args, env = {}) {
  const r = spawnSync(LLMUX_BIN, ['keys', ...args], { env: childEnv(env), encoding: 'utf8', timeout: 20000 });
  for (const m of SAN) assert.ok(!r.stderr.includes(m), `sanitizer report for llmux keys ${args.join(' ')}:\n${r.stderr}`);
  return r;
}

function create(name, models) {
  const r = keysCli(['create', '--name', name, '--store', store, ...(models ? ['--models', models] : [])]);
  assert.equal(r.status, 0, r.stderr);
  const secret = r.stdout.trim();
  assert.match(secret, /^llmux-sk-[0-9A-Za-z]{32}$/);
  const id = r.stderr.match(/key (key_[0-9a-f]{8})/)[1];
  keys[name] = { id, secret };
  return keys[name];
}

const chat = (model = 'chat') => ({ model, messages: USER('hi') });

before(async () => {
  dir = tempDir();
  store = path.join(dir, 'keys.db');
  sim = await startSim({ args: ['--models', 'sim-model,up-1,up-2'] });
  create('full');
  create('small-only', 'small');
  create('to-revoke');
  gw = await startLlmux({
    dir,
    env: { LLMUX_LOG_LEVEL: 'debug' },
    config: (port, d) => makeConfig({
      port, dir: d,
      backends: [{ name: 'sim', url: sim.url }],
      models: [
        { name: 'chat', backend: 'sim', upstream_model: 'up-1' },
        { name: 'small', backend: 'sim', upstream_model: 'up-2' },
      ],
      extra: { auth: { enabled: true, store } },
    }),
  });
});

after(async () => {
  await stopAll(gw, sim);
  // nothing secret anywhere the suite can see: audit log, stderr, the store
  const audit = fs.readFileSync(gw.auditPath, 'utf8');
  const db = fs.readFileSync(store).toString('latin1');
  for (const { secret } of Object.values(keys)) {
    assert.ok(!audit.includes(secret), 'a secret in the audit log');
    assert.ok(!gw.err.includes(secret), 'a secret in llmux stderr');
    assert.ok(!gw.out.includes(secret), 'a secret in llmux stdout');
    assert.ok(!db.includes(secret.slice(9)), 'a secret in the key store');
  }
});

test('keys --help and llmux --help document the commands', () => {
  const r = keysCli(['--help']);
  assert.equal(r.status, 0);
  for (const s of ['create', 'list', 'revoke', '--name', '--models', 'LLMUX_AUTH_STORE']) assert.ok(r.stdout.includes(s), s);
  const m = spawnSync(LLMUX_BIN, ['--help'], { env: childEnv(), encoding: 'utf8' });
  assert.match(m.stdout, /keys create\|list\|update\|revoke/);
  assert.notEqual(keysCli(['frobnicate']).status, 0);
  assert.notEqual(keysCli(['create', '--store', store]).status, 0, 'create without --name');
});

test('keys list shows ids, names and models, never hashes or secrets', () => {
  const r = keysCli(['list'], { LLMUX_AUTH_STORE: store });
  assert.equal(r.status, 0, r.stderr);
  for (const [name, { id, secret }] of Object.entries(keys)) {
    assert.match(r.stdout, new RegExp(`${id}\\s+${name}`));
    assert.ok(!r.stdout.includes(secret));
  }
  assert.match(r.stdout, /\["small"\]/);
  assert.ok(!/[0-9a-f]{64}/.test(r.stdout), 'no hash in the list');
});

test('no key: 401 invalid_api_key in OpenAI shape', async () => {
  const r = await postJSON(`${gw.baseURL}/chat/completions`, chat());
  assert.equal(r.status, 401);
  assertOpenAIError(r.json, { code: 'invalid_api_key', type: 'invalid_request_error' });
  assert.equal(r.json.error.param, null);
  const m = await fetch(`${gw.baseURL}/models`);
  assert.equal(m.status, 401);
});

test('unknown and malformed keys: 401, and the message does not echo them', async () => {
  const fake = 'llmux-sk-' + 'A'.repeat(32);
  for (const h of [{ authorization: `Bearer ${fake}` }, { authorization: 'Bearer nope' },
    { 'x-api-key': fake }, { authorization: `Basic ${keys.full.secret}` }]) {
    const r = await postJSON(`${gw.baseURL}/chat/completions`, chat(), h);
    assert.equal(r.status, 401, JSON.stringify(h));
    assertOpenAIError(r.json, { code: 'invalid_api_key' });
    assert.ok(!r.text.includes(fake) && !r.text.includes(keys.full.secret));
  }
});

test('a good key works through the openai SDK, and the audit record names its id', async () => {
  const client = new OpenAI({ baseURL: gw.baseURL, apiKey: keys.full.secret, maxRetries: 0 });
  const res = await client.chat.completions.create(chat()).withResponse();
  assert.equal(res.response.status, 200);
  assert.ok(res.data.choices[0].message.content.length > 0);
  const rid = res.response.headers.get('x-request-id');
  const rec = await gw.waitAudit(rid);
  assert.equal(rec.key_id, keys.full.id);
  assert.equal(rec.status, 200);
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'chat'));
  // streamed too
  const stream = await client.chat.completions.create({ ...chat(), stream: true });
  let n = 0;
  for await (const _ of stream) n++;
  assert.ok(n > 0);
});

test('x-api-key is accepted as Anthropic clients send it', async () => {
  const r = await postJSON(`${gw.baseURL}/chat/completions`, chat(), { 'x-api-key': keys.full.secret });
  assert.equal(r.status, 200, r.text);
});

test('a key limited to other models: 403 model_not_allowed; its own model: 200', async () => {
  const h = { authorization: `Bearer ${keys['small-only'].secret}` };
  const r = await postJSON(`${gw.baseURL}/chat/completions`, chat('chat'), h);
  assert.equal(r.status, 403, r.text);
  assertOpenAIError(r.json, { code: 'model_not_allowed' });
  const rec = await gw.waitAudit(r.headers.get('x-request-id'));
  assert.equal(rec.key_id, keys['small-only'].id);
  assert.equal(rec.status, 403);
  const unknown = await postJSON(`${gw.baseURL}/chat/completions`, chat('no-such-model'), h);
  assert.equal(unknown.status, 403, 'a key cannot probe which models exist');
  const ok = await postJSON(`${gw.baseURL}/chat/completions`, chat('small'), h);
  assert.equal(ok.status, 200, ok.text);
});

test('public paths need no key', async () => {
  for (const p of ['/healthz', '/readyz']) {
    const r = await fetch(`${gw.origin}${p}`);
    await r.arrayBuffer();
    assert.equal(r.status, 200, p);
  }
});

test('a revoked key is refused (401) within the refresh delay; a new one is accepted', async () => {
  const h = { authorization: `Bearer ${keys['to-revoke'].secret}` };
  assert.equal((await postJSON(`${gw.baseURL}/chat/completions`, chat(), h)).status, 200);
  const r = keysCli(['revoke', keys['to-revoke'].id, '--store', store]);
  assert.equal(r.status, 0, r.stderr);
  await waitFor(async () => (await postJSON(`${gw.baseURL}/chat/completions`, chat(), h)).status === 401,
    { timeoutMs: 5000, intervalMs: 100, what: 'revoked key refused' });
  assert.notEqual(keysCli(['revoke', keys['to-revoke'].id, '--store', store]).status, 0, 'revoking twice fails');
  const fresh = create('late');
  await waitFor(async () => (await postJSON(`${gw.baseURL}/chat/completions`, chat(),
    { authorization: `Bearer ${fresh.secret}` })).status === 200,
  { timeoutMs: 5000, intervalMs: 100, what: 'new key accepted' });
  const list = keysCli(['list', '--store', store]);
  assert.match(list.stdout, new RegExp(`${keys['to-revoke'].id}\\s+to-revoke\\s+\\S+\\s+20\\d\\d-`));
});

test('auth.store that cannot be opened: serve exits 1 with a message', () => {
  const d = tempDir();
  const cfg = path.join(d, 'c.yaml');
  fs.writeFileSync(cfg, `listeners: [{address: "127.0.0.1:1"}]\nauth: {enabled: true, store: ${d}/no/such/dir/k.db}\n`);
  const r = spawnSync(LLMUX_BIN, ['serve', '-c', cfg], { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /key store/);
});
