// retry.test.mjs — retries and fallbacks (issue 4, items 1, 3 and 4). A model
// names a chain of deployments (backend + upstream model) and a retry policy;
// a failure before the client has a byte is retried on the same deployment
// (with backoff, honouring Retry-After) and then handed to the next one; a
// full queue overflows to the next one; nothing is retried after the first
// byte, nor a client error. Every attempt is in the audit record.
//
// Several sims, each with one --fault for every request, plus a port nobody
// listens on. Health probes run once at start (they would count in
// /sim/stats); each test resets the sims it looks at.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, sseData, assertOpenAIError, USER, waitFor,
  freePort,
} from './harness.mjs';

const SIMS = {
  ok: ['--models', 'sim-model,fb-model'],
  s503: ['--fault', 'status=503'],
  s429: ['--fault', 'status=429'], // the sim adds Retry-After: 1
  s400: ['--fault', 'status=400'],
  hang: ['--fault', 'hang'],
  // paced, so the chunks before the reset reach the client before the RST does
  reset: ['--fault', 'reset-after=2', '--tps', '20'],
  slow: ['--ttft-ms', '1500'], // holds its one slot
};
const TIMEOUTS = { connect_ms: 1000, first_byte_ms: 400, idle_ms: 2000, total_ms: 10000 };
const FAST = { backoff_ms: 10, max_backoff_ms: 20 };
const sims = {};
let gw, config;
let closedPort;

const fallback = [{ backend: 'ok', upstream_model: 'fb-model' }];

before(async () => {
  const names = Object.keys(SIMS);
  const started = await Promise.all(names.map((n) => startSim({ args: SIMS[n] })));
  names.forEach((n, i) => { sims[n] = started[i]; });
  closedPort = await freePort();
  // The failing sims fail their /models too, and fail again and again: neither
  // active checks nor the circuit may take them out of rotation here (health
  // .test.mjs covers that). 'ok' lists the fallbacks' pinned id.
  const failing = { health_check: false, circuit: { enabled: false } };
  const backends = names.map((n) => ({
    name: n, url: sims[n].url, timeouts: TIMEOUTS, ...(n === 'ok' ? {} : failing),
  }));
  const slow = backends.find((b) => b.name === 'slow');
  slow.max_in_flight = 1; // no queue: a second request finds it full
  slow.timeouts = { ...TIMEOUTS, first_byte_ms: 5000 };
  backends.push({ name: 'closed', url: `http://127.0.0.1:${closedPort}/v1`, timeouts: TIMEOUTS, ...failing });
  config = (extra = {}) => (port, dir) => makeConfig({
      port, dir,
      backends,
      models: [
        { name: 'conn', backend: 'closed', upstream_model: 'primary', fallbacks: fallback },
        { name: 'flaky', backend: 's503', fallbacks: fallback, retry: { attempts: 2, ...FAST } },
        { name: 'bad', backend: 's400', fallbacks: fallback, retry: { attempts: 3, ...FAST } },
        { name: 'midstream', backend: 'reset', fallbacks: fallback, retry: { attempts: 2, ...FAST } },
        {
          name: 'deadline', backend: 'hang', fallbacks: fallback,
          retry: { attempts: 5, ...FAST, deadline_ms: 600 },
        },
        { name: 'overflow', backend: 'slow', fallbacks: fallback },
        { name: 'limited', backend: 's429', retry: { attempts: 2, ...FAST } },
        { name: 'only-connect', backend: 's503', fallbacks: fallback, retry: { attempts: 2, on: ['connect'] } },
      ],
      extra: { health: { interval_ms: 3600000, timeout_ms: 1000 }, ...extra },
    });
  gw = await startLlmux({ config: config() });
  await probed(gw);
});

/** Waits until gateway g has probed every checked backend once (probes count in /sim/stats). */
const probed = (g) => waitFor(async () => {
  const j = await (await fetch(`${g.origin}/readyz`)).json();
  return j.backends.find((b) => b.name === 'ok').checked; // the only one with active checks
}, { what: "'ok' probed once" });

