// responses_validate.test.mjs — policy.tool_calls and
// policy.structured_output on POST /v1/responses over a chat backend: the
// chat answer is checked before it is translated, so an invalid call never
// becomes a function_call item. The sim builds values from the schema
// (small numbers, a word for strings), so `minimum: 1000` or a `pattern`
// makes an invalid answer; with --repairable it answers the gateway's
// repair request with values on the minimum and examples[0].
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, sseData, assertOpenAIError,
} from './harness.mjs';

let sim, stubborn, reject, flag, repair, hopeless;

const fn = (name, properties) => ({
  type: 'function', name, parameters: { type: 'object', properties, required: Object.keys(properties) },
});
const strict = [fn('book_seats', { seats: { type: 'integer', minimum: 1000 } })];
const pattern = [fn('set_airport', { code: { type: 'string', pattern: '^[A-Z]{3}$', examples: ['LHR'] } })];
const lenient = [fn('get_weather', { city: { type: 'string' }, days: { type: 'integer' } })];
const nsTools = [{
  type: 'namespace', name: 'travel', description: 'Travel tools.',
  tools: [fn('book', { seats: { type: 'integer', minimum: 1000 } })],
}];
const jsonFormat = (schema) => ({ format: { type: 'json_schema', name: 'answer', schema } });
const bigN = jsonFormat({ type: 'object', properties: { n: { type: 'integer', minimum: 1000 } }, required: ['n'] });
const anyN = jsonFormat({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });

function config(policy, backend = sim) {
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
    startLlmux({ config: config({ tool_calls: 'reject', structured_output: 'reject' }) }),
    startLlmux({ config: config({ tool_calls: 'flag', structured_output: 'flag' }) }),
    startLlmux({ config: config({ tool_calls: 'repair', structured_output: 'repair' }) }),
    startLlmux({ config: config({ tool_calls: 'repair', structured_output: 'repair' }, stubborn) }),
  ]);
});

after(async () => { await stopAll(reject, flag, repair, hopeless, sim, stubborn); });

const post = (gw, body) => postJSON(`${gw.baseURL}/responses`, { model: 'chat', input: 'please', ...body });

