// responses_backend.test.mjs — backends of dialect `responses`. The
// backend here is a second llmux (its /v1/responses over llmux-sim): a
// real server that speaks the Responses API. Native passthrough: a
// Responses client's request reaches it with only the model replaced and
// its events come back untouched. The other way round: a Chat Completions
// client over it, whole and streamed, tool calls included (RESPONSES.md 13).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, sseData,
} from './harness.mjs';
import { assertEvents } from './schema.mjs';

let sim, inner, front, client;

before(async () => {
  sim = await startSim({ args: ['--tokens', '8'] });
  inner = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url }],
      models: [{ name: 'inner-model', backend: 'sim', upstream_model: 'sim-model' }],
    }),
  });
  front = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'inner', url: inner.baseURL, dialect: 'responses', discover: false }],
      models: [{ name: 'cloud', backend: 'inner', upstream_model: 'inner-model' }],
      extra: { health: { interval_ms: 200, timeout_ms: 1000 } },
    }),
  });
  client = front.client();
});

after(async () => { await stopAll(front, inner, sim); });

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

async function innerRecord(pred) {
  return inner.waitAudit(pred);
}

test('passthrough: a Responses request reaches the Responses backend with only the model replaced', async () => {
  const body = { model: 'cloud', input: 'hello passthrough', metadata: { k: 'v' }, store: false };
  const r = await postJSON(`${front.baseURL}/responses`, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'response');
  assert.equal(r.json.model, 'inner-model', 'the backend\'s answer, untouched');
  assert.deepEqual(r.json.metadata, { k: 'v' });
  const rec = await innerRecord((x) => x.response_id === r.json.id);
  assert.equal(rec.endpoint, '/v1/responses');
  assert.equal(rec.model, 'inner-model');
});

test('passthrough streaming: the backend\'s events arrive as they were sent', async () => {
  const r = await fetch(`${front.baseURL}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'cloud', input: 'stream it', stream: true, store: false }),
  });
  assert.equal(r.status, 200);
  const text = await r.text();
  const data = sseData(text);
  assert.equal(data.at(-1), '[DONE]');
  // the inner llmux's events, passed through: still valid under both specs
  const evs = assertEvents(data.slice(0, -1).map((d) => JSON.parse(d)));
  evs.forEach((e, i) => assert.equal(e.sequence_number, i));
  assert.equal(evs.at(-1).type, 'response.completed');
  assert.match(text, /^event: response\.created\ndata: /, 'event lines kept');
});

test('a chat client over a Responses backend: whole answer', async () => {
  const direct = await postJSON(`${sim.url}/chat/completions`, {
    model: 'sim-model', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }],
  });
  const r = await client.chat.completions.create({
    model: 'cloud', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'cloud');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, direct.json.choices[0].message.content);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  // what the inner gateway got: a Responses request, instructions from the system message, not stored
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages, [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi there' }]);
  const rec = await innerRecord((x) => x.endpoint === '/v1/responses' && x.stored === false && x.status === 200);
  assert.equal(rec.model, 'inner-model');
});

test('a chat client over a Responses backend: streamed, with usage, same text', async () => {
  const whole = await client.chat.completions.create({ model: 'cloud', messages: [{ role: 'user', content: 'stream please' }] });
  const stream = await client.chat.completions.create({
    model: 'cloud', messages: [{ role: 'user', content: 'stream please' }], stream: true, stream_options: { include_usage: true },
  });
  let text = '', finish = null, usage = null, n = 0;
  for await (const c of stream) {
    n++;
    if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    if (c.usage) usage = c.usage;
  }
  assert.ok(n > 3);
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0);
});

test('a chat client over a Responses backend: tool calls both ways', async () => {
  const r = await client.chat.completions.create({
    model: 'cloud', messages: [{ role: 'user', content: 'weather in Paris?' }], tools: [weather], tool_choice: 'required',
  });
  const call = r.choices[0].message.tool_calls?.[0];
  assert.ok(call, JSON.stringify(r.choices[0]));
  assert.equal(call.function.name, 'get_weather');
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
  const r2 = await client.chat.completions.create({
    model: 'cloud', tools: [weather],
    messages: [
      { role: 'user', content: 'weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '{"temp":20}' },
    ],
  });
  assert.equal(r2.choices[0].finish_reason, 'stop');
  const sent = (await sim.last()).json;
  assert.equal(sent.messages[1].tool_calls[0].id, call.id);
  assert.deepEqual(sent.messages[2], { role: 'tool', tool_call_id: call.id, content: '{"temp":20}' });
  // streamed
  const stream = await client.chat.completions.create({
    model: 'cloud', messages: [{ role: 'user', content: 'weather in Paris?' }], tools: [weather], tool_choice: 'required', stream: true,
  });
  let args = '', name = null, finish = null;
  for await (const c of stream) {
    const tc = c.choices[0]?.delta?.tool_calls?.[0];
    if (tc?.function?.name) name = tc.function.name;
    if (tc?.function?.arguments) args += tc.function.arguments;
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
  }
  assert.equal(name, 'get_weather');
  assert.equal(finish, 'tool_calls');
  assert.deepEqual(JSON.parse(args), JSON.parse(call.function.arguments));
});

test('a chat request with no Responses form is a 400 in the chat dialect', async () => {
  const r = await postJSON(`${front.baseURL}/chat/completions`, {
    model: 'cloud', messages: [{ role: 'user', content: 'x' }], n: 2,
  });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.type, 'invalid_request_error');
  assert.match(r.json.error.message, /Responses backend/);
});
