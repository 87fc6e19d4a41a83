// governance.test.mjs — key governance (issue 5, items 1, 2, 6): the admin
// HTTP API (create, list, get, patch, revoke; the running gateway sees each
// change at once; a wrong admin key gets 401; without admin.enabled every
// admin path is 404), per-key settings from `llmux keys`, tool allowlists
// per key and per model (refused 403 tool_not_allowed, or stripped before
// the request goes upstream), tool calls the sim makes to tools not offered
// (removed from a whole answer, an error chunk that ends a stream: never a
// call at the client), per-key max_concurrent (429 with Retry-After: 1, the
// slot given back on every ending), and no secret in any log or audit line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll, waitFor, USER,
} from './harness.mjs';

const ADMIN_KEY = 'adm-' + 'Zq9'.repeat(10);
const secrets = new Set([ADMIN_KEY]);
let sim, gw, strip, dir, store;

const tool = (name) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
});

function config(extra) {
  return (port, d) => makeConfig({
    port, dir: d,
    backends: [{ name: 'sim', url: sim.url, forward_headers: ['x-sim-fault'] }],
    models: [
      { name: 'chat', backend: 'sim', upstream_model: 'sim-model', tools_allowed: ['get_weather', 'get_time'] },
      { name: 'plain', backend: 'sim', upstream_model: 'sim-model' },
    ],
    extra,
  });
}