/** A streamed request: every event (parsed), in order, and the request id. */
async function streamed(gw, body) {
  const r = await post(gw, { ...body, stream: true });
  assert.equal(r.status, 200, r.text);
  const evs = sseData(r.text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  evs.forEach((e, i) => assert.equal(e.sequence_number, i, `event ${i} numbered in order`));
  return { evs, rid: r.headers.get('x-request-id') };
}

/** The function_call items any event of a stream carried. */
const callItems = (evs) => evs.flatMap((e) => [e.item, ...(e.response?.output ?? [])])
  .filter((it) => it?.type === 'function_call');
const types = (evs) => evs.map((e) => e.type);

// --- tool calls, reject ----------------------------------------------------------

test('reject, whole: an invalid call is a 502 invalid_tool_call naming the tool and the rule', async () => {
  const r = await post(reject, { tools: strict, tool_choice: 'required' });
  assert.equal(r.status, 502);
  const e = assertOpenAIError(r.json, { code: 'invalid_tool_call', type: 'server_error' });
  assert.equal(e.message, 'The model made an invalid call to tool `book_seats`: at /seats: must be >= 1000.');
  const rec = await reject.waitAudit(r.headers.get('x-request-id'));
  assert.equal(rec.status, 502);
  assert.deepEqual(rec.tool_call_violations, [{ name: 'book_seats', error: 'at /seats: must be >= 1000' }]);
});

test('reject, whole: a namespace tool is checked against its flattened schema', async () => {
  const r = await post(reject, { tools: nsTools, tool_choice: 'required' });
  assert.equal(r.status, 502);
  assertOpenAIError(r.json, { code: 'invalid_tool_call' });
  assert.match(r.json.error.message, /`travel__book`: at \/seats: must be >= 1000/);
});

test('reject, streamed: error then response.failed, and never a function_call item', async () => {
  const { evs, rid } = await streamed(reject, { tools: pattern, tool_choice: 'required' });
  assert.deepEqual(types(evs).slice(0, 2), ['response.created', 'response.in_progress']);
  assert.deepEqual(types(evs).slice(-2), ['error', 'response.failed']);
  assert.equal(evs.at(-2).code, 'invalid_tool_call');
  assert.match(evs.at(-2).message, /set_airport.*at \/code: does not match the pattern/);
  assert.equal(evs.at(-1).response.status, 'failed');
  assert.deepEqual(callItems(evs), [], 'no function_call item reached the client');
  assert.ok(!types(evs).some((t) => t.startsWith('response.function_call_arguments')));
  assert.equal((await sim.last()).json.stream, true, 'the first try streams');
  const rec = await reject.waitAudit(rid);
  assert.equal(rec.error.type, 'invalid_tool_call');
});

test('reject, streamed: a valid call is held until complete, then translated in full', async () => {
  const { evs } = await streamed(reject, { tools: lenient, tool_choice: 'required' });
  assert.equal(evs.at(-1).type, 'response.completed');
  const items = evs.at(-1).response.output.filter((it) => it.type === 'function_call');
  assert.equal(items.length, 1);
  assert.equal(items[0].name, 'get_weather');
  const args = JSON.parse(items[0].arguments);
  assert.equal(typeof args.city, 'string');
  assert.equal(typeof args.days, 'number');
  assert.ok(types(evs).includes('response.function_call_arguments.done'));
});

// --- flag --------------------------------------------------------------------------

test('flag: the invalid call passes as a function_call item and the audit lists it', async () => {
  const r = await post(flag, { tools: strict, tool_choice: 'required' });
  assert.equal(r.status, 200);
  const call = r.json.output.find((it) => it.type === 'function_call');
  assert.equal(call.name, 'book_seats');
  assert.ok(JSON.parse(call.arguments).seats < 1000);
  const rec = await flag.waitAudit(r.headers.get('x-request-id'));
  assert.deepEqual(rec.tool_call_violations, [{ name: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.ok(!JSON.stringify(rec).includes(call.arguments), 'argument values are not in the record');
  const s = await streamed(flag, { tools: strict, tool_choice: 'required' });
  assert.equal(s.evs.at(-1).type, 'response.completed');
  assert.equal(callItems(s.evs).at(-1).name, 'book_seats');
  const srec = await flag.waitAudit(s.rid);
  assert.deepEqual(srec.tool_call_violations, [{ name: 'book_seats', error: 'at /seats: must be >= 1000' }]);
});

// --- repair --------------------------------------------------------------------------

test('repair, whole: the chat backend is asked again and the valid call is a function_call item', async () => {
  const r = await post(repair, { tools: strict, tool_choice: 'required' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.status, 'completed');
  const calls = r.json.output.filter((it) => it.type === 'function_call');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'book_seats');
  assert.deepEqual(JSON.parse(calls[0].arguments), { seats: 1000 });
  const last = (await sim.last()).json;
  assert.equal(last.stream, false);
  assert.equal(last.model, 'sim-model');
  assert.equal(last.tools[0].function.name, 'book_seats', 'the repair keeps the tools in chat form');
  const msgs = last.messages;
  assert.equal(msgs.at(-2).role, 'assistant');
  assert.equal(msgs.at(-2).tool_calls[0].function.name, 'book_seats');
  assert.equal(msgs.at(-1).role, 'tool');
  assert.equal(msgs.at(-1).tool_call_id, msgs.at(-2).tool_calls[0].id);
  assert.equal(msgs.at(-1).content, 'The arguments of your call to `book_seats` are invalid: at /seats: '
    + 'must be >= 1000. Call the tool again with valid arguments.');
  const rec = await repair.waitAudit(r.headers.get('x-request-id'));
  assert.equal(rec.status, 200);
  assert.deepEqual(rec.repairs, [{ tool: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.equal(rec.attempts.length, 2);
  assert.equal(rec.tool_call_violations, undefined, 'the answer sent is valid');
});

test('repair, streamed: the invalid call is held back and only the repaired one is streamed', async () => {
  const { evs, rid } = await streamed(repair, { tools: pattern, tool_choice: 'required' });
  const t = types(evs);
  assert.equal(t.filter((x) => x === 'response.created').length, 1, 'one stream, opened once');
  assert.equal(t.at(-1), 'response.completed');
  assert.ok(!t.includes('error'));
  const added = evs.filter((e) => e.type === 'response.output_item.added' && e.item.type === 'function_call');
  assert.equal(added.length, 1, 'only the repaired call became an item');
  const done = evs.at(-1).response;
  assert.equal(done.status, 'completed');
  const calls = done.output.filter((it) => it.type === 'function_call');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'set_airport');
  assert.deepEqual(JSON.parse(calls[0].arguments), { code: 'LHR' });
  assert.ok(done.usage && done.usage.total_tokens > 0, 'response.completed carries usage');
  const last = (await sim.last()).json;
  assert.equal(last.stream, false, 'the repair is asked non-streamed');
  assert.equal(last.stream_options, undefined);
  assert.equal(last.messages.at(-1).role, 'tool');
  const rec = await repair.waitAudit(rid);
  assert.equal(rec.status, 200);
  assert.equal(rec.attempts.length, 2);
  assert.equal(rec.repairs.length, 1);
  assert.equal(rec.repairs[0].tool, 'set_airport');
  assert.match(rec.repairs[0].error, /^at \/code: does not match the pattern/);
  const stored = await (await fetch(`${repair.baseURL}/responses/${done.id}`)).json();
  assert.deepEqual(stored.output.filter((it) => it.type === 'function_call').map((it) => it.arguments),
    [calls[0].arguments], 'the stored response is the repaired one');
});

test('repair: a call still invalid after the last attempt is rejected (whole and streamed)', async () => {
  const r = await post(hopeless, { tools: strict, tool_choice: 'required' });
  assert.equal(r.status, 502);
  assertOpenAIError(r.json, { code: 'invalid_tool_call' });
  const rec = await hopeless.waitAudit(r.headers.get('x-request-id'));
  assert.deepEqual(rec.repairs, [{ tool: 'book_seats', error: 'at /seats: must be >= 1000' }]);
  assert.equal(rec.attempts.length, 2, 'repair_attempts defaults to 1');
  const { evs } = await streamed(hopeless, { tools: strict, tool_choice: 'required' });
  assert.equal(types(evs).filter((x) => x === 'response.created').length, 1);
  assert.deepEqual(types(evs).slice(-2), ['error', 'response.failed']);
  assert.match(evs.at(-2).message, /book_seats/);
  assert.deepEqual(callItems(evs), [], 'no function_call item reached the client');
});

// --- structured output (text.format json_schema) ------------------------------------

test('structured output, reject: whole is a 502, streamed is error + response.failed with no text', async () => {
  const r = await post(reject, { text: bigN });
  assert.equal(r.status, 502);
  const e = assertOpenAIError(r.json, { code: 'invalid_structured_output' });
  assert.match(e.message, /at \/n: must be >= 1000/);
  const rec = await reject.waitAudit(r.headers.get('x-request-id'));
  assert.deepEqual(rec.structured_output, { result: 'rejected', error: 'at /n: must be >= 1000' });
  const { evs } = await streamed(reject, { text: bigN });
  assert.deepEqual(types(evs).slice(-2), ['error', 'response.failed']);
  assert.equal(evs.at(-2).code, 'invalid_structured_output');
  assert.ok(!types(evs).includes('response.output_text.delta'), 'no content reached the client');
});

test('structured output, streamed and valid: the held content is checked and translated in full', async () => {
  const { evs, rid } = await streamed(reject, { text: anyN });
  assert.equal(evs.at(-1).type, 'response.completed');
  const text = evs.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  assert.equal(typeof JSON.parse(text).n, 'number');
  const rec = await reject.waitAudit(rid);
  assert.deepEqual(rec.structured_output, { result: 'valid' });
});

test('structured output, flag: the answer passes and the audit notes it', async () => {
  const r = await post(flag, { text: bigN });
  assert.equal(r.status, 200);
  assert.ok(JSON.parse(r.json.output.at(-1).content[0].text).n < 1000);
  const rec = await flag.waitAudit(r.headers.get('x-request-id'));
  assert.deepEqual(rec.structured_output, { result: 'flagged', error: 'at /n: must be >= 1000' });
});

test('structured output, repair: whole and streamed answers are asked again and come back valid', async () => {
  const r = await post(repair, { text: bigN });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.json.output.at(-1).content[0].text), { n: 1000 });
  const last = (await sim.last()).json;
  assert.equal(last.response_format.type, 'json_schema');
  assert.equal(last.messages.at(-1).role, 'user');
  assert.match(last.messages.at(-1).content, /^Your previous answer is invalid: .*at \/n: must be >= 1000/);
  const rec = await repair.waitAudit(r.headers.get('x-request-id'));
  assert.deepEqual(rec.repairs, [{ tool: 'response_format', error: 'at /n: must be >= 1000' }]);
  assert.deepEqual(rec.structured_output, { result: 'valid' });
  const { evs } = await streamed(repair, { text: bigN });
  assert.equal(types(evs).filter((x) => x === 'response.created').length, 1);
  assert.equal(evs.at(-1).type, 'response.completed');
  const text = evs.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  assert.deepEqual(JSON.parse(text), { n: 1000 });
  assert.equal(evs.at(-1).response.output.at(-1).content[0].text, text);
});
