// redaction.test.mjs — the redaction policy on chat completions, with the
// official openai SDK. The local sim echoes the last user message back
// (--echo 3: in 3-byte pieces when streamed), so what the backend received
// comes back as the answer and a value in the answer is split across
// chunks. Checked: an e-mail reaches the backend as a pseudonym and the
// client gets it restored (whole and streamed); a custom pattern is masked
// on the way in; a card number in a streamed answer, split over several
// chunks, is masked; an IBAN blocks the request (400 content_blocked); a
// secret tags it sensitive, which routes around a non-local deployment or
// gives 503 when there is none; the audit record counts per detector and
// no redacted value appears in the audit log or in any log line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import OpenAI from 'openai';
import { startSim, startLlmux, makeConfig, stopAll, USER } from './harness.mjs';

let local, cloud, gw;

const EMAIL = 'ana.lopez@example.org';
const SSN = '123-45-6789';
const CARD = '4111 1111 1111 1111';
const IBAN = 'DE89 3704 0044 0532 0130 00';
const SECRET = 'sk-proj-Q3vT8xLm2Rz7Kp4Wn9Yb6Hc1';
const NEVER_LOGGED = [EMAIL, SSN, IBAN, SECRET];

before(async () => {
  [local, cloud] = await Promise.all([
    startSim({ args: ['--echo', '3'] }),
    startSim({ args: ['--echo', '3'] }),
  ]);
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [
        { name: 'local', url: local.url }, // 127.0.0.1: local by default
        { name: 'cloud', url: cloud.url, local: false },
      ],
      models: [
        { name: 'chat', backend: 'local', upstream_model: 'sim-model' },
        { name: 'hybrid', backend: 'cloud', upstream_model: 'sim-model',
          fallbacks: [{ backend: 'local', upstream_model: 'sim-model' }] },
        { name: 'cloud-only', backend: 'cloud', upstream_model: 'sim-model' },
      ],
      extra: {
        // one health check at start only: the sims count GET /v1/models as a
        // request, and the tests below count the requests a backend received
        health: { interval_ms: 600000, timeout_ms: 1000 },
        audit: { path: `${dir}/audit.jsonl`, prompt: 'full' },
        redaction: {
          restore: true,
          detectors: [
            { name: 'email', action: 'pseudonym', direction: 'both' },
            { name: 'card', action: 'mask', direction: 'output' },
            { name: 'iban', action: 'block', direction: 'input' },
            { name: 'secret', action: 'tag', direction: 'input' },
          ],
          custom: [
            { name: 'ssn', pattern: '\\b[0-9]{3}-[0-9]{2}-[0-9]{4}\\b', action: 'mask', direction: 'input' },
          ],
        },
      },
    }),
  });
});

after(async () => {
  await stopAll(gw, local, cloud);
});

async function streamText(model, content) {
  const stream = await gw.client().chat.completions.create({ model, messages: USER(content), stream: true });
  const pieces = [];
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta?.content;
    if (typeof d === 'string') pieces.push(d);
  }
  return pieces;
}

test('an e-mail reaches the backend as a pseudonym and comes back restored', async () => {
  const prompt = `Write to ${EMAIL} and cc ${EMAIL}, id ${SSN}.`;
  const { data, response } = await gw.client().chat.completions
    .create({ model: 'chat', messages: USER(prompt) }).withResponse();
  const last = await local.last();
  const sent = last.json.messages[0].content;
  assert.equal(sent, 'Write to <EMAIL_1> and cc <EMAIL_1>, id [REDACTED:SSN].');
  assert.ok(!last.body.includes(EMAIL) && !last.body.includes(SSN), last.body);
  // the echo of the redacted prompt, with the pseudonym restored
  assert.equal(data.choices[0].message.content, `Write to ${EMAIL} and cc ${EMAIL}, id [REDACTED:SSN].`);
  const rec = await gw.waitAudit(response.headers.get('x-request-id'));
  assert.deepEqual(rec.redaction.input, [
    { detector: 'email', action: 'pseudonym', matches: 2 },
    { detector: 'ssn', action: 'mask', matches: 1 },
  ]);
  assert.deepEqual(rec.redaction.output, []);
  assert.equal(rec.redaction.sensitive, false);
});

