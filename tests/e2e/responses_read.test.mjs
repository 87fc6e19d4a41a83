// responses_read.test.mjs — the stored-response endpoints as they stand
// before POST /v1/responses stores anything: unknown ids are 404 in OpenAI's
// shape through the official SDK (retrieve, delete, inputItems.list, cancel);
// bad limit/order/after/stream are 400 with their param; other methods are
// 405; every request is audited; `store: off` persists nothing; with auth a
// key is needed and sees only its own rows; a store that cannot be opened
// stops the start. Rows seeded straight into the SQLite file (with the
// sqlite3 command, when installed) check the answers byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll, assertOpenAIError,
  freePort,
} from './harness.mjs';
import { assertValid } from './schema.mjs';

const SAN = ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer'];
const HAVE_SQLITE = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' }).status === 0;
let sim, gw, off, authed, keyA, keyB, storeAuthed;

function keysCli(store, name) {
  const r = spawnSync(LLMUX_BIN, ['keys', 'create', '--name', name, '--store', store],
    { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  for (const m of SAN) assert.ok(!r.stderr.includes(m), r.stderr);
  assert.equal(r.status, 0, r.stderr);
  return { secret: r.stdout.trim(), id: r.stderr.match(/key (key_[0-9a-f]{8})/)[1] };
}

const config = (extra = {}) => (port, dir) => makeConfig({
  port, dir,
  backends: [{ name: 'sim', url: sim.url }],
  models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
  extra,
});

const sq = (s) => `'${s.replace(/'/g, "''")}'`;
/** Inserts rows into the store at file (sqlite3 CLI; the table exists). */
function seed(file, rows) {
  const now = Math.floor(Date.now() / 1000);
  const sql = rows.map((r) => 'INSERT INTO responses VALUES (' + [
    sq(r.id), sq(r.key_id ?? ''), sq(r.model ?? 'chat'), r.created_at ?? now, sq('completed'),
    sq(''), `CAST(${sq(r.response)} AS BLOB)`, `CAST(${sq(r.input)} AS BLOB)`,
    `CAST(${sq('[]')} AS BLOB)`,
  ].join(', ') + ');').join('\n');
  const r = spawnSync('sqlite3', [file], { input: sql, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

const ITEMS = Array.from({ length: 5 }, (_, i) => ({
  id: `msg_${i}`, type: 'message', role: 'user', content: [{ type: 'input_text', text: `t${i}` }],
}));
const RESPONSE = '{"id":"resp_seeded","object":"response","status":"completed","output":[]}';

before(async () => {
  sim = await startSim();
  gw = await startLlmux({ config: config() });
  off = await startLlmux({ config: config({ responses: { store: 'off' } }) });
  const dir = tempDir();
  const keyStore = path.join(dir, 'keys.db');
  keyA = keysCli(keyStore, 'a');
  keyB = keysCli(keyStore, 'b');
  storeAuthed = path.join(dir, 'responses.db');
  authed = await startLlmux({
    dir,
    config: config({ auth: { enabled: true, store: keyStore }, responses: { store: storeAuthed } }),
  });
  assert.ok(HAVE_SQLITE, 'the sqlite3 command (scripts/setup.sh installs it) seeds the store');
  {
    seed(path.join(gw.dir, 'llmux-responses.db'), [
      { id: 'resp_seeded', response: RESPONSE, input: JSON.stringify(ITEMS) },
      { id: 'resp_old', response: '{}', input: '[]', created_at: 1000 },
    ]);
    seed(storeAuthed, [{ id: 'resp_of_a', key_id: keyA.id, response: '{"id":"resp_of_a"}', input: '[]' }]);
  }
});

after(async () => { await stopAll(gw, off, authed, sim); });

const get = async (base, p, init = {}) => {
  const r = await fetch(`${base}${p}`, init);
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, text, json, headers: r.headers };
};

test('the default store file is created in the working directory, private', () => {
  const st = fs.statSync(path.join(gw.dir, 'llmux-responses.db'));
  assert.equal(st.mode & 0o077, 0);
});

test('unknown ids are 404 through the SDK, in OpenAI shape', async () => {
  const client = gw.client();
  for (const call of [
    () => client.responses.retrieve('resp_nope'),
    () => client.responses.delete('resp_nope'),
    () => client.responses.inputItems.list('resp_nope'),
    () => client.responses.cancel('resp_nope'),
  ]) {
    await assert.rejects(call, (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `${e}`);
      assert.equal(e.status, 404);
      assert.equal(e.error.message, "Response with id 'resp_nope' not found.");
      assert.equal(e.error.type, 'invalid_request_error');
      assert.equal(e.error.param, null);
      assert.equal(e.error.code, null);
      return true;
    });
  }
  const r = await get(gw.baseURL, '/responses/resp_nope');
  assert.equal(r.text,
    '{"error":{"message":"Response with id \'resp_nope\' not found.","type":"invalid_request_error","param":null,"code":null}}');
  assert.match(r.headers.get('x-request-id'), /^req_/);
});

test('an id llmux could never have made is a 404 too', async () => {
  const r = await get(gw.baseURL, '/responses/bad.id!');
  assert.equal(r.status, 404);
  assertOpenAIError(assertValid('error', r.json), { type: 'invalid_request_error' });
  const long = await get(gw.baseURL, `/responses/resp_${'x'.repeat(300)}`);
  assert.equal(long.status, 404);
});

test('input_items: limit, order, after and before are checked', async () => {
  const cases = [
    ['limit=0', 'limit', 'integer_below_min_value',
      "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead."],
    ['limit=101', 'limit', 'integer_above_max_value',
      "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead."],
    ['limit=ten', 'limit', 'invalid_type', "Invalid 'limit': expected an integer, but got 'ten' instead."],
    ['limit=-1', 'limit', 'invalid_type', "Invalid 'limit': expected an integer, but got '-1' instead."],
    ['order=up', 'order', 'invalid_value', "Invalid value: 'up'. Supported values are: 'asc' and 'desc'."],
    ['after=a%20b', 'after', 'invalid_value', "Invalid 'after': expected an item id."],
    ['before=%zz', 'before', 'invalid_value', "Invalid 'before': expected an item id."],
  ];
  for (const [q, param, code, message] of cases) {
    const r = await get(gw.baseURL, `/responses/resp_nope/input_items?${q}`);
    assert.equal(r.status, 400, q);
    const e = assertOpenAIError(assertValid('error', r.json), { code, type: 'invalid_request_error' });
    assert.equal(e.param, param, q);
    assert.equal(e.message, message, q);
  }
  // valid parameters reach the lookup: 404
  const ok = await get(gw.baseURL, '/responses/resp_nope/input_items?limit=100&order=asc&include[]=x');
  assert.equal(ok.status, 404);
});

test('GET with stream=true is refused with 400', async () => {
  const r = await get(gw.baseURL, '/responses/resp_nope?stream=true');
  assert.equal(r.status, 400);
  const e = assertOpenAIError(assertValid('error', r.json), { type: 'invalid_request_error' });
  assert.equal(e.param, 'stream');
  assert.match(e.message, /not supported/);
  assert.equal((await get(gw.baseURL, '/responses/resp_nope?stream=false')).status, 404);
});

test('other methods on these paths are 405', async () => {
  for (const [method, p] of [['PUT', '/responses/resp_x'], ['POST', '/responses/resp_x/input_items'],
    ['GET', '/responses/resp_x/cancel'], ['DELETE', '/responses/resp_x/cancel']]) {
    const r = await get(gw.baseURL, p, { method });
    assert.equal(r.status, 405, `${method} ${p}`);
    assertOpenAIError(assertValid('error', r.json), { code: 'method_not_allowed' });
  }
  const r = await get(gw.baseURL, '/responses/resp_x/other');
  assert.equal(r.status, 404);
  assertOpenAIError(assertValid('error', r.json), { code: 'unknown_url' });
});

test('each request is audited', async () => {
  const r = await get(gw.baseURL, '/responses/resp_audited', { headers: { 'x-request-id': 'e2e-resp-audit-1' } });
  assert.equal(r.status, 404);
  const rec = await gw.waitAudit('e2e-resp-audit-1');
  assert.equal(rec.endpoint, '/v1/responses/resp_audited');
  assert.equal(rec.status, 404);
  assert.equal(rec.key_id, null);
  assert.equal(rec.error.type, 'invalid_request_error');
  assert.equal(typeof rec.latency_ms, 'number');
});

test('store: off persists nothing and every read is 404', async () => {
  assert.ok(!fs.existsSync(path.join(off.dir, 'llmux-responses.db')));
  for (const [method, p] of [['GET', '/responses/resp_x'], ['DELETE', '/responses/resp_x'],
    ['GET', '/responses/resp_x/input_items'], ['POST', '/responses/resp_x/cancel']]) {
    const r = await get(off.baseURL, p, { method });
    assert.equal(r.status, 404, `${method} ${p}`);
    assert.equal(r.json.error.message, "Response with id 'resp_x' not found.");
  }
});

test('with auth a key is needed, and an unknown id is still 404', async () => {
  const none = await get(authed.baseURL, '/responses/resp_nope');
  assert.equal(none.status, 401);
  assertOpenAIError(assertValid('error', none.json), { code: 'invalid_api_key' });
  const client = authed.client({ apiKey: keyA.secret });
  await assert.rejects(client.responses.retrieve('resp_nope'), OpenAI.NotFoundError);
  const rec = await authed.waitAudit((x) => x.endpoint === '/v1/responses/resp_nope' && x.status === 404);
  assert.equal(rec.key_id, keyA.id);
});

test('a store that cannot be opened stops the start', async () => {
  const port = await freePort();
  const r = spawnSync(LLMUX_BIN, ['serve', '-l', `127.0.0.1:${port}`], {
    env: childEnv({ LLMUX_RESPONSES_STORE: '/nonexistent-llmux-dir/r.db', LLMUX_AUDIT_LOG: 'off' }),
    encoding: 'utf8', timeout: 20000, cwd: tempDir(),
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /responses store \/nonexistent-llmux-dir\/r\.db/);
  for (const m of SAN) assert.ok(!r.stderr.includes(m), r.stderr);
});

test('seeded rows: retrieve, pages, cancel, delete', async () => {
  const client = gw.client();
  const r = await get(gw.baseURL, '/responses/resp_seeded');
  assert.equal(r.status, 200);
  assert.equal(r.text, RESPONSE, 'the stored object, byte for byte');
  const page = await get(gw.baseURL, '/responses/resp_seeded/input_items?limit=2&order=asc&after=msg_1');
  assertValid('input_items', page.json);
  assert.equal(page.text, JSON.stringify({
    object: 'list', data: [ITEMS[2], ITEMS[3]], first_id: 'msg_2', last_id: 'msg_3', has_more: true,
  }));
  // the SDK's default order is desc; auto-pagination follows after= to the end
  const ids = [];
  for await (const item of client.responses.inputItems.list('resp_seeded', { limit: 2 })) ids.push(item.id);
  assert.deepEqual(ids, ['msg_4', 'msg_3', 'msg_2', 'msg_1', 'msg_0']);
  const bad = await get(gw.baseURL, '/responses/resp_seeded/input_items?after=msg_9');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, 'after');
  await assert.rejects(client.responses.cancel('resp_seeded'), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.message, 'Only responses created with background=true can be cancelled.');
    return true;
  });
  const del = await get(gw.baseURL, '/responses/resp_seeded', { method: 'DELETE' });
  assertValid('deleted', del.json);
  assert.equal(del.text, '{"id":"resp_seeded","object":"response","deleted":true}');
  assert.equal((await get(gw.baseURL, '/responses/resp_seeded')).status, 404);
  assert.equal((await get(gw.baseURL, '/responses/resp_seeded', { method: 'DELETE' })).status, 404);
  // past responses.ttl_hours: invisible
  assert.equal((await get(gw.baseURL, '/responses/resp_old')).status, 404);
});

test('seeded rows: another key sees a 404, not a 403', async () => {
  const a = authed.client({ apiKey: keyA.secret }), b = authed.client({ apiKey: keyB.secret });
  const mine = await a.responses.retrieve('resp_of_a');
  assert.equal(mine.id, 'resp_of_a');
  await assert.rejects(b.responses.retrieve('resp_of_a'), (e) => {
    assert.equal(e.status, 404);
    assert.equal(e.error.message, "Response with id 'resp_of_a' not found.");
    return true;
  });
  await assert.rejects(b.responses.delete('resp_of_a'), OpenAI.NotFoundError);
  await assert.rejects(b.responses.inputItems.list('resp_of_a'), OpenAI.NotFoundError);
  assert.equal((await a.responses.retrieve('resp_of_a')).id, 'resp_of_a', 'b could not delete it');
});
