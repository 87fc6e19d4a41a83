// lifecycle.test.mjs — SIGTERM drains: streams in flight finish, new
// connections are refused, the process exits 0; past drain_timeout_ms what
// is left is ended with an error chunk. Readiness follows backend health.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startSim, startLlmux, makeConfig, stopAll, sseData, USER, waitFor, freePort,
} from './harness.mjs';

const cleanup = [];
after(async () => { await stopAll(...cleanup.filter((c) => c.running)); });

function connectRefused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}

async function waitExit(child, timeoutMs) {
  const t = new Promise((_, reject) => setTimeout(
    () => reject(new Error(`${child.name} did not exit within ${timeoutMs} ms\n${child.err}`)), timeoutMs).unref());
  return Promise.race([child.exited, t]);
}

/** Starts a streamed request and returns a reader over its SSE events. */
async function openStream(gw, model) {
  const r = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: USER('a slow story'), stream: true }),
  });
  assert.equal(r.status, 200);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  return {
    async until(pred) { // reads until pred(events) holds or the body ends
      for (;;) {
        if (pred(sseData(text))) return sseData(text);
        const { value, done } = await reader.read();
        if (done) return sseData(text);
        text += dec.decode(value, { stream: true });
      }
    },
    async rest() { return this.until(() => false); },
  };
}

test('SIGTERM with a stream in flight: the stream completes, new connections are refused, exit 0', async () => {
  const sim = await startSim({ args: ['--tps', '40', '--tokens', '60'] }); // ~1.5 s
  cleanup.push(sim);
  const gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url }],
      models: [{ name: 'chat', backend: 'sim' }],
      extra: { drain_timeout_ms: 20000 },
    }),
  });
  cleanup.push(gw);
  const s = await openStream(gw, 'chat');
  await s.until((ev) => ev.length >= 3);
  gw.proc.kill('SIGTERM');
  await waitFor(() => connectRefused(gw.port), { timeoutMs: 3000, what: 'the listener to close' });
  assert.ok(gw.running, 'still running while the stream is in flight');
  const events = await s.rest();
  assert.equal(events.at(-1), '[DONE]', 'the stream in flight completed');
  assert.equal(events.length, 1 + 60 + 1 + 1, 'role, 60 words, finish, [DONE]');
  const { code, signal } = await waitExit(gw, 10000);
  assert.equal(signal, null, gw.err);
  assert.equal(code, 0, gw.err);
  await gw.stop(); // asserts the sanitizer-clean exit
  await sim.stop();
});

test('SIGTERM past drain_timeout_ms: the stream ends with an error chunk, exit 0', async () => {
  const sim = await startSim({ args: ['--tps', '10', '--tokens', '200'] }); // ~20 s
  cleanup.push(sim);
  const gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url }],
      models: [{ name: 'chat', backend: 'sim' }],
      extra: { drain_timeout_ms: 500 },
    }),
  });
  cleanup.push(gw);
  const s = await openStream(gw, 'chat');
  await s.until((ev) => ev.length >= 2);
  const t0 = Date.now();
  gw.proc.kill('SIGTERM');
  const events = await s.rest();
  assert.ok(Date.now() - t0 < 5000, 'ended soon after the drain timeout');
  assert.ok(!events.includes('[DONE]'));
  const last = JSON.parse(events.at(-1));
  assert.equal(last.error?.code, 'shutting_down', events.at(-1));
  const { code } = await waitExit(gw, 10000);
  assert.equal(code, 0, gw.err);
  await gw.stop();
  await waitFor(async () => (await sim.stats()).cancelled === 1, { what: 'the upstream to be cancelled' });
  await sim.stop();
});

test('/readyz is 503 while the only backend is down, 200 once it is up', async () => {
  const simPort = await freePort();
  const gw = await startLlmux({
    ready: 'healthz',
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'later', url: `http://127.0.0.1:${simPort}/v1` }],
      models: [{ name: 'chat', backend: 'later' }],
    }),
  });
  cleanup.push(gw);
  const r = await fetch(`${gw.origin}/readyz`);
  assert.equal(r.status, 503);
  const body = await r.json();
  assert.equal(body.ready, false);
  assert.equal((await fetch(`${gw.origin}/healthz`)).status, 200, 'alive though not ready');
  const sim = await startSim({ port: simPort });
  cleanup.push(sim);
  await waitFor(async () => (await fetch(`${gw.origin}/readyz`)).status === 200,
    { timeoutMs: 5000, what: '/readyz 200 after the backend came up' });
  await sim.stop();
  await waitFor(async () => (await fetch(`${gw.origin}/readyz`)).status === 503,
    { timeoutMs: 5000, what: '/readyz 503 after the backend went away' });
  await gw.stop();
});
