// metrics.test.mjs — GET /metrics (issue 4, "measured"): after requests that
// succeed (plain and streamed), one a backend answers 429, one that waits in a
// backend's queue, one the full queue refuses (429 backend_busy), one that
// overflows to a fallback and one for an unknown model, the Prometheus text
// shows exactly those counts. The text is parsed here, so a malformed line
// fails the test.
//
// Sims: 'slow' holds each request for HOLD_MS (one slot, a queue of one),
// 'ok' answers at once, 's429' answers every request 429.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, USER, waitFor,
} from './harness.mjs';

const HOLD_MS = 800;
let sims = {}, gw;

before(async () => {
  const [slow, ok, s429] = await Promise.all([
    startSim({ args: ['--ttft-ms', String(HOLD_MS)] }),
    startSim(),
    startSim({ args: ['--fault', 'status=429'] }),
  ]);
  sims = { slow, ok, s429 };
  const quiet = { health_check: false, circuit: { enabled: false } };
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [
        { name: 'slow', url: slow.url, max_in_flight: 1, queue: { max: 1, max_wait_ms: 10000 } },
        { name: 'ok', url: ok.url },
        { name: 's429', url: s429.url, ...quiet },
      ],
      models: [
        { name: 'slow', backend: 'slow' },
        { name: 'spill', backend: 'slow', fallbacks: [{ backend: 'ok', upstream_model: 'sim-model' }] },
        { name: 'ok', backend: 'ok' },
        { name: 'limited', backend: 's429' },
      ],
      extra: { health: { interval_ms: 3600000, timeout_ms: 1000 } },
    }),
  });
});

after(async () => { await stopAll(gw, ...Object.values(sims)); });

/** Parses the text exposition format: {samples: Map("name{k=v,...}" -> number),
 * help: Map, type: Map}. Label keys are sorted; escapes are undone. */
function parseMetrics(text) {
  const samples = new Map(), help = new Map(), type = new Map();
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][\w:]*) (.*)$/.exec(line))) { help.set(m[1], m[2]); continue; }
    if ((m = /^# TYPE ([a-zA-Z_:][\w:]*) (counter|gauge|histogram)$/.exec(line))) { type.set(m[1], m[2]); continue; }
    m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2] !== undefined) {
      const re = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let l;
      let consumed = 0;
      while ((l = re.exec(m[2]))) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        consumed = re.lastIndex;
        if (consumed === m[2].length) break;
      }
      assert.equal(consumed, m[2].length, `labels parse: ${line}`);
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `a number: ${line}`);
    samples.set(key(m[1], labels), value);
  }
  return { samples, help, type };
}

