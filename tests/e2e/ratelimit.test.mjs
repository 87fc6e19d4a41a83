// ratelimit.test.mjs — in-memory rate limits (rate_limits in the config).
// per_model_rpm 6 with burst 2: two quick requests pass and carry OpenAI's
// x-ratelimit-* headers (plain and streamed), the third gets 429
// rate_limit_exceeded with Retry-After through the official openai SDK, and
// its audit record says rate_limited: "model". per_key_rpm with two keys
// made by the CLI: one key spent does not limit the other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import OpenAI from 'openai';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll, postJSON,
  assertOpenAIError, USER,
} from './harness.mjs';

let sim, gwModel, gwKey, store;
const keys = {};

function create(name) {
  const r = spawnSync(LLMUX_BIN, ['keys', 'create', '--name', name, '--store', store],
    { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  keys[name] = { secret: r.stdout.trim(), id: r.stderr.match(/key (key_[0-9a-f]{8})/)[1] };
}

const models = [
  { name: 'chat', backend: 'sim', upstream_model: 'up-1' },
  { name: 'other', backend: 'sim', upstream_model: 'up-2' },
];

before(async () => {
  sim = await startSim({ args: ['--models', 'up-1,up-2'] });
  gwModel = await startLlmux({
    config: (port, d) => makeConfig({
      port, dir: d, backends: [{ name: 'sim', url: sim.url }], models,
      extra: { rate_limits: { per_model_rpm: 6, burst: 2 } },
    }),
  });
  const dir = tempDir();
  store = path.join(dir, 'keys.db');
  create('alice');
  create('bob');
  gwKey = await startLlmux({
    dir,
    config: (port, d) => makeConfig({
      port, dir: d, backends: [{ name: 'sim', url: sim.url }], models,
      extra: { auth: { enabled: true, store }, rate_limits: { per_key_rpm: 6, burst: 2 } },
    }),
  });
});

after(async () => {
  await stopAll(gwModel, gwKey, sim);
});

function assertRateHeaders(h, { limit, remaining }) {
  assert.equal(h.get('x-ratelimit-limit-requests'), String(limit));
  assert.equal(h.get('x-ratelimit-remaining-requests'), String(remaining));
  assert.match(h.get('x-ratelimit-reset-requests') ?? '', /^(\d+m)?\d+(\.\d+)?s$/);
}

test('per model: 2 pass with x-ratelimit-* headers, the 3rd gets 429 with Retry-After', async () => {
  const url = `${gwModel.baseURL}/chat/completions`;
  const a = await postJSON(url, { model: 'chat', messages: USER('one') });
  assert.equal(a.status, 200, a.text);
  assertRateHeaders(a.headers, { limit: 6, remaining: 1 });
  assert.equal(a.headers.get('x-ratelimit-reset-requests'), '10s');
  const b = await postJSON(url, { model: 'chat', messages: USER('two'), stream: true });
  assert.equal(b.status, 200, b.text);
  assert.match(b.headers.get('content-type'), /text\/event-stream/);
  assertRateHeaders(b.headers, { limit: 6, remaining: 0 });

  const client = gwModel.client();
  const err = await client.chat.completions.create({ model: 'chat', messages: USER('three') })
    .then(() => null, (e) => e);
  assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err}`);
  assert.equal(err.status, 429);
  assert.equal(err.code, 'rate_limit_exceeded');
  assert.equal(err.type, 'rate_limit_error');
  const hv = (n) => (typeof err.headers.get === 'function' ? err.headers.get(n) : err.headers[n]);
  const secs = Number(hv('retry-after'));
  assert.ok(Number.isInteger(secs) && secs >= 1 && secs <= 20, `retry-after ${secs}`);
  assert.equal(hv('x-ratelimit-limit-requests'), '6');
  assert.equal(hv('x-ratelimit-remaining-requests'), '0');
  assert.match(hv('x-ratelimit-reset-requests'), /^\d+(\.\d+)?s$/);

  // another model has its own limit; the refused request never reached the sim
  const o = await postJSON(url, { model: 'other', messages: USER('four') });
  assert.equal(o.status, 200, o.text);
  assertRateHeaders(o.headers, { limit: 6, remaining: 1 });
  const rec = await gwModel.waitAudit((r) => r.status === 429);
  assert.equal(rec.rate_limited, 'model');
  assert.equal(rec.model, 'chat');
  assert.deepEqual(rec.attempts, []);
  const ok = gwModel.audit().filter((r) => r.status === 200);
  assert.ok(ok.every((r) => !('rate_limited' in r)));
});

test('per key: one key spent does not limit the other', async () => {
  const url = `${gwKey.baseURL}/chat/completions`;
  const as = (k) => ({ authorization: `Bearer ${keys[k].secret}` });
  for (const remaining of [1, 0]) {
    const r = await postJSON(url, { model: 'chat', messages: USER('a') }, as('alice'));
    assert.equal(r.status, 200, r.text);
    assertRateHeaders(r.headers, { limit: 6, remaining });
  }
  const refused = await postJSON(url, { model: 'other', messages: USER('a') }, as('alice'));
  assert.equal(refused.status, 429);
  assertOpenAIError(refused.json, { code: 'rate_limit_exceeded', type: 'rate_limit_error' });
  assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  assert.ok(!refused.text.includes(keys.alice.secret));

  const bob = new OpenAI({ baseURL: gwKey.baseURL, apiKey: keys.bob.secret, maxRetries: 0 });
  const { data, response } = await bob.chat.completions
    .create({ model: 'chat', messages: USER('b') }).withResponse();
  assert.ok(data.choices.length > 0);
  assertRateHeaders(response.headers, { limit: 6, remaining: 1 });

  const rec = await gwKey.waitAudit((r) => r.status === 429);
  assert.equal(rec.rate_limited, 'key');
  assert.equal(rec.key_id, keys.alice.id);
});
