// audit.test.mjs — one JSON line per request with what was asked, where it
// went, what came back and how long it took; prompts kept per audit.prompt
// (hash by default, full, off); the backend's API key reaches the backend
// and nowhere else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  startSim, startLlmux, makeConfig, stopAll, USER,
} from './harness.mjs';

const SECRET = 'sk-test-SECRET-d0n0tl0g-4242';
const PRIVATE = 'my private diary entry number 77';
let sim, hash, full, off;

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];

function config(prompt) {
  return (port, dir) => {
    const c = makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url, api_key_env: 'E2E_SIM_KEY' }],
      models: [{ name: 'chat', backend: 'sim', upstream_model: 'upstream-id-1' }],
    });
    if (prompt) c.audit.prompt = prompt;
    return c;
  };
}

before(async () => {
  // it lists the pinned upstream id, or the deployment would be out of rotation
  sim = await startSim({ args: ['--models', 'sim-model,upstream-id-1'] });
  const env = { E2E_SIM_KEY: SECRET, LLMUX_LOG_LEVEL: 'debug' };
  [hash, full, off] = await Promise.all([
    startLlmux({ config: config(null), env }), // default: hash
    startLlmux({ config: config('full'), env }),
    startLlmux({ config: config('off'), env }),
  ]);
});

after(async () => {
  await stopAll(hash, full, off, sim);
  for (const gw of [hash, full, off]) {
    assert.ok(!gw.err.includes(SECRET), 'the key never appears on stderr, even at debug level');
    assert.ok(!fs.readFileSync(gw.auditPath, 'utf8').includes(SECRET), 'nor in the audit log');
  }
});

test('a non-streamed tool call: every field of the record', async () => {
  const client = hash.client();
  const messages = USER(`${PRIVATE}: use get_weather`);
  const { data, response } = await client.chat.completions
    .create({ model: 'chat', messages, tools, tool_choice: 'required' })
    .withResponse();
  const rid = response.headers.get('x-request-id');
  const rec = await hash.waitAudit(rid);
  assert.equal(typeof rec.time, 'string');
  assert.ok(!Number.isNaN(Date.parse(rec.time)), rec.time);
  assert.equal(rec.request_id, rid);
  assert.match(rec.client, /^127\.0\.0\.1(:\d+)?$/);
  assert.equal(rec.endpoint, '/v1/chat/completions');
  assert.equal(rec.model, 'chat');
  assert.equal(rec.backend, 'sim');
  assert.equal(rec.upstream_model, 'upstream-id-1');
  assert.equal(rec.stream, false);
  assert.equal(rec.status, 200);
  assert.equal(typeof rec.latency_ms, 'number');
  assert.ok(rec.latency_ms > 0);
  assert.equal(typeof rec.ttft_ms, 'number');
  assert.ok(rec.ttft_ms <= rec.latency_ms);
  assert.equal(rec.prompt_tokens, data.usage.prompt_tokens);
  assert.equal(rec.completion_tokens, data.usage.completion_tokens);
  assert.deepEqual(rec.tool_calls, ['get_weather']);
  assert.equal(rec.error, null);
  // prompt: hash is the default
  const sha = crypto.createHash('sha256').update(JSON.stringify(messages)).digest('hex');
  assert.equal(rec.prompt_sha256, sha, 'SHA-256 of the messages as sent');
  assert.equal(rec.prompt, undefined);
  assert.ok(!fs.readFileSync(hash.auditPath, 'utf8').includes(PRIVATE), 'no prompt text in hash mode');
});

test('a streamed request: usage counted even though the client did not ask for it', async () => {
  const client = hash.client();
  const stream = await client.chat.completions.create(
    { model: 'chat', messages: USER('stream me'), stream: true },
    { headers: { 'x-request-id': 'audit-stream-1' } },
  );
  let pieces = 0;
  for await (const c of stream) if (c.choices[0]?.delta?.content) pieces++;
  const rec = await hash.waitAudit('audit-stream-1');
  assert.equal(rec.stream, true);
  assert.equal(rec.status, 200);
  assert.equal(rec.completion_tokens, pieces);
  assert.ok(rec.prompt_tokens > 0);
  assert.ok(rec.ttft_ms > 0 && rec.ttft_ms <= rec.latency_ms, JSON.stringify(rec));
  assert.deepEqual(rec.tool_calls, []);
  assert.equal(rec.error, null);
});

test('streamed tool calls are recorded by name', async () => {
  const client = hash.client();
  const stream = await client.chat.completions.create(
    { model: 'chat', messages: USER('hi'), tools, tool_choice: 'required', stream: true },
    { headers: { 'x-request-id': 'audit-stream-tools' } },
  );
  for await (const _ of stream); // eslint-disable-line no-unused-vars
  const rec = await hash.waitAudit('audit-stream-tools');
  assert.deepEqual(rec.tool_calls, ['get_weather']);
});

test('embeddings are audited with their endpoint', async () => {
  await hash.client().embeddings.create(
    { model: 'chat', input: 'x', encoding_format: 'float' },
    { headers: { 'x-request-id': 'audit-embed-1' } },
  );
  const rec = await hash.waitAudit('audit-embed-1');
  assert.equal(rec.endpoint, '/v1/embeddings');
  assert.equal(rec.status, 200);
});

test('prompt: full keeps the messages', async () => {
  const messages = [{ role: 'system', content: 'be brief' }, ...USER(PRIVATE)];
  await full.client().chat.completions.create(
    { model: 'chat', messages }, { headers: { 'x-request-id': 'audit-full-1' } },
  );
  const rec = await full.waitAudit('audit-full-1');
  assert.deepEqual(rec.prompt, messages);
  assert.equal(rec.prompt_sha256, undefined);
});

test('prompt: off keeps neither text nor digest', async () => {
  await off.client().chat.completions.create(
    { model: 'chat', messages: USER(PRIVATE) }, { headers: { 'x-request-id': 'audit-off-1' } },
  );
  const rec = await off.waitAudit('audit-off-1');
  assert.equal(rec.prompt, undefined);
  assert.equal(rec.prompt_sha256, undefined);
  assert.equal(rec.status, 200);
  assert.ok(!fs.readFileSync(off.auditPath, 'utf8').includes(PRIVATE));
});

test('the backend key reaches the backend as a bearer token, and nowhere else', async () => {
  await hash.client().chat.completions.create({ model: 'chat', messages: USER('k') });
  const last = await sim.last();
  assert.equal(last.headers.authorization, `Bearer ${SECRET}`);
  // the client's own Authorization header (the SDK sends "Bearer x") is not forwarded
  assert.ok(!last.headers.authorization.includes('Bearer x'));
  for (const gw of [hash, full, off]) {
    assert.ok(!gw.err.includes(SECRET), 'not on stderr');
    assert.ok(!fs.readFileSync(gw.auditPath, 'utf8').includes(SECRET), 'not in the audit log');
  }
  // /readyz shows backend state, not keys
  const r = await fetch(`${hash.origin}/readyz`);
  assert.ok(!(await r.text()).includes(SECRET));
});

test('exactly one record per request', async () => {
  const ids = ['one-1', 'one-2', 'one-3'];
  for (const id of ids) {
    await full.client().chat.completions.create(
      { model: 'chat', messages: USER(id) }, { headers: { 'x-request-id': id } },
    );
  }
  await full.waitAudit('one-3');
  const recs = full.audit();
  for (const id of ids) assert.equal(recs.filter((r) => r.request_id === id).length, 1);
});
