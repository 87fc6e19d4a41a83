// responses_compact.test.mjs — POST /v1/responses/input_tokens and POST
// /v1/responses/compact over a chat backend (llmux-sim), through the openai
// SDK's own transport (client.post: this SDK version has no helper for
// either). input_tokens equals the sim's deterministic prompt_tokens for the
// same chat messages; compact answers a response.compaction that validates
// against both specs, whose compaction item, fed back as input, reaches the
// backend as the summary the model wrote; a tampered or foreign item is a
// 400 invalid_encrypted_content; compact without model is a 400; the seal
// key from responses.encryption_key_env opens on another gateway with the
// same key and not on one with a random key; a Responses backend (a second
// llmux) gets both endpoints passed through on its own paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  startSim, startLlmux, makeConfig, stopAll, LLMUX_BIN, childEnv, tempDir, toYaml,
} from './harness.mjs';
import { assertSdkResponse, assertValid as assertShape } from './schema.mjs';

const KEY = 'a1'.repeat(32);
const SUMMARY_PREFIX = 'Summary of the earlier conversation:\n\n';

let sim, gw, same, other, client;

const config = (extra = {}) => (port, dir) => makeConfig({
  port, dir,
  backends: [{ name: 'sim', url: sim.url }],
  models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
  // one health check at start only: a check is a sim request, and a test counts them
  extra: { health: { interval_ms: 600000, timeout_ms: 1000 }, ...extra },
});

before(async () => {
  sim = await startSim({ args: ['--tokens', '6'] });
  const keyed = config({ responses: { encryption_key_env: 'COMPACT_SEAL_KEY' } });
  gw = await startLlmux({ config: keyed, env: { COMPACT_SEAL_KEY: KEY } });
  same = await startLlmux({ config: keyed, env: { COMPACT_SEAL_KEY: KEY } });
  other = await startLlmux({ config: config() });
  client = gw.client();
});

after(async () => { await stopAll(gw, same, other, sim); });

// every answer of both endpoints is validated against the specs (schema.mjs)
const countTokens = async (c, body) => assertShape('input_tokens', await c.post('/responses/input_tokens', { body }));
const compact = async (c, body) => assertShape('compaction', await c.post('/responses/compact', { body }));

/** The sim's prompt_tokens for chat messages: words of every text + 4 per message. */
const simCount = (messages) => messages.reduce(
  (n, m) => n + 4 + (typeof m.content === 'string' ? m.content : '').split(/\s+/).filter(Boolean).length, 0);

/** A compaction object must validate under both specs (schema.mjs). */
const assertValid = (obj) => assertShape('compaction', obj);

// --- input_tokens -------------------------------------------------------------

test('input_tokens counts the prompt as the backend sees it (max_tokens 1, not streamed)', async () => {
  const body = { model: 'chat', instructions: 'Be brief.', input: 'hello there world' };
  const r = await countTokens(client, body);
  assert.deepEqual(r, { object: 'response.input_tokens', input_tokens: 13 });
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hello there world' },
  ]);
  assert.equal(sent.max_tokens, 1);
  assert.equal(sent.stream, undefined);
  assert.equal(r.input_tokens, simCount(sent.messages));
  // the same request answered by POST /v1/responses reports the same input_tokens
  const created = await client.responses.create(body);
  assert.equal(created.usage.input_tokens, r.input_tokens);
  assertSdkResponse(created);
});

test('input_tokens resolves previous_response_id and sends the tools', async () => {
  const first = await client.responses.create({ model: 'chat', input: 'My name is Ada.' });
  const tools = [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }];
  const r = await countTokens(client, {
    model: 'chat', previous_response_id: first.id, input: 'What is my name?', tools, stream: true,
  });
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages.map((m) => m.content), ['My name is Ada.', first.output_text, 'What is my name?']);
  assert.equal(sent.tools[0].function.name, 'f');
  assert.equal(sent.stream, undefined, 'input_tokens is never streamed');
  assert.equal(r.input_tokens, simCount(sent.messages));
  // previous_response_id alone (no input) is the previous context
  const alone = await countTokens(client, { model: 'chat', previous_response_id: first.id });
  assert.deepEqual((await sim.last()).json.messages.map((m) => m.content), ['My name is Ada.', first.output_text]);
  assert.equal(alone.input_tokens, 4 + 4 + 4 + first.output_text.split(' ').filter(Boolean).length);
});

test('input_tokens: the errors of POST /v1/responses', async () => {
  await assert.rejects(countTokens(client, { input: 'x' }), (e) => e.status === 400 && e.param === 'model');
  await assert.rejects(countTokens(client, { model: 'nope', input: 'x' }),
    (e) => e.status === 404 && e.code === 'model_not_found');
  await assert.rejects(countTokens(client, { model: 'chat', input: 'x', previous_response_id: 'resp_missing' }),
    (e) => e.status === 400 && e.code === 'previous_response_not_found');
});

// --- compact ------------------------------------------------------------------

