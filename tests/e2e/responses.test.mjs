// responses.test.mjs — POST /v1/responses over a Chat-Completions-only
// backend (llmux-sim in llama.cpp style) through the official openai SDK:
// request translation (what the backend receives), whole answers, streamed
// events (sequence numbers, nesting, each .done equal to its deltas, the
// final response equal to the items streamed, [DONE]), tool calls both
// ways, the token limit, reasoning, and errors in the client's dialect.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, sseData, assertOpenAIError,
} from './harness.mjs';
import { assertEvents, assertSdkResponse, assertValid } from './schema.mjs';

let sim, rsim, gw, client;

before(async () => {
  sim = await startSim({ args: ['--tokens', '12'] });
  rsim = await startSim({ args: ['--tokens', '6', '--reasoning'] });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url, forward_headers: ['x-sim-fault'] }, { name: 'rsim', url: rsim.url }],
      models: [
        { name: 'chat', backend: 'sim', upstream_model: 'sim-model' },
        { name: 'think', backend: 'rsim', upstream_model: 'sim-model' },
      ],
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, sim, rsim); });

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, days: { type: 'integer' } },
    required: ['city', 'days'],
  },
};

// What the sim answers to these chat messages, asked directly.
async function simText(messages, extra = {}) {
  const r = await postJSON(`${sim.url}/chat/completions`, { model: 'sim-model', messages, ...extra });
  assert.equal(r.status, 200, r.text);
  return r.json.choices[0].message.content;
}