async function admin(method, p, body, key = ADMIN_KEY, g = gw) {
  const r = await fetch(`${g.origin}/admin/keys${p}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json };
}

async function newKey(body) {
  const r = await admin('POST', '', body);
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.secret, /^llmux-sk-[0-9A-Za-z]{32}$/);
  secrets.add(r.json.secret);
  return r.json;
}

const client = (secret, g = gw) => new OpenAI({ baseURL: g.baseURL, apiKey: secret, maxRetries: 0, timeout: 30000 });

async function apiError(promise) {
  const e = await promise.then(() => null, (x) => x);
  assert.ok(e instanceof OpenAI.APIError, `expected an API error, got ${e}`);
  return e;
}

const rid = (e) => e.headers?.['x-request-id'] ?? e.headers?.get?.('x-request-id');

before(async () => {
  dir = tempDir();
  store = path.join(dir, 'keys.db');
  sim = await startSim();
  const auth = { enabled: true, store };
  [gw, strip] = await Promise.all([
    startLlmux({ env: { LLMUX_ADMIN_KEY: ADMIN_KEY, LLMUX_LOG_LEVEL: 'debug' }, config: config({ auth, admin: { enabled: true } }) }),
    startLlmux({ env: { LLMUX_LOG_LEVEL: 'debug' }, config: config({ auth, policy: { forbidden_tools: 'strip' } }) }),
  ]);
});

after(async () => {
  await stopAll(gw, strip, sim);
  // nothing secret in any line the suite's gateways wrote
  const lines = [gw.err, gw.out, strip.err, strip.out, fs.readFileSync(gw.auditPath, 'utf8'),
    fs.readFileSync(strip.auditPath, 'utf8')].join('\n');
  assert.ok(secrets.size > 3);
  for (const s of secrets) assert.ok(!lines.includes(s), `a secret (${s.slice(0, 12)}...) in a log or audit line`);
});

test('admin: no key, a wrong key and a virtual key get 401 in OpenAI shape, never echoed', async () => {
  const k = await newKey({ name: 'probe' });
  for (const key of [null, 'wrong-admin-key-0000000000', k.secret, ADMIN_KEY + 'x']) {
    const r = await admin('GET', '', undefined, key);
    assert.equal(r.status, 401, String(key));
    assert.equal(r.json.error.code, 'invalid_api_key');
    assert.equal(r.json.error.type, 'invalid_request_error');
    if (key) assert.ok(!r.text.includes(key));
  }
  // the admin key is no virtual key either
  const e = await apiError(client(ADMIN_KEY).chat.completions.create({ model: 'plain', messages: USER('hi') }));
  assert.equal(e.status, 401);
});

test('admin: without admin.enabled an admin path is like any unknown path (401, then 404)', async () => {
  const r = await admin('GET', '', undefined, ADMIN_KEY, strip);
  const u = await fetch(`${strip.origin}/no/such/path`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(r.status, 401, 'the admin key is not a virtual key');
  assert.equal(u.status, 401);
  const k = await newKey({ name: 'for-strip' });
  await waitFor(async () => (await fetch(`${strip.baseURL}/models`, { headers: { authorization: `Bearer ${k.secret}` } })).status === 200,
    { what: 'the key on the second gateway' });
  for (const m of ['GET', 'POST', 'DELETE']) {
    const v = await admin(m, m === 'DELETE' ? `/${k.id}` : '', m === 'POST' ? { name: 'x' } : undefined, k.secret, strip);
    assert.equal(v.status, 404, m);
    assert.equal(v.json.error.code, 'unknown_url');
  }
});

test('admin: create, the key works at once, list, get, patch, revoke', async () => {
  const k = await newKey({ name: 'svc', models: ['chat', 'plain'], tools: ['get_weather'], rpm: 100, tpm: 5000,
    max_concurrent: 3, budget_usd: 12.5, priority: 'high', tags: ['team-a', 'batch'] });
  assert.equal(k.object, 'api_key');
  assert.match(k.id, /^key_[0-9a-f]{8}$/);
  assert.deepEqual([k.name, k.models, k.tools, k.rpm, k.tpm, k.max_concurrent, k.budget_usd, k.spent_usd, k.priority, k.tags, k.revoked_at],
    ['svc', ['chat', 'plain'], ['get_weather'], 100, 5000, 3, 12.5, 0, 'high', ['team-a', 'batch'], null]);
  // no wait: the admin call swapped the gateway's keyring before answering
  const ok = await client(k.secret).chat.completions.create({ model: 'plain', messages: USER('hi') });
  assert.ok(ok.choices[0].message.content.length > 0);

  const list = await admin('GET', '');
  assert.equal(list.status, 200);
  assert.equal(list.json.object, 'list');
  const mine = list.json.data.find((x) => x.id === k.id);
  assert.equal(mine.priority, 'high');
  assert.ok(!list.text.includes(k.secret) && !('secret' in mine));

  const one = await admin('GET', `/${k.id}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.json.tags, ['team-a', 'batch']);
  assert.ok(!('secret' in one.json));

  const p = await admin('PATCH', `/${k.id}`, { models: ['chat'], priority: 'low', tags: [] });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual([p.json.models, p.json.priority, p.json.tags, p.json.rpm], [['chat'], 'low', [], 100]);
  const e = await apiError(client(k.secret).chat.completions.create({ model: 'plain', messages: USER('hi') }));
  assert.equal(e.status, 403);
  assert.equal(e.code, 'model_not_allowed');

  const cleared = await admin('PATCH', `/${k.id}`, { models: null, tools: null });
  assert.deepEqual([cleared.json.models, cleared.json.tools], [null, null]);

  const d = await admin('DELETE', `/${k.id}`);
  assert.equal(d.status, 200);
  assert.match(d.json.revoked_at, /^\d{4}-\d\d-\d\dT/);
  const gone = await apiError(client(k.secret).chat.completions.create({ model: 'plain', messages: USER('hi') }));
  assert.equal(gone.status, 401);
  assert.equal((await admin('DELETE', `/${k.id}`)).status, 404, 'revoked twice');
  assert.equal((await admin('PATCH', `/${k.id}`, { rpm: 1 })).status, 404, 'a revoked key stays revoked');

  const rec = await gw.waitAudit((r) => r.admin_action === 'revoke' && r.key_id === k.id);
  assert.equal(rec.status, 200);
  assert.equal(rec.method, 'DELETE');
  const created = await gw.waitAudit((r) => r.admin_action === 'create' && r.key_id === k.id);
  assert.equal(created.status, 201);
});

