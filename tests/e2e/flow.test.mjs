// flow.test.mjs — the stream is pulled by the client: a client that goes
// away cancels the upstream request; a client that reads slowly pauses the
// upstream instead of growing a buffer in the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startSim, startLlmux, makeConfig, stopAll, USER, waitFor, rssKB,
} from './harness.mjs';

const BUFFER = 65536;
let slow, fast, waiting, gw, client;

before(async () => {
  [slow, fast, waiting] = await Promise.all([
    startSim({ args: ['--tps', '20', '--tokens', '400'] }), // a 20 s stream
    startSim({ args: ['--tokens', '100000'] }), // ~20 MB of SSE, as fast as it is read
    startSim({ args: ['--ttft-ms', '20000'] }), // 20 s before any answer
  ]);
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [
        { name: 'slow', url: slow.url },
        { name: 'fast', url: fast.url },
        { name: 'limited', url: slow.url, max_in_flight: 1 },
        { name: 'waiting', url: waiting.url },
      ],
      models: [
        { name: 'slow', backend: 'slow' },
        { name: 'fast', backend: 'fast' },
        { name: 'limited', backend: 'limited' },
        { name: 'waiting', backend: 'waiting' },
      ],
      // one health probe at start only: probes would count in /sim/stats
      extra: { limits: { max_stream_buffer_bytes: BUFFER }, health: { interval_ms: 3600000, timeout_ms: 1000 } },
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, slow, fast, waiting); });

test('a client that aborts mid-stream cancels the upstream request; audit says 499', async () => {
  await slow.reset();
  const ac = new AbortController();
  const rid = 'abort-test-1';
  const stream = await client.chat.completions.create(
    { model: 'slow', messages: USER('a long story please'), stream: true },
    { signal: ac.signal, headers: { 'x-request-id': rid } },
  );
  let chunks = 0;
  // the SDK ends the iteration quietly (or throws an abort error) on abort
  try {
    for await (const _ of stream) { // eslint-disable-line no-unused-vars
      if (++chunks === 3) ac.abort();
    }
  } catch (e) {
    assert.ok(e.name === 'AbortError' || /abort/i.test(String(e)), String(e));
  }
  assert.equal(chunks, 3);
  const stats = await waitFor(async () => {
    const s = await slow.stats();
    return s.cancelled === 1 && s.active === 0 ? s : null;
  }, { timeoutMs: 5000, what: 'the sim to see the request cancelled' });
  assert.equal(stats.completed, 0);
  const rec = await gw.waitAudit(rid);
  assert.equal(rec.status, 499);
  assert.equal(rec.stream, true);
  assert.equal(rec.upstream_result, 'cancelled');
  assert.ok(rec.latency_ms < 10000, 'the record was written right after the abort, not at the end of the stream');
});