after(async () => { await stopAll(gw, ...Object.values(sims)); });

beforeEach(async () => { await Promise.all(Object.values(sims).map((s) => s.reset())); });

const chatURL = () => `${gw.baseURL}/chat/completions`;
const ask = (model, rid, extra = {}) =>
  postJSON(chatURL(), { model, messages: USER(`hello ${rid}`), ...extra }, { 'x-request-id': rid });
const requests = async (name) => (await sims[name].stats()).requests;

test('(a) a connect failure on the first deployment falls back to the second', async () => {
  const r = await ask('conn', 'conn-1');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal((await sims.ok.last()).json.model, 'fb-model', 'the fallback got its own upstream id');
  const rec = await gw.waitAudit('conn-1');
  assert.equal(rec.status, 200);
  assert.equal(rec.backend, 'ok');
  assert.equal(rec.upstream_model, 'fb-model');
  assert.equal(rec.attempts.length, 2, JSON.stringify(rec.attempts));
  assert.deepEqual(
    rec.attempts.map(({ backend, upstream_model, result, status }) => ({ backend, upstream_model, result, status })),
    [
      { backend: 'closed', upstream_model: 'primary', result: 'connect_failed', status: null },
      { backend: 'ok', upstream_model: 'fb-model', result: 'done', status: 200 },
    ]);
  for (const a of rec.attempts) assert.equal(typeof a.ms, 'number');
});

test('(b) a 503 is retried on the same deployment (attempts: 2), then falls back', async () => {
  const r = await ask('flaky', 'flaky-1');
  assert.equal(r.status, 200, r.text);
  assert.equal(await requests('s503'), 2, 'two tries on the failing deployment');
  assert.equal(await requests('ok'), 1);
  const rec = await gw.waitAudit('flaky-1');
  assert.deepEqual(rec.attempts.map((a) => [a.backend, a.status]),
    [['s503', 503], ['s503', 503], ['ok', 200]]);
  assert.equal(rec.backend, 'ok');
});

test('(b2) a class the policy does not name is not retried: the 503 goes to the client', async () => {
  const r = await ask('only-connect', 'oc-1');
  assert.equal(r.status, 503);
  assertOpenAIError(r.json);
  assert.equal(await requests('s503'), 1);
  assert.equal(await requests('ok'), 0);
  const rec = await gw.waitAudit('oc-1');
  assert.equal(rec.attempts.length, 1);
  assert.equal(rec.backend, 's503');
});

test('(c) a 400 from the backend is the client\'s fault: one attempt, 400 to the client', async () => {
  const r = await ask('bad', 'bad-1');
  assert.equal(r.status, 400);
  assertOpenAIError(r.json);
  assert.equal(await requests('s400'), 1, 'not retried');
  assert.equal(await requests('ok'), 0, 'no fallback');
  const rec = await gw.waitAudit('bad-1');
  assert.equal(rec.attempts.length, 1);
  assert.equal(rec.attempts[0].status, 400);
});

test('(d) a stream that fails after its first byte is not retried: error chunk, no fallback', async () => {
  const res = await fetch(chatURL(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'mid-1' },
    body: JSON.stringify({ model: 'midstream', messages: USER('tell me a story'), stream: true }),
  });
  assert.equal(res.status, 200);
  const events = sseData(await res.text());
  assert.ok(!events.includes('[DONE]'), JSON.stringify(events));
  assertOpenAIError(JSON.parse(events.at(-1)));
  assert.ok(events.length >= 2, 'chunks came before the error');
  const rec = await gw.waitAudit('mid-1');
  assert.equal(rec.attempts.length, 1, JSON.stringify(rec.attempts));
  assert.equal(rec.backend, 'reset');
  assert.equal(await requests('reset'), 1);
  assert.equal(await requests('ok'), 0, 'the fallback never saw the request');
});

