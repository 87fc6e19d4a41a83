// validate.test.mjs — policy.tool_calls on streamed answers, the repair
// policy, and policy.structured_output (response_format json_schema).
// The sim builds values from the schema (small numbers, a word for
// strings), so `minimum: 1000` or a `pattern` makes an invalid answer; with
// --repairable it answers a repair request (a tool/user message saying
// "invalid") with values on the minimum and examples[0], so the second try
// is valid. A second sim without that flag never gets it right.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startSim, startLlmux, makeConfig, stopAll, USER,
} from './harness.mjs';

let sim, stubborn, reject, flag, repair, hopeless;

const tool = (name, properties) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties, required: Object.keys(properties) } },
});
const strict = [tool('book_seats', { seats: { type: 'integer', minimum: 1000 } })];
const pattern = [tool('set_airport', { code: { type: 'string', pattern: '^[A-Z]{3}$', examples: ['LHR'] } })];
const lenient = [tool('get_weather', { city: { type: 'string' }, days: { type: 'integer' } })];
const schemaFormat = (schema) => ({ type: 'json_schema', json_schema: { name: 'answer', schema } });
const bigN = schemaFormat({ type: 'object', properties: { n: { type: 'integer', minimum: 1000 } }, required: ['n'] });
const anyN = schemaFormat({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });

function config(backend, policy) {
  return (port, dir) => makeConfig({
    port, dir,
    backends: [{ name: 'sim', url: backend.url }],
    models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
    extra: { policy },
  });
}

before(async () => {
  [sim, stubborn] = await Promise.all([startSim({ args: ['--repairable'] }), startSim()]);
  [reject, flag, repair, hopeless] = await Promise.all([
    startLlmux({ config: config(sim, { tool_calls: 'reject', structured_output: 'reject' }) }),
    startLlmux({ config: config(sim, { tool_calls: 'flag', structured_output: 'flag' }) }),
    startLlmux({ config: config(sim, { tool_calls: 'repair', structured_output: 'repair', repair_attempts: 2 }) }),
    startLlmux({ config: config(stubborn, { tool_calls: 'repair', structured_output: 'repair' }) }),
  ]);
});

after(async () => {
  await stopAll(reject, flag, repair, hopeless, sim, stubborn);
});

/** A streamed request: the chunks that arrived, the error that ended the
 * stream (or null) and the request id. */
async function streamed(gw, body) {
  const { data, response } = await gw.client().chat.completions
    .create({ model: 'chat', messages: USER('please'), stream: true, ...body }).withResponse();
  const chunks = [];
  let err = null;
  try {
    for await (const c of data) chunks.push(c);
  } catch (e) { err = e; }
  return { chunks, err, rid: response.headers.get('x-request-id') };
}

/** The tool calls put together from stream chunks. */
function calls(chunks) {
  const out = [];
  for (const c of chunks) {
    for (const t of c.choices[0]?.delta?.tool_calls ?? []) {
      out[t.index] ??= { name: '', arguments: '' };
      if (t.function?.name) out[t.index].name += t.function.name;
      if (t.function?.arguments) out[t.index].arguments += t.function.arguments;
    }
  }
  return out;
}

const text = (chunks) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
const finish = (chunks) => chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);

function whole(gw, body) {
  return gw.client().chat.completions
    .create({ model: 'chat', messages: USER('please'), ...body }).withResponse();
}

async function refused(gw, body) {
  const err = await whole(gw, body).then(() => null, (e) => e);
  assert.ok(err instanceof OpenAI.APIError, `expected an API error, got ${err}`);
  return err;
}

// --- streamed tool calls ------------------------------------------------------