/** Raw SSE from the gateway: [{event, data}] plus the raw text. */
async function rawStream(body) {
  const r = await fetch(`${gw.baseURL}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await r.text();
  const events = [];
  for (const block of text.split('\n\n')) {
    if (!block) continue;
    const ev = /^event: (.*)$/m.exec(block);
    const data = /^data: (.*)$/m.exec(block);
    events.push({ event: ev ? ev[1] : null, data: data ? data[1] : null });
  }
  return { status: r.status, headers: r.headers, text, events };
}

/** Checks the invariants of RESPONSES.md 6.2-6.4 on a parsed event list and
 * returns the terminal response. */
function checkStream(events) {
  assert.equal(events.at(-1).data, '[DONE]', 'ends with data: [DONE]');
  const evs = events.slice(0, -1).map((e) => {
    const j = JSON.parse(e.data);
    assert.equal(e.event, j.type, 'event name equals type');
    return j;
  });
  assertEvents(evs);
  evs.forEach((e, i) => assert.equal(e.sequence_number, i, `sequence_number of ${e.type}`));
  assert.equal(evs[0].type, 'response.created');
  assert.equal(evs[1].type, 'response.in_progress');
  assert.equal(evs[0].response.status, 'in_progress');
  assert.deepEqual(evs[0].response.output, []);
  assert.equal(evs[0].response.usage, null);
  const terminal = evs.at(-1);
  assert.match(terminal.type, /^response\.(completed|incomplete|failed)$/);
  assert.equal(evs.filter((e) => /^response\.(completed|incomplete|failed)$/.test(e.type)).length, 1);
  // strict nesting: one item open at a time, parts inside it
  const done = [];
  let open = null, part = null, text = '', args = '';
  for (const e of evs.slice(2, -1)) {
    switch (e.type) {
      case 'response.output_item.added':
        assert.equal(open, null, 'an item opens only after the previous one is done');
        assert.equal(e.output_index, done.length);
        assert.equal(e.item.status, 'in_progress');
        open = e.item; args = '';
        break;
      case 'response.content_part.added':
        assert.equal(part, null);
        assert.equal(e.item_id, open.id);
        part = e.part; text = '';
        break;
      case 'response.output_text.delta':
        assert.equal(e.item_id, open.id);
        assert.deepEqual(e.logprobs, []);
        text += e.delta;
        break;
      case 'response.output_text.done':
        assert.equal(e.text, text, 'output_text.done repeats the deltas');
        break;
      case 'response.content_part.done':
        assert.equal(e.part.text, text);
        part = null;
        break;
      case 'response.function_call_arguments.delta':
        assert.equal(e.item_id, open.id);
        args += e.delta;
        break;
      case 'response.function_call_arguments.done':
        assert.equal(e.arguments, args, 'arguments.done repeats the deltas');
        assert.equal(e.name, open.name);
        break;
      case 'response.output_item.done':
        assert.equal(part, null, 'parts close before their item');
        assert.equal(e.item.id, open.id);
        assert.equal(e.output_index, done.length);
        done.push(e.item);
        open = null;
        break;
      default:
        assert.fail(`unexpected event ${e.type}`);
    }
  }
  assert.equal(open, null);
  assert.deepEqual(terminal.response.output, done, 'the final output is the items streamed');
  return terminal.response;
}

test('a string input becomes a chat request; the answer a complete response object', async () => {
  const want = await simText([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }]);
  const r = assertSdkResponse(await client.responses.create({
    model: 'chat', instructions: 'Be brief.', input: 'hello there', max_output_tokens: 100, temperature: 0.5,
  }));
  assert.match(r.id, /^resp_[0-9a-f]{32}$/);
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  assert.equal(r.model, 'chat');
  assert.equal(r.output_text, want);
  assert.equal(r.output.length, 1);
  assert.equal(r.output[0].type, 'message');
  assert.equal(r.output[0].role, 'assistant');
  assert.equal(r.output[0].content[0].type, 'output_text');
  assert.deepEqual(r.output[0].content[0].annotations, []);
  assert.equal(r.instructions, 'Be brief.');
  assert.equal(r.temperature, 0.5);
  assert.equal(r.max_output_tokens, 100);
  assert.ok(Number.isInteger(r.created_at) && Number.isInteger(r.completed_at));
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  assert.equal(r.usage.input_tokens_details.cached_tokens, 0);
  assert.equal(r.usage.output_tokens_details.reasoning_tokens, 0);
  const sent = (await sim.last()).json;
  assert.equal(sent.model, 'sim-model');
  assert.deepEqual(sent.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there' }]);
  assert.equal(sent.max_tokens, 100, 'llama.cpp takes max_tokens');
  assert.equal(sent.temperature, 0.5);
  assert.equal(sent.stream, undefined);
});

test('streamed text: every event in order, and the same text as the whole answer', async () => {
  const want = await simText([{ role: 'user', content: 'stream me' }]);
  const s = await rawStream({ model: 'chat', input: 'stream me' });
  assert.equal(s.status, 200);
  assert.match(s.headers.get('content-type'), /^text\/event-stream/);
  const final = checkStream(s.events);
  assert.equal(final.status, 'completed');
  assert.equal(final.output[0].content[0].text, want);
  assert.ok(final.usage.output_tokens > 0);
  const sent = (await sim.last()).json;
  assert.equal(sent.stream, true);
  assert.deepEqual(sent.stream_options, { include_usage: true });
});

test('the SDK streams and its final response matches', async () => {
  const stream = await client.responses.create({ model: 'chat', input: 'sdk stream', stream: true });
  let text = '';
  let completed;
  for await (const ev of stream) {
    assertValid('event', ev);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.ok(completed);
  assert.equal(text, await simText([{ role: 'user', content: 'sdk stream' }]));
  assert.equal(completed.output[0].content[0].text, text);
});

test('a tool call comes back as a function_call item, whole and streamed', async () => {
  const r = assertSdkResponse(await client.responses.create({
    model: 'chat', input: 'weather in Paris?', tools: [weather], tool_choice: 'required',
  }));
  assert.equal(r.status, 'completed');
  const call = r.output.find((i) => i.type === 'function_call');
  assert.ok(call, JSON.stringify(r.output));
  assert.equal(call.name, 'get_weather');
  assert.match(call.id, /^fc_/);
  assert.ok(call.call_id.length > 0);
  const args = JSON.parse(call.arguments);
  assert.equal(typeof args.city, 'string');
  assert.equal(typeof args.days, 'number');
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.tools, [{
    type: 'function',
    function: { name: 'get_weather', description: 'Weather in a city', parameters: weather.parameters },
  }]);
  assert.equal(sent.tool_choice, 'required');

  const s = await rawStream({ model: 'chat', input: 'weather in Paris?', tools: [weather], tool_choice: 'required' });
  const final = checkStream(s.events);
  const sc = final.output.find((i) => i.type === 'function_call');
  assert.equal(sc.name, 'get_weather');
  assert.deepEqual(JSON.parse(sc.arguments), args, 'streamed arguments equal the whole ones');
  assert.ok(s.events.some((e) => e.event === 'response.function_call_arguments.delta'));
});

test('function_call and function_call_output items become assistant tool_calls and a tool message', async () => {
  const r = assertSdkResponse(await client.responses.create({
    model: 'chat',
    input: [
      { role: 'user', content: 'weather in Paris?' },
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris","days":1}' },
      { type: 'function_call_output', call_id: 'call_1', output: '{"temp":21}' },
    ],
    tools: [weather],
  }));
  assert.equal(r.status, 'completed');
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages, [
    { role: 'user', content: 'weather in Paris?' },
    {
      role: 'assistant', content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":1}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
  ]);
});

test('the token limit gives status incomplete with its reason, whole and streamed', async () => {
  const r = assertSdkResponse(await client.responses.create({ model: 'chat', input: 'long please', max_output_tokens: 3 }));
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(r.output.at(-1).status, 'incomplete');
  const s = await rawStream({ model: 'chat', input: 'long please', max_output_tokens: 3 });
  const final = checkStream(s.events);
  assert.equal(s.events.at(-2).event, 'response.incomplete');
  assert.equal(final.status, 'incomplete');
  assert.deepEqual(final.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(final.output.at(-1).status, 'incomplete');
});

test('reasoning_content becomes a reasoning item before the message, without reasoning deltas', async () => {
  const r = assertSdkResponse(await client.responses.create({ model: 'think', input: 'think first' }));
  assert.equal(r.output[0].type, 'reasoning');
  assert.equal(r.output[0].content[0].type, 'reasoning_text');
  assert.ok(r.output[0].content[0].text.length > 0);
  assert.equal(r.output[1].type, 'message');
  const s = await rawStream({ model: 'think', input: 'think first' });
  const final = checkStream(s.events);
  assert.deepEqual(final.output.map((i) => i.type), ['reasoning', 'message']);
  assert.equal(final.output[0].content[0].text, r.output[0].content[0].text);
  assert.ok(!s.events.some((e) => /reasoning/.test(e.event || '') && /delta/.test(e.event)),
    'the default streams reasoning as whole items (valid under both specs)');
});

test('bad requests get 400 in OpenAI shape with the param path', async () => {
  let r = await postJSON(`${gw.baseURL}/responses`, { input: 'x' });
  assert.equal(r.status, 400);
  assert.equal(assertOpenAIError(assertValid('error', r.json), { type: 'invalid_request_error' }).param, 'model');
  r = await postJSON(`${gw.baseURL}/responses`, { model: 'chat', input: [{ role: 'user', content: 5 }] });
  assert.equal(r.status, 400);
  assert.match(assertOpenAIError(assertValid('error', r.json)).param, /^input\[0\]\.content/);
  r = await postJSON(`${gw.baseURL}/responses`, { model: 'nope', input: 'x' });
  assert.equal(r.status, 404);
  assertOpenAIError(assertValid('error', r.json), { code: 'model_not_found' });
  r = await postJSON(`${gw.baseURL}/responses`, { model: 'chat', input: 'x', background: true });
  assert.equal(r.status, 400);
  assert.equal(assertOpenAIError(assertValid('error', r.json)).param, 'background');
});

test('a backend failing before the stream gets an HTTP error; mid-stream, error then response.failed', async () => {
  let r = await fetch(`${gw.baseURL}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sim-fault': 'status=500' },
    body: JSON.stringify({ model: 'chat', input: 'x', stream: true }),
  });
  assert.ok(r.status >= 500, `status ${r.status}`);
  assertOpenAIError(assertValid('error', await r.json()));

  r = await fetch(`${gw.baseURL}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sim-fault': 'error-after=3' },
    body: JSON.stringify({ model: 'chat', input: 'x', stream: true }),
  });
  assert.equal(r.status, 200);
  const data = sseData(await r.text());
  assert.equal(data.at(-1), '[DONE]');
  const evs = assertEvents(data.slice(0, -1).map((d) => JSON.parse(d)));
  evs.forEach((e, i) => assert.equal(e.sequence_number, i));
  const err = evs.at(-2);
  assert.equal(err.type, 'error');
  assert.equal(typeof err.message, 'string');
  assert.equal(err.error.message, err.message);
  assert.equal(evs.at(-1).type, 'response.failed');
  assert.equal(evs.at(-1).response.status, 'failed');
  assert.equal(typeof evs.at(-1).response.error.message, 'string');
});

test('the audit log records /v1/responses requests', async () => {
  const r = await client.responses.create({ model: 'chat', input: 'audited' }).withResponse();
  assertSdkResponse(r.data);
  const rid = r.response.headers.get('x-request-id');
  const rec = await gw.waitAudit(rid);
  assert.equal(rec.endpoint, '/v1/responses');
  assert.equal(rec.model, 'chat');
  assert.equal(rec.status, 200);
  assert.equal(rec.backend, 'sim');
  assert.equal(rec.response_id, r.data.id);
  assert.equal(rec.stored, true);
  assert.equal(rec.dropped_tools, undefined);
});

test('hosted tools a chat backend cannot run are left out, with a warning in the audit log', async () => {
  const r = await client.responses.create({
    model: 'chat', input: 'weather in Paris?', tools: [{ type: 'web_search' }, weather], store: false,
  }).withResponse();
  assertSdkResponse(r.data);
  assert.equal(r.data.status, 'completed');
  assert.deepEqual(r.data.tools.map((t) => t.type), ['function'], 'the echo lists only the tools the model had');
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.tools.map((t) => t.function.name), ['get_weather']);
  const rec = await gw.waitAudit(r.response.headers.get('x-request-id'));
  assert.deepEqual(rec.dropped_tools, ['web_search']);
  assert.equal(rec.stored, false);
});

test('encrypted reasoning: sealed for a stateless client, opened when it comes back', async () => {
  const first = assertSdkResponse(await client.responses.create({
    model: 'think', input: 'think about it', store: false, include: ['reasoning.encrypted_content'],
  }));
  const rs = first.output[0];
  assert.equal(rs.type, 'reasoning');
  assert.match(rs.encrypted_content, /^[A-Za-z0-9+/]+=*$/);
  const thought = rs.content[0].text;
  assert.ok(!Buffer.from(rs.encrypted_content, 'base64').toString('latin1').includes(thought),
    'the seal does not show the text');
  // Codex replays the history with the reasoning item as it got it, minus the text
  const replay = [
    { role: 'user', content: 'think about it' },
    { type: 'reasoning', id: rs.id, summary: [], encrypted_content: rs.encrypted_content },
    first.output[1],
    { role: 'user', content: 'and now?' },
  ];
  assertSdkResponse(await client.responses.create({ model: 'think', input: replay, store: false }));
  const sent = (await rsim.last()).json;
  const asst = sent.messages.find((m) => m.role === 'assistant');
  assert.equal(asst.reasoning_content, thought, 'the local model gets its reasoning back');
  // a blob that is not ours is left alone: no reasoning is sent, no error
  replay[1] = { type: 'reasoning', id: rs.id, summary: [], encrypted_content: 'gAAAAABnot-ours' };
  const other = assertSdkResponse(await client.responses.create({ model: 'think', input: replay, store: false }));
  assert.equal(other.status, 'completed');
  assert.equal((await rsim.last()).json.messages.find((m) => m.role === 'assistant').reasoning_content, undefined);
  // streamed: the reasoning item's output_item.done carries it too, and the final object agrees
  const s = await rawStream({ model: 'think', input: 'think about it', store: false, include: ['reasoning.encrypted_content'] });
  const final = checkStream(s.events);
  assert.match(final.output[0].encrypted_content, /^[A-Za-z0-9+/]+=*$/);
  // without the include, nothing is sealed
  const plain = assertSdkResponse(await client.responses.create({ model: 'think', input: 'think about it', store: false }));
  assert.equal(plain.output[0].encrypted_content ?? null, null);
});
