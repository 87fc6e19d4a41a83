// responses_ws.test.mjs — WebSocket mode on /v1/responses (Open Responses
// 2026-04-24, RESPONSES.md 8) with the `ws` client: response.create frames
// get the same events as the SSE stream, one JSON per text frame; frames
// are handled one at a time in order; store:false responses chain through
// the connection's cache; an invalid frame gets an error frame and the
// connection stays usable; a failed continuation evicts the id it named;
// the connection time limit closes with websocket_connection_limit_reached;
// with auth on, the handshake needs a key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import WebSocket from 'ws';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll, sseData,
} from './harness.mjs';
import { assertValid } from './schema.mjs';

let sim, gw, limited;

before(async () => {
  // each answer takes a while: frames sent at once would overlap if not queued
  sim = await startSim({ args: ['--tokens', '5', '--ttft-ms', '30'] });
  // no health checks: the sim's counters see only the frames' requests
  const cfg = (extra) => (port, dir) => makeConfig({
    port, dir,
    backends: [{ name: 'sim', url: sim.url, health_check: false }],
    models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
    extra,
  });
  gw = await startLlmux({ config: cfg({ responses: { store: 'off', websocket: { max_queued: 2 } } }) });
  limited = await startLlmux({ config: cfg({ responses: { websocket: { max_connection_ms: 300 } } }) });
});

after(async () => { await stopAll(gw, limited, sim); });

const TERMINAL = new Set(['response.completed', 'response.failed', 'response.incomplete', 'error']);

/** Opens a WebSocket; messages are parsed and queued for next(). */
function connect(origin, headers = {}) {
  const ws = new WebSocket(`${origin.replace('http', 'ws')}/v1/responses`, { headers });
  const queue = [];
  const waiters = [];
  ws.on('message', (data, binary) => {
    assert.equal(binary, false, 'text frames only');
    const msg = JSON.parse(data.toString());
    // every frame is a streaming event or an OR WebSocket error frame, valid under the specs
    assertValid(msg.type === 'error' && 'status' in msg ? 'ws_error' : 'event', msg);
    if (waiters.length) waiters.shift()(msg);
    else queue.push(msg);
  });
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.opened = new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('unexpected-response', (req, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
    ws.on('error', reject);
  });
  ws.next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
  ws.create = (body) => ws.send(JSON.stringify({ type: 'response.create', ...body }));
  /** The events of one response, up to its terminal event (or an error frame). */
  ws.turn = async () => {
    const events = [];
    for (;;) {
      const ev = await ws.next();
      events.push(ev);
      if (TERMINAL.has(ev.type)) return events;
    }
  };
  return ws;
}

function assertNumbered(events) {
  events.forEach((ev, i) => assert.equal(ev.sequence_number, i, `sequence_number of ${ev.type}`));
}

function assertErrorFrame(ev, status, code) {
  assert.equal(ev.type, 'error');
  assert.equal(ev.status, status);
  assert.equal(typeof ev.error.message, 'string');
  assert.equal(typeof ev.error.type, 'string');
  assert.ok('param' in ev.error);
  assert.equal(ev.error.code, code);
}

test('the frames carry the SSE events; a store:false chain continues through the connection cache', async () => {
  // the same request over HTTP SSE, for the reference event list
  const r = await fetch(`${gw.baseURL}/responses`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', input: 'My name is Ada.', store: false, stream: true }),
  });
  const sse = sseData(await r.text()).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));

  const ws = connect(gw.origin);
  await ws.opened;
  ws.create({ model: 'chat', input: 'My name is Ada.', store: false });
  const first = await ws.turn();
  assert.deepEqual(first.map((e) => e.type), sse.map((e) => e.type), 'the same events as SSE');
  assertNumbered(first);
  const done1 = first.at(-1);
  assert.equal(done1.type, 'response.completed');
  assert.equal(done1.response.store, false);

  // the store is off: only the connection knows the first response
  ws.create({ model: 'chat', input: 'What is my name?', store: false, previous_response_id: done1.response.id });
  const second = await ws.turn();
  assertNumbered(second);
  assert.equal(second.at(-1).type, 'response.completed');
  assert.equal(second.at(-1).response.previous_response_id, done1.response.id);
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages, [
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: done1.response.output[0].content[0].text },
    { role: 'user', content: 'What is my name?' },
  ]);
  ws.close();
  assert.equal((await ws.closed).code, 1005);

  // another connection has no such cache entry
  const other = connect(gw.origin);
  await other.opened;
  other.create({ model: 'chat', input: 'hi', previous_response_id: done1.response.id });
  assertErrorFrame((await other.turn()).at(-1), 400, 'previous_response_not_found');
  other.close();
  await other.closed;
});

