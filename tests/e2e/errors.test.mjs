// errors.test.mjs — every error a client sees is OpenAI's shape
// {"error":{"message","type","param","code"}} with a fitting status: bad
// requests, limits, unknown models and paths, unreachable backends, and
// backend error statuses (normalised from llama.cpp's numeric codes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, assertOpenAIError, freePort, USER,
} from './harness.mjs';

let ok, big, s503, s429, o503, gw, client, closedPort;
const MAX_BODY = 65536;

const FAILING = { health_check: false, circuit: { enabled: false } };

before(async () => {
  [ok, big, s503, s429, o503, closedPort] = await Promise.all([
    startSim({ args: ['--models', 'sim-model,m'] }), // lists the pinned id
    startSim(), // takes the near-cap body, so that a failure there cannot spill into other tests
    startSim({ args: ['--fault', 'status=503'] }),
    startSim({ args: ['--fault', 'status=429'] }),
    startSim({ args: ['--style', 'openai', '--fault', 'status=503'] }),
    freePort(), // nothing listens there
  ]);
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [
        { name: 'ok', url: ok.url },
        { name: 'big', url: big.url },
        // these fail on purpose, their /models too: neither active checks nor the
        // circuit may take them out of rotation, the tests look at their failures
        { name: 'down', url: `http://127.0.0.1:${closedPort}/v1`, timeouts: { connect_ms: 1000 }, ...FAILING },
        { name: 's503', url: s503.url, ...FAILING },
        { name: 's429', url: s429.url, ...FAILING },
        { name: 'o503', url: o503.url, ...FAILING },
      ],
      models: [
        { name: 'chat', backend: 'ok', upstream_model: 'm' },
        { name: 'big', backend: 'big' },
        { name: 'down', backend: 'down' },
        { name: 'm503', backend: 's503' },
        { name: 'm429', backend: 's429' },
        { name: 'o503', backend: 'o503' },
      ],
      extra: { limits: { max_body_bytes: MAX_BODY, max_json_depth: 16, max_headers: 24 } },
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, ok, big, s503, s429, o503); });

const chatURL = () => `${gw.baseURL}/chat/completions`;

test('malformed JSON: 400 in OpenAI shape', async () => {
  for (const body of ['{"model":"chat","messages":[', 'not json at all', '', '[1,2]', '{"model":"chat",}']) {
    const r = await postJSON(chatURL(), body);
    assert.equal(r.status, 400, `body ${JSON.stringify(body)} -> ${r.status} ${r.text}`);
    const e = assertOpenAIError(r.json);
    assert.equal(e.type, 'invalid_request_error');
    assert.ok(r.headers.get('x-request-id'));
  }
});

test('wrong field types: 400 naming the param', async () => {
  const cases = [
    [{ model: 'chat', messages: USER('x'), temperature: 'hot' }, 'temperature'],
    [{ model: 'chat', messages: 'x' }, 'messages'],
    [{ model: 'chat', messages: USER('x'), stream: 'yes' }, 'stream'],
    [{ model: 42, messages: USER('x') }, 'model'],
    [{ model: 'chat', messages: USER('x'), stream_options: 'please' }, 'stream_options'],
  ];
  for (const [body, param] of cases) {
    const r = await postJSON(chatURL(), body);
    assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
    const e = assertOpenAIError(r.json, { type: 'invalid_request_error' });
    assert.equal(e.param, param, `param for ${JSON.stringify(body)}: ${r.text}`);
  }
  // none of these reached the backend (/sim/last records POSTs only)
  assert.deepEqual(await ok.last(), {});
});

test('missing model: 400; unknown model: 404 model_not_found (SDK: NotFoundError)', async () => {
  const r = await postJSON(chatURL(), { messages: USER('x') });
  assert.equal(r.status, 400);
  assertOpenAIError(r.json, { type: 'invalid_request_error' });

  const u = await postJSON(chatURL(), { model: 'no-such-model', messages: USER('x') });
  assert.equal(u.status, 404);
  const e = assertOpenAIError(u.json, { code: 'model_not_found' });
  assert.equal(e.param, 'model');
  assert.match(e.message, /no-such-model/);

  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: USER('x') }),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404 && err.code === 'model_not_found',
  );
});

test(`body over limits.max_body_bytes: 413`, async () => {
  const tooBig = JSON.stringify({ model: 'chat', messages: USER('a'.repeat(MAX_BODY + 100)) });
  const r = await postJSON(chatURL(), tooBig);
  assert.equal(r.status, 413);
  // just under the cap still works, and reaches the backend whole
  const fits = JSON.stringify({ model: 'big', messages: USER('b'.repeat(MAX_BODY - 200)) });
  assert.ok(fits.length <= MAX_BODY);
  const r2 = await postJSON(chatURL(), fits);
  assert.equal(r2.status, 200, r2.text);
  assert.equal((await big.last()).json.messages[0].content.length, MAX_BODY - 200);
});

test('body over limits.max_body_bytes: the 413 body is OpenAI-shaped', async () => {
  const big = JSON.stringify({ model: 'chat', messages: USER('a'.repeat(MAX_BODY + 100)) });
  const r = await postJSON(chatURL(), big);
  assert.equal(r.status, 413);
  assertOpenAIError(r.json, { type: 'invalid_request_error' });
});