test('a client that closes the connection while waiting for the first byte cancels too', async () => {
  await slow.reset();
  const sock = net.connect(gw.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  const body = JSON.stringify({ model: 'slow', messages: USER('x'), stream: true });
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `x-request-id: abort-test-2\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  // the sim has the request once it is active
  await waitFor(async () => (await slow.stats()).active === 1, { what: 'the request to reach the sim' });
  sock.destroy();
  await waitFor(async () => (await slow.stats()).cancelled === 1, { timeoutMs: 5000, what: 'cancelled' });
  const rec = await gw.waitAudit('abort-test-2');
  assert.equal(rec.status, 499);
});

test('a client that gives up on a non-streamed answer cancels the upstream too', async () => {
  // h2o does not read an HTTP/1 connection while the gateway waits for the
  // backend; the gateway watches waiting clients and cancels for those gone
  await waiting.reset();
  const ac = new AbortController();
  const pending = client.chat.completions.create(
    { model: 'waiting', messages: USER('a long answer, not streamed') },
    { signal: ac.signal, headers: { 'x-request-id': 'abort-test-3' } },
  ).catch((e) => e);
  await waitFor(async () => (await waiting.stats()).active === 1, { what: 'the request to reach the sim' });
  ac.abort();
  const err = await pending;
  assert.ok(err instanceof Error, 'the SDK call was aborted');
  const stats = await waitFor(async () => {
    const st = await waiting.stats();
    return st.cancelled === 1 && st.active === 0 ? st : null;
  }, { timeoutMs: 3000, what: 'the sim to see the non-streamed request cancelled' });
  assert.equal(stats.completed, 0, 'the backend did not generate the whole answer');
  const rec = await gw.waitAudit('abort-test-3');
  assert.equal(rec.status, 499);
  assert.equal(rec.stream, false);
  assert.equal(rec.upstream_result, 'cancelled');
});

test('a slow client pauses the upstream; gateway memory stays bounded; then the stream completes', async () => {
  await fast.reset();
  const body = JSON.stringify({ model: 'fast', messages: USER('everything'), stream: true });
  const sock = net.connect(gw.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.pause(); // read nothing for now
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await waitFor(async () => (await fast.stats()).active === 1, { what: 'the stream to start' });

  // While nobody reads, the socket buffers fill up and the gateway must stop
  // reading the backend: the sim cannot finish 20 MB. Watch for a while (a
  // window, not a wait for a race: the condition must hold throughout).
  const rssStart = rssKB(gw.pid);
  let rssMax = rssStart;
  const until = Date.now() + 2500;
  while (Date.now() < until) {
    const s = await fast.stats();
    assert.equal(s.completed, 0, 'the backend finished while the client read nothing: no backpressure');
    assert.equal(s.active, 1);
    rssMax = Math.max(rssMax, rssKB(gw.pid));
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(rssMax < 200 * 1024, `llmux RSS ${rssMax} kB`);
  assert.ok(rssMax - rssStart < 64 * 1024, `llmux RSS grew by ${rssMax - rssStart} kB while paused`);

  // now read everything
  let tail = '';
  let total = 0;
  const done = new Promise((resolve, reject) => {
    sock.on('data', (d) => {
      total += d.length;
      tail = (tail + d.toString('latin1')).slice(-256);
      if (tail.includes('data: [DONE]\n\n')) resolve();
    });
    sock.on('error', reject);
    sock.on('close', () => reject(new Error(`closed before [DONE] after ${total} bytes`)));
  });
  sock.resume();
  await done;
  sock.destroy();
  assert.ok(total > 10 * 1024 * 1024, `read ${total} bytes`);
  await waitFor(async () => (await fast.stats()).completed === 1, { what: 'the sim to finish' });
  assert.ok(rssKB(gw.pid) < 200 * 1024);
});

test('max_in_flight: a second concurrent request gets 429 backend_busy; the slot frees on abort', async () => {
  await slow.reset();
  const ac = new AbortController();
  const first = await client.chat.completions.create(
    { model: 'limited', messages: USER('x'), stream: true }, { signal: ac.signal },
  );
  const it = first[Symbol.asyncIterator]();
  await it.next();
  const r = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'limited', messages: USER('y') }),
  });
  assert.equal(r.status, 429);
  const body = await r.json();
  assert.equal(body.error.code, 'backend_busy');
  ac.abort();
  await it.return?.().catch(() => {});
  await waitFor(async () => (await slow.stats()).cancelled === 1, { what: 'the first request cancelled' });
  // the slot is free again (the sim streams 400 tokens at 20/s: read one chunk and leave)
  const ac2 = new AbortController();
  const again = await client.chat.completions.create(
    { model: 'limited', messages: USER('z'), stream: true }, { signal: ac2.signal },
  );
  const it2 = again[Symbol.asyncIterator]();
  assert.equal((await it2.next()).done, false);
  ac2.abort();
  await it2.return?.().catch(() => {});
  await waitFor(async () => (await slow.stats()).active === 0, { what: 'the sim idle' });
});