test('a pseudonym split across stream chunks is restored', async () => {
  const pieces = await streamText('chat', `mail ${EMAIL} now`);
  assert.ok(pieces.length > 3);
  assert.equal(pieces.join(''), `mail ${EMAIL} now`);
  const last = await local.last();
  assert.equal(last.json.messages[0].content, 'mail <EMAIL_1> now');
});

test('a card number in a streamed answer, split across chunks, is masked', async () => {
  const pieces = await streamText('chat', `pay with ${CARD} today`);
  assert.equal(pieces.join(''), 'pay with [REDACTED:CARD] today');
  for (const p of pieces) assert.ok(!/\d{4}/.test(p), `a chunk shows digits: ${JSON.stringify(p)}`);
  // the backend had the card (output direction only) and sent it in pieces
  assert.ok((await local.last()).body.includes(CARD));
  const rec = await gw.waitAudit((r) => r.redaction?.output?.some((d) => d.detector === 'card'));
  assert.deepEqual(rec.redaction.output, [{ detector: 'card', action: 'mask', matches: 1 }]);
});

test('a non-streamed answer is masked too', async () => {
  const r = await gw.client().chat.completions.create({ model: 'chat', messages: USER(`card ${CARD}`) });
  assert.equal(r.choices[0].message.content, 'card [REDACTED:CARD]');
});

test('an IBAN blocks the request: 400 content_blocked names the kind, not the value', async () => {
  const before = (await local.stats()).requests;
  const err = await gw.client().chat.completions
    .create({ model: 'chat', messages: USER(`send it to ${IBAN}`) })
    .then(() => null, (e) => e);
  assert.ok(err instanceof OpenAI.APIError, `expected an API error, got ${err}`);
  assert.equal(err.status, 400);
  assert.equal(err.code, 'content_blocked');
  assert.equal(err.type, 'invalid_request_error');
  assert.match(err.message, /'iban'/);
  assert.ok(!err.message.includes('DE89'));
  assert.equal((await local.stats()).requests, before, 'the backend never saw it');
});

test('a tagged request skips the non-local deployment', async () => {
  const cloudBefore = (await cloud.stats()).requests;
  const { data, response } = await gw.client().chat.completions
    .create({ model: 'hybrid', messages: USER(`key ${SECRET}`) }).withResponse();
  assert.equal(data.choices[0].message.content, `key ${SECRET}`, 'tag leaves the text');
  assert.equal((await cloud.stats()).requests, cloudBefore, 'the cloud backend never saw it');
  const rec = await gw.waitAudit(response.headers.get('x-request-id'));
  assert.equal(rec.backend, 'local');
  assert.equal(rec.attempts[0].backend, 'cloud');
  assert.equal(rec.attempts[0].result, 'not_local');
  assert.equal(rec.redaction.sensitive, true);
  assert.deepEqual(rec.redaction.input, [{ detector: 'secret', action: 'tag', matches: 1 }]);
  // untagged, the same model goes to the cloud
  await gw.client().chat.completions.create({ model: 'hybrid', messages: USER('hello') });
  assert.equal((await cloud.stats()).requests, cloudBefore + 1);
});

test('a tagged request without a local deployment is a 503', async () => {
  const err = await gw.client().chat.completions
    .create({ model: 'cloud-only', messages: USER(`key ${SECRET}`) })
    .then(() => null, (e) => e);
  assert.ok(err instanceof OpenAI.APIError, `expected an API error, got ${err}`);
  assert.equal(err.status, 503);
  assert.equal(err.code, 'no_local_backend');
  assert.match(err.message, /tagged sensitive/);
  assert.ok(!err.message.includes(SECRET));
});

test('no redacted value appears in the audit log or a log line', async () => {
  await gw.waitAudit((r) => r.model === 'cloud-only');
  const audit = fs.readFileSync(gw.auditPath, 'utf8');
  assert.ok(audit.includes('[REDACTED:SSN]'), 'the audit holds the redacted prompts');
  for (const v of NEVER_LOGGED) {
    if (v === SECRET) continue; // tag does not change the text: the full prompt keeps it
    assert.ok(!audit.includes(v), `audit log holds ${v}`);
  }
  for (const v of [...NEVER_LOGGED, CARD]) assert.ok(!gw.err.includes(v), `stderr holds ${v}`);
});