test('reject, streamed: an invalid call never reaches the client; an error chunk ends the stream', async () => {
  const { chunks, err, rid } = await streamed(reject, { tools: strict, tool_choice: 'required' });
  assert.ok(err instanceof OpenAI.APIError, `expected an error chunk, got ${err}`);
  assert.match(err.message, /invalid call to tool `book_seats`: at \/seats: must be >= 1000/);
  assert.deepEqual(calls(chunks), [], 'no call delta reached the client');
  const rec = await reject.waitAudit(rid);
  assert.equal(rec.status, 200);
  assert.equal(rec.stream, true);
  assert.deepEqual(rec.tool_call_violations, [{ name: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.equal(rec.error.type, 'invalid_tool_call');
});

test('reject, streamed: a pattern miss names the tool and the pointer, never the value', async () => {
  const { chunks, err } = await streamed(reject, { tools: pattern, tool_choice: 'required' });
  assert.match(err.message, /set_airport.*\/code: does not match the pattern/);
  assert.deepEqual(calls(chunks), []);
  const last = await sim.last();
  assert.equal(last.json.stream, true, 'the first try streams');
});

test('reject, streamed: a valid call is held until complete, then released whole and in order', async () => {
  const { chunks, err } = await streamed(reject, { tools: lenient, tool_choice: 'required' });
  assert.equal(err, null);
  const got = calls(chunks);
  assert.equal(got.length, 1);
  assert.equal(got[0].name, 'get_weather');
  const args = JSON.parse(got[0].arguments);
  assert.equal(typeof args.city, 'string');
  assert.equal(typeof args.days, 'number');
  assert.ok(chunks.filter((c) => c.choices[0]?.delta?.tool_calls).length >= 2, 'the deltas are kept as they came');
  assert.deepEqual(finish(chunks), ['tool_calls']);
});

test('flag, streamed: the invalid call passes through and the audit lists it', async () => {
  const { chunks, err, rid } = await streamed(flag, { tools: strict, tool_choice: 'required' });
  assert.equal(err, null);
  const got = calls(chunks);
  assert.equal(got[0].name, 'book_seats');
  assert.ok(JSON.parse(got[0].arguments).seats < 1000);
  const rec = await flag.waitAudit(rid);
  assert.deepEqual(rec.tool_call_violations, [{ name: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.ok(!JSON.stringify(rec).includes(got[0].arguments), 'argument values are not in the record');
});

// --- repair -------------------------------------------------------------------

test('repair, whole: the model is asked again with the error and its second answer goes out', async () => {
  const { data, response } = await whole(repair, { tools: strict, tool_choice: 'required' });
  const call = data.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'book_seats');
  assert.deepEqual(JSON.parse(call.function.arguments), { seats: 1000 });
  const last = await sim.last();
  const msgs = last.json.messages;
  assert.equal(last.json.stream, false);
  assert.equal(msgs.length, 3);
  assert.equal(msgs[1].role, 'assistant');
  assert.equal(msgs[1].tool_calls[0].function.name, 'book_seats');
  assert.equal(msgs[2].role, 'tool');
  assert.equal(msgs[2].tool_call_id, msgs[1].tool_calls[0].id);
  assert.equal(msgs[2].content, 'The arguments of your call to `book_seats` are invalid: at /seats: '
    + 'must be >= 1000. Call the tool again with valid arguments.');
  const rec = await repair.waitAudit(response.headers.get('x-request-id'));
  assert.equal(rec.status, 200);
  assert.deepEqual(rec.repairs, [{ tool: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.equal(rec.attempts.length, 2);
  assert.equal(rec.tool_call_violations, undefined, 'the answer sent is valid');
});

test('repair, streamed: the invalid call is held back and the repaired one is streamed', async () => {
  const { chunks, err, rid } = await streamed(repair, { tools: pattern, tool_choice: 'required', stream_options: { include_usage: true } });
  assert.equal(err, null);
  const got = calls(chunks);
  assert.equal(got.length, 1, 'only the repaired call reached the client');
  assert.equal(got[0].name, 'set_airport');
  assert.deepEqual(JSON.parse(got[0].arguments), { code: 'LHR' });
  assert.deepEqual(finish(chunks), ['tool_calls']);
  assert.ok(chunks.at(-1).usage, 'the usage chunk the client asked for');
  assert.equal(chunks[0].object, 'chat.completion.chunk');
  const last = await sim.last();
  assert.equal(last.json.stream, false, 'the repair is asked non-streamed');
  assert.equal(last.json.stream_options, undefined);
  assert.equal(last.json.messages.at(-1).role, 'tool');
  const rec = await repair.waitAudit(rid);
  assert.equal(rec.status, 200);
  assert.equal(rec.attempts.length, 2);
  assert.equal(rec.repairs.length, 1);
  assert.equal(rec.repairs[0].tool, 'set_airport');
  assert.match(rec.repairs[0].error, /^at \/code: does not match the pattern/);
});

test('repair: a call still invalid after the last attempt is rejected (whole and streamed)', async () => {
  const err = await refused(hopeless, { tools: strict, tool_choice: 'required' });
  assert.equal(err.status, 502);
  assert.equal(err.code, 'invalid_tool_call');
  const rid = err.headers['x-request-id'] ?? err.headers.get?.('x-request-id');
  const rec = await hopeless.waitAudit(rid);
  assert.deepEqual(rec.repairs, [{ tool: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.equal(rec.attempts.length, 2, 'repair_attempts defaults to 1');
  const s = await streamed(hopeless, { tools: strict, tool_choice: 'required' });
  assert.ok(s.err instanceof OpenAI.APIError);
  assert.match(s.err.message, /book_seats/);
  assert.deepEqual(calls(s.chunks), []);
});

// --- structured output ----------------------------------------------------------

test('structured output, reject: a whole answer off the schema is a 502', async () => {
  const err = await refused(reject, { response_format: bigN });
  assert.equal(err.status, 502);
  assert.equal(err.code, 'invalid_structured_output');
  assert.match(err.message, /at \/n: must be >= 1000/);
  const rid = err.headers['x-request-id'] ?? err.headers.get?.('x-request-id');
  const rec = await reject.waitAudit(rid);
  assert.deepEqual(rec.structured_output, { result: 'rejected', error: 'at /n: must be >= 1000' });
});

test('structured output, reject, streamed: no content reaches the client, an error chunk does', async () => {
  const { chunks, err } = await streamed(reject, { response_format: bigN });
  assert.ok(err instanceof OpenAI.APIError);
  assert.match(err.message, /response_format: at \/n: must be >= 1000/);
  assert.equal(text(chunks), '');
});

test('structured output, streamed and valid: the held content is checked and released in full', async () => {
  const { chunks, err, rid } = await streamed(reject, { response_format: anyN });
  assert.equal(err, null);
  assert.equal(typeof JSON.parse(text(chunks)).n, 'number');
  assert.deepEqual(finish(chunks), ['stop']);
  const rec = await reject.waitAudit(rid);
  assert.deepEqual(rec.structured_output, { result: 'valid' });
});

test('structured output, flag: the answer passes and the audit notes it', async () => {
  const { data, response } = await whole(flag, { response_format: bigN });
  assert.ok(JSON.parse(data.choices[0].message.content).n < 1000);
  const rec = await flag.waitAudit(response.headers.get('x-request-id'));
  assert.deepEqual(rec.structured_output, { result: 'flagged', error: 'at /n: must be >= 1000' });
});

test('structured output, repair: whole and streamed answers are asked again with the error', async () => {
  const { data, response } = await whole(repair, { response_format: bigN });
  assert.deepEqual(JSON.parse(data.choices[0].message.content), { n: 1000 });
  const last = await sim.last();
  assert.equal(last.json.messages.at(-1).role, 'user');
  assert.match(last.json.messages.at(-1).content, /^Your previous answer is invalid: .*at \/n: must be >= 1000/);
  const rec = await repair.waitAudit(response.headers.get('x-request-id'));
  assert.deepEqual(rec.repairs, [{ tool: 'response_format', error: 'at /n: must be >= 1000' }]);
  assert.deepEqual(rec.structured_output, { result: 'valid' });
  const s = await streamed(repair, { response_format: bigN });
  assert.equal(s.err, null);
  assert.deepEqual(JSON.parse(text(s.chunks)), { n: 1000 });
  assert.deepEqual(finish(s.chunks), ['stop']);
});
