// faults.test.mjs — backends that hang, stall, reset, fail or send garbage,
// before or after the first byte. Before it the client gets an HTTP error
// (504 for timeouts, 502 for broken backends); after it, an error chunk in
// OpenAI's shape and the end of the stream (no [DONE]). Each sim runs with
// one --fault for every request; the per-backend timeouts are short.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, sseData, assertOpenAIError, USER,
} from './harness.mjs';

const FAULTS = {
  ok: [],
  hang: ['--fault', 'hang'],
  delay: ['--fault', 'delay=2000'],
  stall: ['--fault', 'stall-after=2'],
  // paced, so the chunks before the reset reach the gateway before the RST does
  reset: ['--fault', 'reset-after=2', '--tps', '20'],
  error: ['--fault', 'error-after=2'],
  malformed: ['--fault', 'malformed-after=2'],
};
const TIMEOUTS = { connect_ms: 1000, first_byte_ms: 400, idle_ms: 400, total_ms: 10000 };

const sims = {};
let gw, client;

before(async () => {
  const names = Object.keys(FAULTS);
  const started = await Promise.all(names.map((n) => startSim({ args: FAULTS[n] })));
  names.forEach((n, i) => { sims[n] = started[i]; });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      // every sim fails on purpose (its /models too): neither active checks nor
      // the circuit may take one out of rotation, the tests look at its failures
      backends: names.map((n) => ({
        name: n, url: sims[n].url, timeouts: TIMEOUTS, health_check: false, circuit: { enabled: false },
      })),
      models: names.map((n) => ({ name: n, backend: n })),
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, ...Object.values(sims)); });

const chatURL = () => `${gw.baseURL}/chat/completions`;

/** A raw streamed request: status, the SSE data payloads, the request id. */
async function rawStream(model, extra = {}) {
  const r = await fetch(chatURL(), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: USER('tell me a story'), stream: true, ...extra }),
  });
  const text = await r.text();
  return { status: r.status, events: sseData(text), text, rid: r.headers.get('x-request-id') };
}

/** Asserts a stream that started fine and ended with one error chunk. */
function assertErrorEnding(events, { minChunks = 1 } = {}) {
  assert.ok(!events.includes('[DONE]'), `no [DONE] after an error: ${JSON.stringify(events)}`);
  const last = JSON.parse(events.at(-1));
  const e = assertOpenAIError(last);
  const before = events.slice(0, -1).map((x) => JSON.parse(x));
  assert.ok(before.length >= minChunks, `chunks before the error: ${before.length}`);
  for (const c of before) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.error, undefined);
  }
  return e;
}

/** The SDK's view of a stream that fails midway: chunks, then APIError. */
async function sdkStreamError(model) {
  const stream = await client.chat.completions.create({ model, messages: USER('tell me a story'), stream: true });
  let chunks = 0;
  let err;
  try {
    for await (const _ of stream) chunks++; // eslint-disable-line no-unused-vars
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof OpenAI.APIError, `the SDK stream throws APIError, got ${err}`);
  assert.ok(chunks >= 1, `chunks before the error: ${chunks}`);
  return err;
}

test('first-byte timeout (backend hangs): 504 upstream_timeout, plain and streamed', async () => {
  for (const stream of [false, true]) {
    const t0 = Date.now();
    const r = await postJSON(chatURL(), { model: 'hang', messages: USER('x'), stream });
    const ms = Date.now() - t0;
    assert.equal(r.status, 504, r.text);
    assertOpenAIError(r.json, { code: 'upstream_timeout' });
    assert.ok(ms >= 350 && ms < 3000, `answered after ${ms} ms with first_byte_ms 400`);
  }
  await assert.rejects(
    client.chat.completions.create({ model: 'hang', messages: USER('x') }),
    (e) => e instanceof OpenAI.APIError && e.status === 504,
  );
});