test('a chunked request body over the cap: 413 too', async () => {
  const http = await import('node:http');
  const status = await new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: gw.port, path: '/v1/chat/completions', method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', (e) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve('reset') : reject(e)));
    req.write('{"model":"chat","messages":[{"role":"user","content":"');
    for (let i = 0; i < 8; i++) req.write('c'.repeat(MAX_BODY / 4));
    req.end('"}]}');
  });
  assert.equal(status, 413);
});

test('JSON deeper than limits.max_json_depth: 400', async () => {
  let deep = '1';
  for (let i = 0; i < 40; i++) deep = `[${deep}]`;
  const r = await postJSON(chatURL(), `{"model":"chat","messages":[{"role":"user","content":"x"}],"extra":${deep}}`);
  assert.equal(r.status, 400, r.text);
  assertOpenAIError(r.json, { type: 'invalid_request_error' });
  // a shallow extension is fine
  const r2 = await postJSON(chatURL(), `{"model":"chat","messages":[{"role":"user","content":"x"}],"extra":[[[1]]]}`);
  assert.equal(r2.status, 200, r2.text);
});

test('more headers than limits.max_headers: 431', async () => {
  const headers = {};
  for (let i = 0; i < 40; i++) headers[`x-filler-${i}`] = String(i);
  const r = await postJSON(chatURL(), { model: 'chat', messages: USER('x') }, headers);
  assert.equal(r.status, 431, r.text);
  assertOpenAIError(r.json);
});

test('unknown path: 404; wrong method on a known path: 405', async () => {
  const r = await fetch(`${gw.baseURL}/no/such/thing`);
  assert.equal(r.status, 404);
  assertOpenAIError(await r.json(), { type: 'invalid_request_error' });
  const r2 = await postJSON(`${gw.origin}/v2/chat/completions`, { model: 'chat', messages: USER('x') });
  assert.equal(r2.status, 404);
  assertOpenAIError(r2.json);
  const r3 = await fetch(chatURL());
  assert.equal(r3.status, 405);
  assertOpenAIError(await r3.json());
});

test('backend unreachable: 502 (plain and streamed request)', async () => {
  const r = await postJSON(chatURL(), { model: 'down', messages: USER('x') });
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.json, { code: 'upstream_unreachable' });
  const s = await postJSON(chatURL(), { model: 'down', messages: USER('x'), stream: true });
  assert.equal(s.status, 502, s.text);
  assertOpenAIError(s.json);
  await assert.rejects(
    client.chat.completions.create({ model: 'down', messages: USER('x') }),
    (err) => err instanceof OpenAI.APIError && err.status === 502,
  );
});

test('upstream 503 (llama style, numeric code): status kept, error normalised', async () => {
  for (const stream of [false, true]) {
    const r = await postJSON(chatURL(), { model: 'm503', messages: USER('x'), stream });
    assert.equal(r.status, 503, r.text);
    const e = assertOpenAIError(r.json);
    assert.notEqual(typeof e.code, 'number');
    assert.ok(e.message.length > 0);
  }
  await assert.rejects(
    client.chat.completions.create({ model: 'm503', messages: USER('x') }),
    (err) => err instanceof OpenAI.InternalServerError && err.status === 503,
  );
});

test('upstream 503 (openai style): status and code kept', async () => {
  const r = await postJSON(chatURL(), { model: 'o503', messages: USER('x') });
  assert.equal(r.status, 503, r.text);
  assertOpenAIError(r.json, { code: 'service_unavailable', type: 'server_error' });
});

test('upstream 429: status kept; SDK sees RateLimitError', async () => {
  const r = await postJSON(chatURL(), { model: 'm429', messages: USER('x') });
  assert.equal(r.status, 429, r.text);
  assertOpenAIError(r.json);
  await assert.rejects(
    client.chat.completions.create({ model: 'm429', messages: USER('x'), stream: true }),
    (err) => err instanceof OpenAI.RateLimitError && err.status === 429 && err instanceof OpenAI.APIError,
  );
});

test('errors leave audit records with the status and an error', async () => {
  const r = await postJSON(chatURL(), { model: 'm503', messages: USER('audit me') }, { 'x-request-id': 'err-audit-1' });
  assert.equal(r.status, 503);
  const rec = await gw.waitAudit('err-audit-1');
  assert.equal(rec.status, 503);
  assert.equal(rec.upstream_status, 503);
  assert.equal(rec.backend, 's503');
  assert.ok(rec.error && typeof rec.error.type === 'string', JSON.stringify(rec));
  const bad = await postJSON(chatURL(), 'nope', { 'x-request-id': 'err-audit-2' });
  assert.equal(bad.status, 400);
  const rec2 = await gw.waitAudit('err-audit-2');
  assert.equal(rec2.status, 400);
  assert.ok(rec2.error);
});

test('a connection that sends garbage gets a 400 and the gateway stays up', async () => {
  const reply = await new Promise((resolve, reject) => {
    const sock = net.connect(gw.port, '127.0.0.1');
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => resolve(data));
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
    sock.write('THIS IS NOT HTTP\r\n\r\n');
  });
  assert.match(reply, /^HTTP\/1\.[01] 4\d\d/);
  const h = await fetch(`${gw.origin}/healthz`);
  assert.equal(h.status, 200);
});
