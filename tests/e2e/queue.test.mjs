// queue.test.mjs — per-backend admission queues: a backend at max_in_flight
// queues requests (FIFO, bounded), hands a freed slot to the oldest one, and
// answers 429 with Retry-After when the queue is full (backend_busy) or a
// wait is too long (queue_timeout). A queued client that leaves is dropped
// from the queue at once; SIGTERM answers what is still queued.
//
// One sim with --ttft-ms holds each request's slot for a while; health probes
// are off after the first (they would count in /sim/stats).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, assertOpenAIError, USER, waitFor,
} from './harness.mjs';

const HOLD_MS = 1000; // how long the sim keeps each request (and so the slot)
let sim, gw;

const config = (extra = {}) => (port, dir) => makeConfig({
  port, dir,
  backends: [
    { name: 'one', url: sim.url, max_in_flight: 1, queue: { max: 2 } },
    { name: 'brief', url: sim.url, max_in_flight: 1, queue: { max: 2, max_wait_ms: 300 } },
  ],
  models: [
    { name: 'one', backend: 'one' },
    { name: 'brief', backend: 'brief' },
  ],
  extra: { health: { interval_ms: 3600000, timeout_ms: 1000 }, ...extra },
});

before(async () => {
  sim = await startSim({ args: ['--ttft-ms', String(HOLD_MS)] });
  gw = await startLlmux({ config: config() });
});

after(async () => { await stopAll(gw, sim); });

/** The backend's entry in /readyz of llmux instance g. */
async function status(g, name) {
  const j = await (await fetch(`${g.origin}/readyz`)).json();
  return j.backends.find((b) => b.name === name);
}

/** Sends a non-streamed chat request; resolves to {status, headers, json} or
 * to the error of an aborted fetch. */