test('first-byte timeout (backend delays 2 s): 504', async () => {
  const t0 = Date.now();
  const r = await postJSON(chatURL(), { model: 'delay', messages: USER('x'), stream: true });
  assert.equal(r.status, 504, r.text);
  assertOpenAIError(r.json, { code: 'upstream_timeout' });
  assert.ok(Date.now() - t0 < 1900, 'did not wait for the backend');
});

test('idle timeout mid-stream: error chunk, then the end (raw and SDK)', async () => {
  const t0 = Date.now();
  const { status, events, rid } = await rawStream('stall');
  assert.equal(status, 200);
  assert.ok(Date.now() - t0 < 3000);
  const e = assertErrorEnding(events, { minChunks: 3 }); // role chunk + 2 deltas
  assert.equal(e.code, 'upstream_timeout');
  const rec = await gw.waitAudit(rid);
  assert.equal(rec.status, 200);
  assert.ok(rec.error, `audit has the error: ${JSON.stringify(rec)}`);

  const err = await sdkStreamError('stall');
  assert.match(err.message, /time/i);
});

test('idle timeout on a non-streamed request that stalls: 504', async () => {
  const r = await postJSON(chatURL(), { model: 'stall', messages: USER('x') });
  assert.equal(r.status, 504, r.text);
  assertOpenAIError(r.json, { code: 'upstream_timeout' });
});

test('connection reset mid-stream: error chunk, then the end; audited', async () => {
  const { status, events, rid } = await rawStream('reset');
  assert.equal(status, 200);
  // the RST may overtake the last chunk in the kernel (unread data is dropped)
  assertErrorEnding(events, { minChunks: 2 });
  const rec = await gw.waitAudit(rid);
  assert.equal(rec.stream, true);
  assert.ok(rec.error, JSON.stringify(rec));
  await sdkStreamError('reset');
});

test('connection reset before a non-streamed answer: 502', async () => {
  const r = await postJSON(chatURL(), { model: 'reset', messages: USER('x') });
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.json);
});

test('llama.cpp bare error frame mid-stream: normalised error chunk; audited', async () => {
  const { status, events, rid } = await rawStream('error');
  assert.equal(status, 200);
  const e = assertErrorEnding(events, { minChunks: 3 });
  assert.notEqual(typeof e.code, 'number', 'numeric llama code is normalised');
  assert.match(e.message, /simulated failure/);
  const rec = await gw.waitAudit(rid);
  assert.ok(rec.error, JSON.stringify(rec));
  const err = await sdkStreamError('error');
  assert.match(err.message, /simulated failure/);
});

test('backend 500 on a non-streamed request: status kept, body normalised', async () => {
  const r = await postJSON(chatURL(), { model: 'error', messages: USER('x') });
  assert.equal(r.status, 500, r.text);
  const e = assertOpenAIError(r.json);
  assert.notEqual(typeof e.code, 'number');
});

test('malformed event mid-stream: error chunk, then the end; audited', async () => {
  const { status, events, rid } = await rawStream('malformed');
  assert.equal(status, 200);
  const e = assertErrorEnding(events, { minChunks: 3 });
  assert.equal(e.code, 'upstream_malformed_event');
  const rec = await gw.waitAudit(rid);
  assert.equal(rec.error?.type, 'upstream_malformed_event', JSON.stringify(rec));
  await sdkStreamError('malformed');
});

test('malformed (truncated) non-streamed body: 502, not a 200 with broken JSON', async () => {
  const r = await postJSON(chatURL(), { model: 'malformed', messages: USER('x') });
  assert.equal(r.status, 502, `got ${r.status}: ${r.text}`);
  assertOpenAIError(r.json);
});

test('after all these faults the gateway still serves', async () => {
  const r = await client.chat.completions.create({ model: 'ok', messages: USER('still there?') });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const s = await rawStream('ok');
  assert.equal(s.events.at(-1), '[DONE]');
});