test('admin: bad bodies and unknown ids are 400/404 in OpenAI shape', async () => {
  const cases = [
    ['POST', '', { models: ['x'] }, 400, 'missing_required_parameter', 'name'],
    ['POST', '', { name: 'x', colour: 'red' }, 400, 'unknown_parameter', 'colour'],
    ['POST', '', { name: 'x', rpm: -1 }, 400, 'invalid_value', 'rpm'],
    ['POST', '', { name: 'x', rpm: 1.5 }, 400, 'invalid_value', 'rpm'],
    ['POST', '', { name: 'x', priority: 'urgent' }, 400, 'invalid_value', 'priority'],
    ['POST', '', { name: 'x', tools: ['ok', 3] }, 400, 'invalid_value', 'tools'],
    ['POST', '', '{"name":', 400, 'invalid_json', null],
    ['GET', '/key_00000000', undefined, 404, 'key_not_found', null],
    ['PATCH', '/key_00000000', { rpm: 1 }, 404, 'key_not_found', null],
    ['PUT', '', {}, 405, 'method_not_allowed', null],
  ];
  for (const [m, p, body, status, code, param] of cases) {
    const r = await admin(m, p, body);
    assert.equal(r.status, status, `${m} ${p} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, code);
    assert.equal(r.json.error.param, param);
    assert.equal(typeof r.json.error.message, 'string');
  }
});

test('keys CLI: create with every setting, list shows them, update changes them', () => {
  const cli = (args) => spawnSync(LLMUX_BIN, ['keys', ...args, '--store', store], { env: childEnv(), encoding: 'utf8' });
  const c = cli(['create', '--name', 'cli', '--models', 'chat', '--tools', 'get_weather,get_time', '--rpm', '7',
    '--tpm', '900', '--max-concurrent', '2', '--budget', '3.5', '--priority', 'low', '--tag', 'ops', '--tag', 'x']);
  assert.equal(c.status, 0, c.stderr);
  secrets.add(c.stdout.trim());
  const id = c.stderr.match(/key (key_[0-9a-f]{8})/)[1];
  let l = cli(['list']);
  assert.match(l.stdout, new RegExp(`${id}\\s+cli[^\\n]*\\n\\s+tools=\\["get_weather","get_time"\\] rpm=7 tpm=900 max_concurrent=2 budget_usd=3.5000 spent_usd=0.0000 priority=low tags=\\["ops","x"\\]`));
  assert.ok(!l.stdout.includes(c.stdout.trim()));
  const u = cli(['update', id, '--priority', 'high', '--tools', '', '--tag', '']);
  assert.equal(u.status, 0, u.stderr);
  l = cli(['list']);
  assert.match(l.stdout, new RegExp(`${id}\\s+cli[^\\n]*\\n\\s+tools=\\* rpm=7 [^\\n]*priority=high tags=\\[\\]`));
  assert.equal(cli(['update', id, '--priority', 'urgent']).status, 2);
  assert.equal(cli(['update', 'key_00000000', '--rpm', '1']).status, 1);
  assert.equal(cli(['update', id]).status, 2, 'nothing to change');
});

test('a key without a tool: offering it is 403 tool_not_allowed, audited with the key\'s tags', async () => {
  const k = await newKey({ name: 'weather-only', tools: ['get_weather'], tags: ['tenant-7'] });
  const e = await apiError(client(k.secret).chat.completions.create({
    model: 'chat', messages: USER('time please'), tools: [tool('get_weather'), tool('get_time')],
  }));
  assert.equal(e.status, 403);
  assert.equal(e.code, 'tool_not_allowed');
  assert.equal(e.param, 'tools');
  assert.match(e.message, /`get_time` is not allowed for this API key/);
  const rec = await gw.waitAudit(rid(e));
  assert.deepEqual(rec.key_tags, ['tenant-7']);
  assert.equal(rec.tool_policy.offer_action, 'refused');
  assert.deepEqual(rec.tool_policy.denied_tools, [{ name: 'get_time', why: 'not_allowed_by_key' }]);
  assert.equal(rec.attempts.length, 0, 'never sent upstream');
  // the allowed tool alone goes through, and the record says so
  const ok = await client(k.secret).chat.completions.create({
    model: 'chat', messages: USER('weather please'), tools: [tool('get_weather')], tool_choice: 'required',
  }).withResponse();
  assert.equal(ok.data.choices[0].message.tool_calls[0].function.name, 'get_weather');
  const rec2 = await gw.waitAudit(ok.response.headers.get('x-request-id'));
  assert.equal(rec2.tool_policy.offer_action, 'allowed');
  assert.equal(rec2.tool_policy.offered, 1);
});

test('a model without a tool (models[].tools_allowed): 403 tool_not_allowed', async () => {
  const k = await newKey({ name: 'any-tool' });
  const e = await apiError(client(k.secret).chat.completions.create({
    model: 'chat', messages: USER('go'), tools: [tool('get_weather'), tool('delete_all')],
  }));
  assert.equal(e.status, 403);
  assert.equal(e.code, 'tool_not_allowed');
  assert.match(e.message, /`delete_all` is not allowed on this model/);
  // the same tool on a model without a list is fine
  const ok = await client(k.secret).chat.completions.create({
    model: 'plain', messages: USER('go'), tools: [tool('delete_all')],
  });
  assert.equal(ok.choices.length, 1);
});

test('a tool call to a tool not offered never reaches the client (not streamed: removed)', async () => {
  const k = await newKey({ name: 'caller' });
  // the sim calls the tool tool_choice names even when tools[] lacks it
  const res = await client(k.secret).chat.completions.create({
    model: 'chat', messages: USER('weather'), tools: [tool('get_weather')],
    tool_choice: { type: 'function', function: { name: 'rm_rf' } },
  }).withResponse();
  const msg = res.data.choices[0].message;
  assert.equal(msg.tool_calls, undefined);
  assert.equal(res.data.choices[0].finish_reason, 'stop');
  const last = await sim.last();
  assert.equal(last.json.tools.length, 1, 'the sim was asked with get_weather only');
  const rec = await gw.waitAudit(res.response.headers.get('x-request-id'));
  assert.equal(rec.tool_policy.call_action, 'removed');
  assert.deepEqual(rec.tool_policy.denied_calls, [{ name: 'rm_rf', why: 'not_offered' }]);
});

test('a tool call to a tool not offered never reaches the client (streamed: error chunk, end)', async () => {
  const k = await newKey({ name: 'streamer' });
  const stream = await client(k.secret).chat.completions.create({
    model: 'chat', messages: USER('weather'), tools: [tool('get_weather')], stream: true,
    tool_choice: { type: 'function', function: { name: 'rm_rf' } },
  });
  const chunks = [];
  const err = await (async () => {
    try {
      for await (const c of stream) chunks.push(c);
    } catch (e) { return e; }
    return null;
  })();
  assert.ok(err instanceof OpenAI.APIError, `expected an error chunk, got ${err}`);
  assert.match(err.message, /rm_rf/);
  for (const c of chunks) for (const ch of c.choices) assert.equal(ch.delta.tool_calls, undefined, 'a call delta reached the client');
  const rec = await gw.waitAudit((r) => r.key_id === k.id && r.stream);
  assert.equal(rec.tool_policy.call_action, 'refused');
  assert.deepEqual(rec.tool_policy.denied_calls, [{ name: 'rm_rf', why: 'not_offered' }]);
  assert.equal(rec.error.type, 'tool_not_allowed');
  // an allowed streamed call passes untouched
  const ok = await client(k.secret).chat.completions.create({
    model: 'chat', messages: USER('weather'), tools: [tool('get_weather')], stream: true, tool_choice: 'required',
  });
  const names = [];
  for await (const c of ok) for (const t of c.choices[0]?.delta?.tool_calls ?? []) if (t.function?.name) names.push(t.function.name);
  assert.deepEqual(names, ['get_weather']);
});

test('strip mode: forbidden tools are removed before the request goes upstream', async () => {
  const k = await newKey({ name: 'stripped', tools: ['get_weather', 'delete_all'], tags: ['s'] });
  await waitFor(async () => {
    // the strip gateway reloads the store on its own refresh (no admin API there)
    const r = await fetch(`${strip.baseURL}/models`, { headers: { authorization: `Bearer ${k.secret}` } });
    return r.status === 200;
  }, { what: 'the key on the second gateway' });
  const res = await client(k.secret, strip).chat.completions.create({
    model: 'chat', messages: USER('weather'), tools: [tool('get_weather'), tool('delete_all'), tool('get_time')],
    tool_choice: 'required',
  }).withResponse();
  assert.equal(res.data.choices[0].message.tool_calls[0].function.name, 'get_weather');
  const last = await sim.last();
  assert.deepEqual(last.json.tools.map((t) => t.function.name), ['get_weather']);
  const rec = await strip.waitAudit(res.response.headers.get('x-request-id'));
  assert.equal(rec.tool_policy.offer_action, 'stripped');
  assert.deepEqual(rec.tool_policy.denied_tools, [
    { name: 'delete_all', why: 'not_allowed_by_model' }, { name: 'get_time', why: 'not_allowed_by_key' }]);
  // every tool stripped, and the model calls one anyway: the call is removed
  const res2 = await client(k.secret, strip).chat.completions.create({
    model: 'chat', messages: USER('x'), tools: [tool('delete_all')],
    tool_choice: { type: 'function', function: { name: 'delete_all' } },
  });
  assert.equal((await sim.last()).json.tools, undefined, 'no tools member left');
  assert.equal(res2.choices[0].message.tool_calls, undefined);
});

test('max_concurrent: 429 concurrency_limit_exceeded with Retry-After 1, slot back on every ending', async () => {
  const k = await newKey({ name: 'one-at-a-time', max_concurrent: 1 });
  const c = client(k.secret);
  const slow = c.chat.completions.create({ model: 'plain', messages: USER('slow') },
    { headers: { 'x-sim-fault': 'delay=1500' } });
  // the slow one holds the slot once it is at the sim (sent first is not arrived first)
  await waitFor(async () => (await sim.stats()).active > 0, { what: 'the slow request at the sim' });
  let refused = null;
  await waitFor(async () => {
    const r = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'plain', messages: USER('fast') }),
    });
    const text = await r.text();
    if (r.status === 429) refused = { r, json: JSON.parse(text) };
    return r.status === 429;
  }, { intervalMs: 20, what: 'a 429 while the slow request runs' });
  assert.equal(refused.r.headers.get('retry-after'), '1');
  assert.equal(refused.json.error.code, 'concurrency_limit_exceeded');
  assert.equal(refused.json.error.type, 'rate_limit_error');
  const rec = await gw.waitAudit(refused.r.headers.get('x-request-id'));
  assert.equal(rec.key_limited, 'concurrency');
  assert.equal(rec.status, 429);
  await slow;
  // done: the slot is back
  const ok = await c.chat.completions.create({ model: 'plain', messages: USER('after') });
  assert.equal(ok.choices.length, 1);
  // client gone: the slot comes back too
  const ac = new AbortController();
  const gone = c.chat.completions.create({ model: 'plain', messages: USER('abandon') },
    { headers: { 'x-sim-fault': 'delay=3000' }, signal: ac.signal }).catch((e) => e);
  await waitFor(async () => (await sim.stats()).active > 0, { what: 'the request at the sim' });
  ac.abort();
  await gone;
  const back = await waitFor(async () => {
    const r = await c.chat.completions.create({ model: 'plain', messages: USER('again') }).then(() => true, () => false);
    return r;
  }, { timeoutMs: 2500, intervalMs: 100, what: 'the slot back after the client left' });
  assert.ok(back);
  // an upstream error ends it too
  const e = await apiError(c.chat.completions.create({ model: 'plain', messages: USER('x') },
    { headers: { 'x-sim-fault': 'status=500' } }));
  assert.equal(e.status, 500);
  const ok2 = await c.chat.completions.create({ model: 'plain', messages: USER('after error') });
  assert.equal(ok2.choices.length, 1);
});

test('a key\'s own rpm: the second request in the minute is 429 rate_limit_exceeded', async () => {
  const k = await newKey({ name: 'rpm-1', rpm: 1 });
  const c = client(k.secret);
  const first = await c.chat.completions.create({ model: 'plain', messages: USER('one') }).withResponse();
  assert.equal(first.response.headers.get('x-ratelimit-limit-requests'), '1');
  assert.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '0');
  const e = await apiError(c.chat.completions.create({ model: 'plain', messages: USER('two') }));
  assert.equal(e.status, 429);
  assert.equal(e.code, 'rate_limit_exceeded');
  assert.match(e.message, new RegExp(`API key ${k.id}: Limit 1`));
  // another key, without its own rpm, is not limited (no per_key_rpm in this config)
  const other = await newKey({ name: 'no-rpm' });
  for (let i = 0; i < 3; i++) await client(other.secret).chat.completions.create({ model: 'plain', messages: USER('x') });
  // raised at once through the admin API
  assert.equal((await admin('PATCH', `/${k.id}`, { rpm: 1000 })).status, 200);
  const ok = await c.chat.completions.create({ model: 'plain', messages: USER('three') });
  assert.equal(ok.choices.length, 1);
});

test('admin.enabled without an admin key (or a short one): serve exits 1 and says which variable', () => {
  const d = tempDir();
  const cfg = path.join(d, 'c.yaml');
  fs.writeFileSync(cfg, `listeners: [{address: "127.0.0.1:1"}]\naudit: {path: off}\nadmin: {enabled: true, key_env: MY_ADMIN}\nauth: {store: ${d}/k.db}\n`);
  for (const env of [{}, { MY_ADMIN: 'short' }]) {
    const r = spawnSync(LLMUX_BIN, ['serve', '-c', cfg], { env: childEnv(env), encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /admin key of at least 16 bytes in the environment variable MY_ADMIN/);
    assert.ok(!r.stderr.includes('short'));
  }
});