test('(e) the deadline stops further attempts: 504 after two timeouts, no fallback', async () => {
  const t0 = Date.now();
  const r = await ask('deadline', 'dl-1');
  const took = Date.now() - t0;
  assert.equal(r.status, 504, r.text);
  assertOpenAIError(r.json, { code: 'upstream_timeout' });
  // first_byte_ms 400: the first try ends at ~400 ms (< 600, so a second one
  // starts), the second at ~800 ms (past 600: no third, no fallback)
  assert.ok(took >= 700 && took < 2500, `took ${took} ms`);
  await waitFor(async () => (await requests('hang')) === 2, { what: 'two tries on the hanging backend' });
  assert.equal(await requests('ok'), 0, 'the deadline kept the fallback from being tried');
  const rec = await gw.waitAudit('dl-1');
  assert.deepEqual(rec.attempts.map((a) => a.result), ['timeout_first_byte', 'timeout_first_byte']);
  assert.equal(rec.backend, 'hang');
});

test('(f) a deployment whose queue is full overflows to the fallback', async () => {
  const first = ask('overflow', 'ov-1');
  await waitFor(async () => {
    const j = await (await fetch(`${gw.origin}/readyz`)).json();
    return j.backends.find((b) => b.name === 'slow').in_flight === 1;
  }, { what: 'the slow backend busy' });
  const r = await ask('overflow', 'ov-2');
  assert.equal(r.status, 200, r.text);
  const rec = await gw.waitAudit('ov-2');
  assert.deepEqual(rec.attempts.map((a) => [a.backend, a.result]), [['slow', 'busy'], ['ok', 'done']]);
  assert.equal(rec.backend, 'ok');
  assert.equal((await first).status, 200);
  assert.equal((await gw.waitAudit('ov-1')).backend, 'slow', 'the first was served where it began');
  assert.equal(await requests('slow'), 1, 'the overflowing request never reached the full backend');
  assert.equal(await requests('ok'), 1);
});

test('(g) a 429 retry waits at least the backend\'s Retry-After', async () => {
  const t0 = Date.now();
  const r = await ask('limited', 'lim-1');
  const took = Date.now() - t0;
  assert.equal(r.status, 429, 'the last failure goes to the client');
  assert.equal(await requests('s429'), 2);
  assert.ok(took >= 950, `retried after ${took} ms (Retry-After: 1)`);
  const rec = await gw.waitAudit('lim-1');
  assert.equal(rec.attempts.length, 2);
});

test('(h) a client that leaves during a backoff ends the exchange: no further attempt', async () => {
  const ac = new AbortController();
  const p = fetch(chatURL(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'gone-1' },
    body: JSON.stringify({ model: 'limited', messages: USER('bye') }),
    signal: ac.signal,
  }).catch((e) => e);
  await waitFor(async () => (await requests('s429')) === 1, { what: 'the first try' });
  ac.abort();
  assert.ok((await p) instanceof Error);
  const rec = await gw.waitAudit('gone-1');
  assert.equal(rec.status, 499);
  assert.equal(rec.attempts.length, 1);
  await new Promise((r) => setTimeout(r, 1200)); // past the Retry-After the retry would wait
  assert.equal(await requests('s429'), 1, 'no retry after the client left');
});

test('(i) SIGTERM during a backoff answers 503 shutting_down; exit 0', async () => {
  const g = await startLlmux({ config: config({ drain_timeout_ms: 300 }) });
  try {
    await probed(g);
    await sims.s429.reset();
    const p = postJSON(`${g.baseURL}/chat/completions`, { model: 'limited', messages: USER('x') },
      { 'x-request-id': 'term-1' });
    await waitFor(async () => (await requests('s429')) === 1, { what: 'the first try' });
    g.proc.kill('SIGTERM');
    const r = await p;
    assert.equal(r.status, 503);
    assertOpenAIError(r.json, { code: 'shutting_down' });
    const rec = await g.waitAudit('term-1');
    assert.equal(rec.attempts.length, 1);
    // it exits on its own; a second SIGTERM from stop() while it does would kill it
    await g.exited;
  } finally {
    await g.stop(); // asserts exit 0 and a clean sanitizer report
  }
  assert.equal(await requests('s429'), 1, 'no retry during shutdown');
});