const conversation = [
  { role: 'user', content: 'Plan a landing page for a dog cafe.' },
  { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Here is a plan.' }] },
  { role: 'user', content: 'Make it blue.' },
];

test('compact answers a response.compaction valid under both specs', async () => {
  const r = await compact(client, { model: 'chat', instructions: 'You design websites.', input: conversation });
  assertValid(r);
  assert.equal(r.object, 'response.compaction');
  assert.match(r.id, /^resp_[0-9a-f]{32}$/);
  assert.ok(Number.isInteger(r.created_at));
  assert.deepEqual(r.output.slice(0, 2).map((i) => [i.type, i.role, i.status, i.content]), [
    ['message', 'user', 'completed', [{ type: 'input_text', text: 'Plan a landing page for a dog cafe.' }]],
    ['message', 'user', 'completed', [{ type: 'input_text', text: 'Make it blue.' }]],
  ], 'the user messages are kept');
  assert.equal(r.output.length, 3);
  const item = r.output[2];
  assert.deepEqual(Object.keys(item), ['type', 'id', 'encrypted_content']);
  assert.equal(item.type, 'compaction');
  assert.match(item.id, /^cmp_/);
  assert.match(item.encrypted_content, /^[A-Za-z0-9+/]+=*$/);
  assert.ok(!Buffer.from(item.encrypted_content, 'base64').toString('latin1').includes('the'), 'sealed, not encoded');

  // what the model was asked: the instruction, the conversation, the ask; no tools
  const sent = (await sim.last()).json;
  assert.equal(sent.messages[0].role, 'system');
  assert.match(sent.messages[0].content, /^You are compacting a conversation/);
  assert.match(sent.messages[0].content, /under these instructions:\nYou design websites\.$/);
  assert.deepEqual(sent.messages.slice(1, 4).map((m) => [m.role, m.content]), [
    ['user', 'Plan a landing page for a dog cafe.'], ['assistant', 'Here is a plan.'], ['user', 'Make it blue.'],
  ]);
  assert.deepEqual(sent.messages[4], { role: 'user', content: 'Summarise the conversation above as instructed.' });
  assert.equal(sent.tools, undefined);
  assert.equal(r.usage.input_tokens, simCount(sent.messages));
  assert.equal(r.usage.output_tokens, 6);
});

/** The summary the sim writes for a compaction request: its own answer to that body. */
async function simSummary(sentBody) {
  const a = await (await fetch(`${sim.url}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: sentBody,
  })).json();
  return a.choices[0].message.content;
}

test('a compaction item fed back reaches the backend as the summary', async () => {
  const r = await compact(client, { model: 'chat', input: conversation });
  const summary = await simSummary((await sim.last()).body);
  assert.ok(summary.length > 0);
  const next = await client.responses.create({
    model: 'chat', input: [...r.output, { role: 'user', content: 'What next?' }],
  });
  assert.equal(next.status, 'completed');
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages, [
    { role: 'user', content: 'Plan a landing page for a dog cafe.' },
    { role: 'user', content: 'Make it blue.' },
    { role: 'user', content: SUMMARY_PREFIX + summary },
    { role: 'user', content: 'What next?' },
  ]);
  // stored as the client sent it: the compaction item, not the summary
  const items = await client.responses.inputItems.list(next.id);
  const cmp = items.data.find((i) => i.type === 'compaction');
  assert.equal(cmp.encrypted_content, r.output[2].encrypted_content);
  assert.ok(!JSON.stringify(items.data).includes(summary), 'the summary is not stored in clear');

  // counted and compacted again too, streamed or not
  const n = await countTokens(client, { model: 'chat', input: r.output });
  assert.equal(n.input_tokens, simCount((await sim.last()).json.messages));
  const stream = await client.responses.create({ model: 'chat', input: r.output, stream: true });
  for await (const ev of stream) void ev;
  assert.equal((await sim.last()).json.messages[2].content, SUMMARY_PREFIX + summary);
  const again = await compact(client, { model: 'chat', input: [...r.output, { role: 'user', content: 'More.' }] });
  assertValid(again);
  assert.deepEqual(again.output.map((i) => i.type), ['message', 'message', 'message', 'compaction']);
  assert.equal((await sim.last()).json.messages[3].content, SUMMARY_PREFIX + summary, 'after the system message');
});

test('compact with previous_response_id alone compacts the stored conversation', async () => {
  const first = await client.responses.create({ model: 'chat', input: 'Remember the number 42.' });
  const r = await compact(client, { model: 'chat', previous_response_id: first.id });
  assertValid(r);
  assert.deepEqual(r.output.map((i) => i.type), ['message', 'compaction']);
  assert.equal(r.output[0].content[0].text, 'Remember the number 42.');
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages.slice(1).map((m) => m.content),
    ['Remember the number 42.', first.output_text, 'Summarise the conversation above as instructed.']);
});

test('a compaction item that does not open is a 400 invalid_encrypted_content', async () => {
  const r = await compact(client, { model: 'chat', input: conversation });
  const item = r.output[2];
  const raw = Buffer.from(item.encrypted_content, 'base64');
  raw[raw.length - 20] ^= 1;
  const tampered = { ...item, encrypted_content: raw.toString('base64') };
  const before = (await sim.stats()).requests;
  for (const call of [
    () => client.responses.create({ model: 'chat', input: [tampered, { role: 'user', content: 'hi' }] }),
    () => countTokens(client, { model: 'chat', input: [tampered] }),
    () => compact(client, { model: 'chat', input: [tampered] }),
    () => client.responses.create({ model: 'chat', input: [{ type: 'compaction', encrypted_content: 'gAAAAABpM0Yj' }] }),
  ]) {
    await assert.rejects(call(), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_encrypted_content');
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.param, /^input\[\d+\]\.encrypted_content$/);
      return true;
    });
  }
  assert.equal((await sim.stats()).requests, before, 'nothing reached the backend');
  await assert.rejects(client.responses.create({ model: 'chat', input: [{ type: 'compaction' }] }),
    (e) => e.status === 400 && e.param === 'input[0].encrypted_content');
});

test('compact without model is a 400', async () => {
  await assert.rejects(compact(client, { input: conversation }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.param, 'model');
    assert.equal(e.code, 'missing_required_parameter');
    return true;
  });
});

test('the configured key opens on another gateway with it, a random key does not', async () => {
  const r = await compact(client, { model: 'chat', input: conversation });
  const input = [...r.output, { role: 'user', content: 'Go on.' }];
  const ok = await same.client().responses.create({ model: 'chat', input });
  assert.equal(ok.status, 'completed');
  assert.match((await sim.last()).json.messages[2].content, /^Summary of the earlier conversation:/);
  await assert.rejects(other.client().responses.create({ model: 'chat', input }),
    (e) => e.status === 400 && e.code === 'invalid_encrypted_content');
  // and the other way round: the random key's compactions open only there
  const mine = await compact(other.client(), { model: 'chat', input: conversation });
  const back = await other.client().responses.create({ model: 'chat', input: mine.output });
  assert.equal(back.status, 'completed');
  await assert.rejects(client.responses.create({ model: 'chat', input: mine.output }),
    (e) => e.status === 400 && e.code === 'invalid_encrypted_content');
});

test('a Responses backend gets both endpoints on its own paths, bodies untouched', async () => {
  // `same` (same key as gw) serves as the Responses backend of a front gateway
  const front = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'inner', url: same.baseURL, dialect: 'responses', discover: false }],
      models: [{ name: 'front', backend: 'inner', upstream_model: 'chat' }],
      extra: { health: { interval_ms: 600000, timeout_ms: 1000 } },
    }),
  });
  try {
    const fc = front.client();
    const n = await countTokens(fc, { model: 'front', input: 'hello there world' });
    assert.deepEqual(n, { object: 'response.input_tokens', input_tokens: 7 });
    const r = await compact(fc, { model: 'front', input: conversation });
    assertValid(r);
    const inner = await same.waitAudit((x) => x.endpoint === '/v1/responses/compact' && x.status === 200);
    assert.equal(inner.model, 'chat', 'the upstream model was spliced in');
    // the front passes the item through; the inner gateway (its key) opens it
    const next = await fc.responses.create({ model: 'front', input: [...r.output, { role: 'user', content: 'On.' }] });
    assert.equal(next.status, 'completed');
    assert.match((await sim.last()).json.messages[2].content, /^Summary of the earlier conversation:/);
  } finally {
    await stopAll(front);
  }
});

test('the audit log and metrics name the endpoints', async () => {
  const r = await compact(client, { model: 'chat', input: 'Compact me.' });
  assert.equal(r.output[0].content[0].text, 'Compact me.');
  const rec = await gw.waitAudit((x) => x.endpoint === '/v1/responses/compact' && x.status === 200);
  assert.equal(rec.backend, 'sim');
  await gw.waitAudit((x) => x.endpoint === '/v1/responses/input_tokens' && x.status === 200);
  const metrics = await (await fetch(`${gw.origin}/metrics`)).text();
  assert.match(metrics, /endpoint="\/responses\/compact",status="200"/);
  assert.match(metrics, /endpoint="\/responses\/input_tokens",status="200"/);
});

test('a config naming an unset or malformed key variable is refused (llmux check)', () => {
  const dir = tempDir();
  const file = path.join(dir, 'llmux.yaml');
  fs.writeFileSync(file, toYaml(config({ responses: { encryption_key_env: 'COMPACT_SEAL_KEY' } })(8080, dir)));
  const check = (env) => {
    const r = spawnSync(LLMUX_BIN, ['check', '-c', file], { env: childEnv(env), encoding: 'utf8', timeout: 20000 });
    assert.ok(!/AddressSanitizer|runtime error:|LeakSanitizer/.test(r.stderr), r.stderr);
    return r;
  };
  let r = check({});
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /responses\.encryption_key_env: environment variable COMPACT_SEAL_KEY is not set/);
  r = check({ COMPACT_SEAL_KEY: 'abc' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /COMPACT_SEAL_KEY does not hold 64 hex digits/);
  assert.ok(!r.stderr.includes('abc'), 'the value is never printed');
  r = check({ COMPACT_SEAL_KEY: KEY });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /seal_key   from \$COMPACT_SEAL_KEY/);
  assert.ok(!r.stdout.includes(KEY));
});