function ask(g, model, rid, signal) {
  return fetch(`${g.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': rid },
    body: JSON.stringify({ model, messages: USER(`hello from ${rid}`) }),
    signal,
  }).then(async (r) => ({ status: r.status, headers: r.headers, json: await r.json() }), (e) => e);
}

/** Starts requests one after the other, each once the previous one is
 * running or queued, so their arrival order is known. Returns their promises. */
async function fill(g, model, rids, signals = []) {
  const out = [];
  for (let i = 0; i < rids.length; i++) {
    out.push(ask(g, model, rids[i], signals[i]));
    await waitFor(async () => {
      const s = await status(g, model);
      return s.in_flight === 1 && s.queued === i;
    }, { what: `${rids[i]} running or queued` });
  }
  return out;
}

test('three concurrent requests on one slot: all served, one at a time, in FIFO order', async () => {
  await sim.reset();
  let maxActive = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      maxActive = Math.max(maxActive, (await sim.stats()).active);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const finished = [];
  const pending = (await fill(gw, 'one', ['fifo-1', 'fifo-2', 'fifo-3']))
    .map((p, i) => p.then((r) => { finished.push(i + 1); return r; }));
  const results = await Promise.all(pending);
  polling = false;
  await poll;
  for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual(finished, [1, 2, 3], 'served in arrival order');
  assert.equal(maxActive, 1, 'the backend never had more than its one slot busy');
  const st = await sim.stats();
  assert.equal(st.requests, 3);
  assert.equal(st.completed, 3);

  const recs = await Promise.all(['fifo-1', 'fifo-2', 'fifo-3'].map((id) => gw.waitAudit(id)));
  assert.equal(recs[0].queue_ms, 0, 'the first was not queued');
  assert.ok(recs[1].queue_ms > HOLD_MS * 0.5, `second waited ${recs[1].queue_ms} ms`);
  assert.ok(recs[2].queue_ms > recs[1].queue_ms + HOLD_MS * 0.5,
    `third waited ${recs[2].queue_ms} ms, second ${recs[1].queue_ms} ms`);
  assert.ok(recs[2].queue_ms <= recs[2].latency_ms, 'queue time is part of the latency');
  const s = await status(gw, 'one');
  assert.equal(s.in_flight, 0);
  assert.equal(s.queued, 0);
});

test('a request that finds the queue full gets 429 backend_busy with Retry-After', async () => {
  await sim.reset();
  const pending = await fill(gw, 'one', ['full-1', 'full-2', 'full-3']);
  const r = await postJSON(`${gw.baseURL}/chat/completions`,
    { model: 'one', messages: USER('one too many') }, { 'x-request-id': 'full-4' });
  assert.equal(r.status, 429);
  assertOpenAIError(r.json, { code: 'backend_busy', type: 'rate_limit_error' });
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(Number.isInteger(ra) && ra >= 1, `Retry-After: ${r.headers.get('retry-after')}`);
  const rec = await gw.waitAudit('full-4');
  assert.equal(rec.status, 429);
  assert.equal(rec.queue_ms, 0);
  for (const res of await Promise.all(pending)) assert.equal(res.status, 200);
  assert.equal((await sim.stats()).requests, 3, 'the refused one never reached the backend');
});

test('a wait past max_wait_ms gets 429 queue_timeout with Retry-After; audit has queue_ms', async () => {
  await sim.reset();
  const [first, second] = await fill(gw, 'brief', ['wait-1', 'wait-2']);
  const r = await second;
  assert.equal(r.status, 429);
  assertOpenAIError(r.json, { code: 'queue_timeout', type: 'rate_limit_error' });
  assert.equal(r.headers.get('retry-after'), '1', 'max_wait_ms 300 rounds up to 1 s');
  const rec = await gw.waitAudit('wait-2');
  assert.equal(rec.status, 429);
  assert.equal(rec.error.type, 'queue_timeout');
  assert.ok(rec.queue_ms >= 290 && rec.queue_ms < 800, `queue_ms ${rec.queue_ms}`);
  assert.equal(rec.upstream_status, null);
  assert.equal((await first).status, 200);
  assert.equal((await sim.stats()).requests, 1, 'the timed-out one never reached the backend');
  assert.equal((await status(gw, 'brief')).queued, 0);
});

test('a queued client that leaves is dropped from the queue at once and never reaches the backend', async () => {
  await sim.reset();
  const ac = new AbortController();
  const t0 = Date.now();
  const [first, gone, third] = await fill(gw, 'one', ['leave-1', 'leave-2', 'leave-3'],
    [undefined, ac.signal, undefined]);
  ac.abort();
  assert.ok((await gone) instanceof Error, 'the fetch was aborted');
  await waitFor(async () => (await status(gw, 'one')).queued === 1,
    { timeoutMs: 2000, what: 'the aborted request to leave the queue' });
  assert.equal((await sim.stats()).completed, 0, 'it left while the first still ran');
  assert.equal((await first).status, 200);
  const r3 = await third;
  assert.equal(r3.status, 200);
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < HOLD_MS * 3 - 200, `third served right after the first (${elapsed} ms)`);
  const st = await sim.stats();
  assert.equal(st.requests, 2, 'the aborted request never reached the backend');
  const rec = await gw.waitAudit('leave-2');
  assert.equal(rec.status, 499);
  assert.equal(rec.upstream_status, null);
  assert.ok(rec.queue_ms > 0 && rec.queue_ms < HOLD_MS, `queue_ms ${rec.queue_ms}`);
  const rec3 = await gw.waitAudit('leave-3');
  assert.ok(rec3.queue_ms < HOLD_MS * 1.6, `third waited ${rec3.queue_ms} ms`);
});

test('SIGTERM past the drain timeout answers queued requests 503 shutting_down; exit 0', async () => {
  const g = await startLlmux({ config: config({ drain_timeout_ms: 300 }) });
  try {
    // its start-up health probes count in /sim/stats: let them finish first
    await waitFor(async () => (await status(g, 'one')).checked && (await status(g, 'brief')).checked,
      { what: 'both backends probed' });
    await sim.reset();
    const [running, queued] = await fill(g, 'one', ['term-1', 'term-2']);
    g.proc.kill('SIGTERM');
    const [r1, r2] = await Promise.all([running, queued]);
    assert.equal(r1.status, 503);
    assert.equal(r2.status, 503);
    assertOpenAIError(r2.json, { code: 'shutting_down' });
    const rec = await g.waitAudit('term-2');
    assert.equal(rec.status, 503);
    assert.ok(rec.queue_ms >= 250, `queue_ms ${rec.queue_ms}`);
    // it exits on its own; a second SIGTERM from stop() while it does would kill it
    await g.exited;
  } finally {
    await g.stop(); // asserts exit 0 and a clean sanitizer report
  }
  assert.equal((await sim.stats()).requests, 1, 'the queued request never reached the backend');
});
