// toolcheck.test.mjs — policy.tool_calls on non-streamed chat completions (streams: validate.test.mjs):
// the sim builds arguments from the schema (small numbers, a word for
// strings), so a schema they violate makes an invalid call. reject: 502
// invalid_tool_call, the call never reaches the client; flag: the response
// as it came; off: nothing checked. The audit record lists violations by
// tool name and error, never with argument values.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startSim, startLlmux, makeConfig, stopAll, USER,
} from './harness.mjs';

let sim, reject, flag, off;

const tool = (name, properties) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties, required: Object.keys(properties) } },
});
// the sim sends a small integer and a lowercase word: both violate these
const strict = [tool('book_seats', { seats: { type: 'integer', minimum: 1000 } })];
const pattern = [tool('set_airport', { code: { type: 'string', pattern: '^[A-Z]{3}$' } })];
const lenient = [tool('get_weather', { city: { type: 'string' }, days: { type: 'integer' } })];

function config(policy) {
  return (port, dir) => makeConfig({
    port, dir,
    backends: [{ name: 'sim', url: sim.url }],
    models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
    extra: policy ? { policy: { tool_calls: policy } } : {},
  });
}

before(async () => {
  sim = await startSim();
  [reject, flag, off] = await Promise.all([
    startLlmux({ config: config('reject') }),
    startLlmux({ config: config('flag') }),
    startLlmux({ config: config(null) }), // off is the default
  ]);
});

after(async () => {
  await stopAll(reject, flag, off, sim);
});

function call(gw, tools) {
  return gw.client().chat.completions
    .create({ model: 'chat', messages: USER('please'), tools, tool_choice: 'required' })
    .withResponse();
}

async function rejected(gw, tools) {
  const err = await gw.client().chat.completions
    .create({ model: 'chat', messages: USER('please'), tools, tool_choice: 'required' })
    .then(() => null, (e) => e);
  assert.ok(err instanceof OpenAI.APIError, `expected an API error, got ${err}`);
  return err;
}

test('reject: an argument under the schema minimum is a 502 invalid_tool_call', async () => {
  const err = await rejected(reject, strict);
  assert.equal(err.status, 502);
  assert.equal(err.code, 'invalid_tool_call');
  assert.equal(err.type, 'server_error');
  assert.match(err.message, /book_seats/);
  assert.match(err.message, /\/seats: must be >= 1000/);
  const rid = err.headers['x-request-id'] ?? err.headers.get?.('x-request-id');
  const rec = await reject.waitAudit(rid);
  assert.equal(rec.status, 502);
  assert.equal(rec.upstream_status, 200);
  assert.equal(rec.tool_call_violations.length, 1);
  assert.equal(rec.tool_call_violations[0].name, 'book_seats');
  assert.match(rec.tool_call_violations[0].error, /^at \/seats: must be >= 1000$/);
  assert.equal(rec.error.type, 'invalid_tool_call');
});

test('reject: a string that misses the pattern names the tool and the pointer', async () => {
  const err = await rejected(reject, pattern);
  assert.equal(err.status, 502);
  assert.equal(err.code, 'invalid_tool_call');
  assert.match(err.message, /set_airport.*\/code: does not match the pattern/);
});

test('reject: an uncompilable schema is a violation, not a crash', async () => {
  const bad = [{
    type: 'function',
    function: { name: 'odd', parameters: { type: 'object', unevaluatedProperties: false } },
  }];
  const err = await rejected(reject, bad);
  assert.equal(err.status, 502);
  assert.equal(err.code, 'invalid_tool_call');
  assert.match(err.message, /odd.*schema not supported/);
});

test('reject: a valid call passes untouched and has no violation', async () => {
  const { data, response } = await call(reject, lenient);
  const calls = data.choices[0].message.tool_calls;
  assert.equal(calls[0].function.name, 'get_weather');
  const rec = await reject.waitAudit(response.headers.get('x-request-id'));
  assert.equal(rec.status, 200);
  assert.equal(rec.tool_call_violations, undefined);
});

test('flag: the invalid call reaches the client and the audit lists it', async () => {
  const { data, response } = await call(flag, strict);
  const calls = data.choices[0].message.tool_calls;
  assert.equal(calls[0].function.name, 'book_seats');
  const args = calls[0].function.arguments;
  assert.ok(JSON.parse(args).seats < 1000);
  const rec = await flag.waitAudit(response.headers.get('x-request-id'));
  assert.equal(rec.status, 200);
  assert.deepEqual(rec.tool_call_violations,
    [{ name: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.ok(!JSON.stringify(rec).includes(args), 'argument values are not in the record');
});

test('off: nothing is checked', async () => {
  const { data, response } = await call(off, strict);
  assert.equal(data.choices[0].message.tool_calls[0].function.name, 'book_seats');
  const rec = await off.waitAudit(response.headers.get('x-request-id'));
  assert.equal(rec.status, 200);
  assert.equal(rec.tool_call_violations, undefined);
});