function key(name, labels = {}) {
  const ks = Object.keys(labels).sort();
  return `${name}{${ks.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

async function scrape() {
  const r = await fetch(`${gw.origin}/metrics`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(await r.text());
}

const ask = (model, rid, extra = {}) => postJSON(`${gw.baseURL}/chat/completions`,
  { model, messages: USER(`hello ${rid}`), ...extra }, { 'x-request-id': rid });

async function backendStatus(name) {
  const j = await (await fetch(`${gw.origin}/readyz`)).json();
  return j.backends.find((b) => b.name === name);
}

test('before any request: build info, and a zero series per backend', async () => {
  const { samples, type, help } = await scrape();
  assert.equal(samples.get(key('llmux_build_info', { version: '0.1.0' })), 1);
  assert.equal(type.get('llmux_build_info'), 'gauge');
  assert.ok(help.get('llmux_build_info'));
  for (const b of ['slow', 'ok', 's429']) {
    assert.equal(samples.get(key('llmux_queue_depth', { backend: b })), 0);
    assert.equal(samples.get(key('llmux_in_flight', { backend: b })), 0);
    assert.equal(samples.get(key('llmux_circuit_state', { backend: b })), 0);
    assert.equal(samples.get(key('llmux_pin_violations', { backend: b })), 0);
  }
  assert.equal(samples.get(key('llmux_audit_dropped_total')), 0);
  assert.equal(type.get('llmux_queue_overflow_total'), 'counter');
  assert.equal(type.has('llmux_requests_total'), false, 'no series yet, so not rendered');
});

test('counts of requests, attempts, queue, overflow, fallbacks, tokens and durations', async () => {
  // three that succeed on 'ok': two plain, one streamed with usage
  const plain = await Promise.all([ask('ok', 'm-ok-1'), ask('ok', 'm-ok-2')]);
  for (const r of plain) assert.equal(r.status, 200, r.text);
  const stream = gw.client().chat.completions.create({
    model: 'ok', messages: USER('stream please'), stream: true, stream_options: { include_usage: true },
  }, { headers: { 'x-request-id': 'm-ok-3' } });
  let chunks = 0;
  for await (const _ of await stream) chunks++;
  assert.ok(chunks > 2);
  // the backend answers 429: relayed as it is
  const limited = await ask('limited', 'm-429');
  assert.equal(limited.status, 429, limited.text);
  // an unknown model: never a label of its own
  assert.equal((await ask('no-such-model', 'm-404')).status, 404);

  // 'slow': one runs, one waits in the queue, then the queue is full
  const first = ask('slow', 'm-q-1');
  await waitFor(async () => (await backendStatus('slow')).in_flight === 1, { what: 'm-q-1 running' });
  const queued = ask('slow', 'm-q-2');
  await waitFor(async () => (await backendStatus('slow')).queued === 1, { what: 'm-q-2 queued' });
  const busy = await ask('slow', 'm-busy');
  assert.equal(busy.status, 429, busy.text);
  assert.equal(busy.json.error.code, 'backend_busy');
  const spill = await ask('spill', 'm-spill'); // full: overflows to 'ok'
  assert.equal(spill.status, 200, spill.text);
  for (const r of await Promise.all([first, queued])) assert.equal(r.status, 200, r.text);

  const rids = ['m-ok-1', 'm-ok-2', 'm-ok-3', 'm-429', 'm-404', 'm-q-1', 'm-q-2', 'm-busy', 'm-spill'];
  const recs = await Promise.all(rids.map((id) => gw.waitAudit(id)));
  const byId = Object.fromEntries(recs.map((r) => [r.request_id, r]));

  const { samples: s, type } = await scrape();
  const req = (model, status) =>
    s.get(key('llmux_requests_total', { model, endpoint: '/chat/completions', status }));
  assert.equal(req('ok', '200'), 3);
  assert.equal(req('limited', '429'), 1);
  assert.equal(req('', '404'), 1, 'an unknown model is counted under model=""');
  assert.equal(req('no-such-model', '404'), undefined);
  assert.equal(req('slow', '200'), 2);
  assert.equal(req('slow', '429'), 1);
  assert.equal(req('spill', '200'), 1);

  const att = (backend, result) => s.get(key('llmux_upstream_attempts_total', { backend, result })) ?? 0;
  // a stream whose client closes right after [DONE], before the backend's
  // body has ended, was served in full: its attempt is "done" too
  assert.equal(att('ok', 'done'), 4, 'three for ok, one for the overflow of spill');
  assert.equal(att('ok', 'cancelled'), 0);
  const fromAudit = new Map();
  for (const r of recs) {
    for (const a of r.attempts) {
      const k = key('llmux_upstream_attempts_total', { backend: a.backend, result: a.result });
      fromAudit.set(k, (fromAudit.get(k) || 0) + 1);
    }
  }
  for (const [k, n] of fromAudit) assert.equal(s.get(k), n, `${k} as in the audit records`);
  assert.equal(att('s429', 'done'), 1);
  assert.equal(att('slow', 'done'), 2);
  assert.equal(att('slow', 'busy'), 2, 'm-busy and the first try of m-spill');

  const ov = (action) => s.get(key('llmux_queue_overflow_total', { backend: 'slow', action }));
  assert.equal(ov('reject'), 1);
  assert.equal(ov('overflow'), 1);
  assert.equal(s.get(key('llmux_queue_overflow_total', { backend: 'ok', action: 'reject' })), 0);
  assert.equal(s.get(key('llmux_queue_timeouts_total', { backend: 'slow' })), 0);
  assert.equal(s.get(key('llmux_fallbacks_total', { model: 'spill' })), 1);
  assert.equal(s.get(key('llmux_retries_total', { model: 'spill' })), undefined);

  // exactly one request waited in a queue, about one hold long
  assert.equal(type.get('llmux_queue_wait_seconds'), 'histogram');
  const qCount = s.get(key('llmux_queue_wait_seconds_count', { backend: 'slow' }));
  const qSum = s.get(key('llmux_queue_wait_seconds_sum', { backend: 'slow' }));
  assert.equal(qCount, 1);
  assert.ok(Math.abs(qSum * 1000 - byId['m-q-2'].queue_ms) < 50,
    `queue wait ${qSum} s vs audit ${byId['m-q-2'].queue_ms} ms`);
  assert.equal(s.get(key('llmux_queue_wait_seconds_bucket', { backend: 'slow', le: '+Inf' })), 1);
  assert.equal(s.get(key('llmux_queue_wait_seconds_bucket', { backend: 'slow', le: '0.1' })), 0);
  assert.equal(s.get(key('llmux_queue_depth', { backend: 'slow' })), 0);
  assert.equal(s.get(key('llmux_in_flight', { backend: 'slow' })), 0);

  // durations and first tokens of the three 'ok' requests; buckets are cumulative
  assert.equal(s.get(key('llmux_request_duration_seconds_count', { model: 'ok' })), 3);
  assert.equal(s.get(key('llmux_request_duration_seconds_bucket', { model: 'ok', le: '+Inf' })), 3);
  assert.equal(s.get(key('llmux_time_to_first_token_seconds_count', { model: 'ok' })), 3);
  let prev = 0;
  for (const le of ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '+Inf']) {
    const v = s.get(key('llmux_request_duration_seconds_bucket', { model: 'slow', le }));
    assert.ok(v >= prev, `cumulative at le=${le}`);
    prev = v;
  }
  assert.equal(s.get(key('llmux_request_duration_seconds_bucket', { model: 'slow', le: '0.5' })), 1,
    'only the refused one was quick');

  // tokens: what the audit records say the backend reported
  const okRecs = ['m-ok-1', 'm-ok-2', 'm-ok-3'].map((id) => byId[id]);
  const sum = (f) => okRecs.reduce((a, r) => a + r[f], 0);
  assert.equal(s.get(key('llmux_tokens_total', { model: 'ok', kind: 'input' })), sum('prompt_tokens'));
  assert.equal(s.get(key('llmux_tokens_total', { model: 'ok', kind: 'output' })), sum('completion_tokens'));
  assert.ok(sum('completion_tokens') > 0);
});

test('with auth, /metrics needs a key unless auth.public_paths lists it', async () => {
  const start = (extraAuth) => startLlmux({
    ready: 'healthz',
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'ok', url: sims.ok.url }],
      models: [{ name: 'ok', backend: 'ok' }],
      extra: { auth: { enabled: true, store: `${dir}/keys.db`, ...extraAuth } },
    }),
  });
  const closed = await start({});
  const open = await start({ public_paths: ['/healthz', '/metrics'] });
  try {
    const r = await fetch(`${closed.origin}/metrics`);
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error.code, 'invalid_api_key');
    const o = await fetch(`${open.origin}/metrics`);
    assert.equal(o.status, 200);
    const { samples } = parseMetrics(await o.text());
    assert.equal(samples.get(key('llmux_build_info', { version: '0.1.0' })), 1);
  } finally {
    await stopAll(closed, open);
  }
});