test('frames sent while a response runs are queued and handled in order', async () => {
  const ws = connect(gw.origin);
  await ws.opened;
  await sim.reset();
  ws.create({ model: 'chat', input: 'one', store: false });
  ws.create({ model: 'chat', input: 'two', store: false });
  ws.create({ model: 'chat', input: 'three', store: false });
  const turns = [await ws.turn(), await ws.turn(), await ws.turn()];
  const ids = new Set();
  for (const events of turns) {
    assertNumbered(events);
    assert.equal(events[0].type, 'response.created');
    assert.equal(events.at(-1).type, 'response.completed');
    // every event of a turn belongs to its response: no interleaving
    const id = events[0].response.id;
    ids.add(id);
    assert.equal(events.at(-1).response.id, id);
  }
  assert.equal(ids.size, 3);
  assert.deepEqual(turns.map((t) => t.at(-1).response.output.length > 0), [true, true, true]);
  const stats = await sim.stats();
  assert.equal(stats.requests, 3);
  assert.equal(stats.peak_active, 1, 'one response in flight per connection');
  ws.close();
  await ws.closed;
});

test('a frame past responses.websocket.max_queued gets websocket_queue_full; the others run', async () => {
  const ws = connect(gw.origin);
  await ws.opened;
  for (const input of ['one', 'two', 'three', 'four']) ws.create({ model: 'chat', input, store: false });
  const completed = [];
  const errors = [];
  while (completed.length < 3) {
    const ev = await ws.next();
    if (ev.type === 'error') errors.push(ev);
    if (ev.type === 'response.completed') completed.push(ev.response);
  }
  assert.equal(errors.length, 1);
  assertErrorFrame(errors[0], 429, 'websocket_queue_full');
  assert.equal(new Set(completed.map((r) => r.id)).size, 3, 'three distinct responses');
  ws.close();
  await ws.closed;
});

test('an invalid frame gets an error frame and the connection stays usable', async () => {
  const ws = connect(gw.origin);
  await ws.opened;
  ws.send('not json');
  assertErrorFrame(await ws.next(), 400, 'invalid_json');
  ws.send(JSON.stringify({ type: 'response.cancel' }));
  assertErrorFrame(await ws.next(), 400, 'invalid_event_type');
  ws.create({ model: 'chat', input: 'hi', stream: true });
  assertErrorFrame(await ws.next(), 400, 'unsupported_parameter');
  ws.create({ model: 'chat', input: 'hi', background: false });
  assertErrorFrame(await ws.next(), 400, 'unsupported_parameter');
  ws.create({ model: 'nope', input: 'hi' });
  assertErrorFrame(await ws.next(), 404, 'model_not_found');
  ws.create({ model: 'chat', input: 'still there?', store: false });
  const events = await ws.turn();
  assert.equal(events.at(-1).type, 'response.completed');
  ws.close();
  await ws.closed;
});

test('a failed continuation evicts the id it named from the connection cache', async () => {
  const ws = connect(gw.origin);
  await ws.opened;
  ws.create({ model: 'chat', input: 'remember me', store: false });
  const id = (await ws.turn()).at(-1).response.id;
  // a continuation that fails (unknown model: 404) ...
  ws.create({ model: 'nope', input: 'again', store: false, previous_response_id: id });
  assertErrorFrame(await ws.next(), 404, 'model_not_found');
  // ... takes the id out: a valid continuation no longer finds it
  ws.create({ model: 'chat', input: 'again', store: false, previous_response_id: id });
  assertErrorFrame(await ws.next(), 400, 'previous_response_not_found');
  ws.close();
  await ws.closed;
});

test('the connection time limit closes with websocket_connection_limit_reached', async () => {
  const ws = connect(limited.origin);
  await ws.opened;
  const ev = await ws.next();
  assertErrorFrame(ev, 400, 'websocket_connection_limit_reached');
  const closed = await ws.closed;
  assert.equal(closed.code, 1000);
});

test('with auth on, the handshake needs a valid key and frames run as that key', async () => {
  const dir = tempDir();
  const store = path.join(dir, 'keys.db');
  const made = spawnSync(LLMUX_BIN, ['keys', 'create', '--name', 'ws', '--store', store],
    { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  assert.equal(made.status, 0, made.stderr);
  const secret = made.stdout.trim();
  const keyId = made.stderr.match(/key (key_[0-9a-f]{8})/)[1];
  const authed = await startLlmux({
    dir,
    config: (port, d) => makeConfig({
      port, dir: d,
      backends: [{ name: 'sim', url: sim.url }],
      models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
      extra: { auth: { enabled: true, store } },
    }),
  });
  try {
    for (const headers of [{}, { authorization: 'Bearer llmux-sk-wrong' }]) {
      const ws = connect(authed.origin, headers);
      await assert.rejects(ws.opened, (e) => e.status === 401);
    }
    const ws = connect(authed.origin, { authorization: `Bearer ${secret}` });
    await ws.opened;
    ws.create({ model: 'chat', input: 'hi', store: false });
    const events = await ws.turn();
    assert.equal(events.at(-1).type, 'response.completed');
    ws.close();
    await ws.closed;
    const rec = await authed.waitAudit((r) => r.endpoint === '/v1/responses' && r.status === 200);
    assert.equal(rec.key_id, keyId);
  } finally {
    await stopAll(authed);
  }
});
