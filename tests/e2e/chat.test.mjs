// chat.test.mjs — the happy paths of /v1/chat/completions through the
// official openai SDK: plain, streamed, tool calls, structured output; and
// embeddings, models, health.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, sseData, USER, waitFor,
} from './harness.mjs';

let sim, gw, client;

before(async () => {
  // it lists the pinned upstream ids, or the deployments would be out of rotation
  sim = await startSim({ args: ['--tokens', '24', '--models', 'sim-model,qwen2.5-7b-instruct-q4_k_m,nomic-embed-text'] });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url, forward_headers: ['traceparent', 'X-Tenant'] }],
      models: [
        { name: 'chat', backend: 'sim', upstream_model: 'qwen2.5-7b-instruct-q4_k_m' },
        { name: 'embed', backend: 'sim', upstream_model: 'nomic-embed-text' },
      ],
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, sim); });

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city', 'days'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: {
        type: 'object',
        properties: { zone: { type: 'string', enum: ['UTC', 'CET'] }, precise: { type: 'boolean' } },
        required: ['zone', 'precise'],
      },
    },
  },
];

test('plain chat completion: content, usage, request id, unknown fields and model rewrite', async () => {
  const { data, response } = await client.chat.completions
    .create({
      model: 'chat',
      messages: USER('Say something nice about the sea'),
      // llama.cpp extensions the gateway does not model: must ride along untouched
      top_k: 40,
      min_p: 0.05,
      cache_prompt: true,
    })
    .withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices.length, 1);
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.ok(data.choices[0].message.content.trim().split(/\s+/).length === 24, data.choices[0].message.content);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.prompt_tokens > 0);
  assert.equal(data.usage.completion_tokens, 24);
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + 24);

  const rid = response.headers.get('x-request-id');
  assert.ok(rid && rid.length > 0, 'a generated x-request-id');

  const last = await sim.last();
  assert.equal(last.path, '/v1/chat/completions');
  assert.equal(last.json.model, 'qwen2.5-7b-instruct-q4_k_m', 'the pinned upstream id replaces the public name');
  assert.equal(last.json.top_k, 40);
  assert.equal(last.json.min_p, 0.05);
  assert.equal(last.json.cache_prompt, true);
  assert.match(last.body, /"top_k":\s*40/);
  assert.match(last.body, /"min_p":\s*0\.05/);
  assert.equal(last.headers['x-request-id'], rid, 'the generated id is forwarded upstream');
  assert.deepEqual(last.json.messages, USER('Say something nice about the sea'));
});

test('forward_headers: the named client headers reach the backend, no other does', async () => {
  await client.chat.completions.create(
    { model: 'chat', messages: USER('hello') },
    {
      headers: {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'x-tenant': 'blue',
        'x-other': 'not forwarded',
      },
    },
  );
  const last = await sim.last();
  assert.equal(last.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  assert.equal(last.headers['x-tenant'], 'blue');
  assert.equal(last.headers['x-other'], undefined);
  // the client's own key is for the gateway, never for the backend
  assert.equal(last.headers.authorization, undefined);
});

test("the client's x-request-id is echoed and forwarded; a missing one is generated", async () => {
  const mine = 'client-req-0042:abc';
  const { response } = await client.chat.completions
    .create({ model: 'chat', messages: USER('hello') }, { headers: { 'x-request-id': mine } })
    .withResponse();
  assert.equal(response.headers.get('x-request-id'), mine);
  assert.equal((await sim.last()).headers['x-request-id'], mine);

  const a = await postJSON(`${gw.baseURL}/chat/completions`, { model: 'chat', messages: USER('hello') });
  const b = await postJSON(`${gw.baseURL}/chat/completions`, { model: 'chat', messages: USER('hello') });
  assert.equal(a.status, 200);
  const ida = a.headers.get('x-request-id'), idb = b.headers.get('x-request-id');
  assert.ok(ida && idb && ida !== idb, `distinct generated ids: ${ida} ${idb}`);
  assert.equal((await sim.last()).headers['x-request-id'], idb);
});

test('streamed chat: chunks join to the non-streamed text; usage asked upstream and removed', async () => {
  const messages = USER('Tell me about mountains');
  const whole = await client.chat.completions.create({ model: 'chat', messages });
  const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true });
  let text = '', chunks = 0, finish = null, sawUsage = false;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) sawUsage = true;
    for (const c of chunk.choices) {
      if (c.delta?.content) text += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.ok(chunk.choices.length > 0, 'no usage-only chunk (choices: []) when the client did not ask');
  }
  assert.ok(chunks >= 24, `got ${chunks} chunks`);
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, 'stop');
  assert.equal(sawUsage, false, 'no usage in the stream when the client did not ask');
  const last = await sim.last();
  assert.equal(last.json.stream, true);
  assert.equal(last.json.stream_options?.include_usage, true, 'the gateway asks the backend for usage');
  assert.equal(last.json.model, 'qwen2.5-7b-instruct-q4_k_m');
});

test('an invalid x-request-id is replaced by a generated one', async () => {
  const r = await postJSON(`${gw.baseURL}/chat/completions`, { model: 'chat', messages: USER('x') },
    { 'x-request-id': 'has spaces and {braces}' });
  assert.equal(r.status, 200);
  const id = r.headers.get('x-request-id');
  assert.ok(id && id !== 'has spaces and {braces}', id);
  assert.match(id, /^[A-Za-z0-9._:-]+$/);
  assert.equal((await sim.last()).headers['x-request-id'], id);
});

test('stream_options.include_usage false: no usage chunk reaches the client', async () => {
  const stream = await client.chat.completions.create({
    model: 'chat', messages: USER('x'), stream: true, stream_options: { include_usage: false },
  });
  for await (const chunk of stream) {
    assert.ok(chunk.choices.length > 0 && !chunk.usage, JSON.stringify(chunk));
  }
  assert.equal((await sim.last()).json.stream_options?.include_usage, true);
});

test('streamed chat with include_usage: the usage chunk is kept; raw SSE ends with [DONE]', async () => {
  const messages = USER('Tell me about rivers');
  const stream = await client.chat.completions.create({
    model: 'chat', messages, stream: true, stream_options: { include_usage: true },
  });
  const all = [];
  for await (const chunk of stream) all.push(chunk);
  const lastChunk = all.at(-1);
  assert.deepEqual(lastChunk.choices, []);
  assert.ok(lastChunk.usage, 'the last chunk has usage');
  assert.equal(lastChunk.usage.completion_tokens, 24);
  assert.ok(lastChunk.usage.prompt_tokens > 0);

  const r = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages, stream: true }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  assert.ok(r.headers.get('x-request-id'));
  const events = sseData(await r.text());
  assert.equal(events.at(-1), '[DONE]');
  assert.equal(events.filter((e) => e === '[DONE]').length, 1);
  for (const e of events.slice(0, -1)) {
    const j = JSON.parse(e);
    assert.equal(j.object, 'chat.completion.chunk');
    assert.ok(j.choices.length > 0, 'no usage chunk in the raw stream either');
  }
});

test('tool call, not streamed: tool_choice required and the named-function form', async () => {
  const r1 = await client.chat.completions.create({
    model: 'chat', messages: USER('What is the weather like?'), tools, tool_choice: 'required',
  });
  const calls1 = r1.choices[0].message.tool_calls;
  assert.equal(r1.choices[0].finish_reason, 'tool_calls');
  assert.equal(calls1.length, 1);
  assert.equal(calls1[0].type, 'function');
  assert.equal(calls1[0].function.name, 'get_weather');
  const args1 = JSON.parse(calls1[0].function.arguments);
  assert.equal(typeof args1.city, 'string');
  assert.equal(typeof args1.days, 'number');

  const r2 = await client.chat.completions.create({
    model: 'chat', messages: USER('hi'), tools,
    tool_choice: { type: 'function', function: { name: 'get_time' } },
  });
  const calls2 = r2.choices[0].message.tool_calls;
  assert.equal(calls2[0].function.name, 'get_time');
  assert.deepEqual(JSON.parse(calls2[0].function.arguments), { zone: 'UTC', precise: true });
  const last = await sim.last();
  assert.deepEqual(last.json.tool_choice, { type: 'function', function: { name: 'get_time' } });
  assert.deepEqual(last.json.tools, tools);
});

async function streamedCalls(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const calls = [];
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      if (c.finish_reason) finish = c.finish_reason;
      for (const tc of c.delta?.tool_calls || []) {
        const slot = (calls[tc.index] ||= { id: '', name: '', args: '' });
        if (tc.id) slot.id = tc.id;
        if (tc.function?.name) slot.name += tc.function.name;
        if (tc.function?.arguments) slot.args += tc.function.arguments;
      }
    }
  }
  return { calls, finish };
}

test('tool call, streamed: arguments arrive in pieces and join to JSON', async () => {
  const { calls, finish } = await streamedCalls({
    model: 'chat', messages: USER('please'), tools, tool_choice: 'required',
  });
  assert.equal(finish, 'tool_calls');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'get_weather');
  assert.ok(calls[0].id);
  const a = JSON.parse(calls[0].args);
  assert.equal(typeof a.city, 'string');

  const named = await streamedCalls({
    model: 'chat', messages: USER('please'), tools,
    tool_choice: { type: 'function', function: { name: 'get_time' } },
  });
  assert.equal(named.calls[0].name, 'get_time');
  assert.deepEqual(JSON.parse(named.calls[0].args), { zone: 'UTC', precise: true });
});

test('structured output: json_schema and json_object, plain and streamed', async () => {
  const schema = {
    type: 'object',
    properties: { n: { type: 'integer' }, name: { type: 'string' }, ok: { type: 'boolean' } },
    required: ['n', 'name', 'ok'],
  };
  const r1 = await client.chat.completions.create({
    model: 'chat', messages: USER('give me a record'),
    response_format: { type: 'json_schema', json_schema: { name: 'rec', schema } },
  });
  const doc = JSON.parse(r1.choices[0].message.content);
  assert.equal(typeof doc.n, 'number');
  assert.equal(typeof doc.name, 'string');
  assert.equal(doc.ok, true);

  const r2 = await client.chat.completions.create({
    model: 'chat', messages: USER('answer in JSON'), response_format: { type: 'json_object' },
  });
  assert.equal(typeof JSON.parse(r2.choices[0].message.content), 'object');

  const stream = await client.chat.completions.create({
    model: 'chat', messages: USER('give me a record'), stream: true,
    response_format: { type: 'json_schema', json_schema: { name: 'rec', schema } },
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
  assert.deepEqual(JSON.parse(text), doc);
});

test('embeddings are forwarded with the upstream model id', async () => {
  const r = await client.embeddings.create({ model: 'embed', input: ['alpha', 'beta'], encoding_format: 'float' });
  assert.equal(r.data.length, 2);
  for (const d of r.data) {
    assert.equal(d.embedding.length, 8);
    const norm = Math.hypot(...d.embedding);
    assert.ok(Math.abs(norm - 1) < 1e-3, `unit length, got ${norm}`);
  }
  const last = await sim.last();
  assert.equal(last.path, '/v1/embeddings');
  assert.equal(last.json.model, 'nomic-embed-text');
  assert.deepEqual(last.json.input, ['alpha', 'beta']);
});

test('GET /v1/models lists the configured public names; /healthz and /readyz are 200', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('chat'), JSON.stringify(ids));
  assert.ok(ids.includes('embed'), JSON.stringify(ids));
  assert.ok(!ids.includes('qwen2.5-7b-instruct-q4_k_m'), 'pinned upstream ids are not public names');

  const h = await fetch(`${gw.origin}/healthz`);
  assert.equal(h.status, 200);
  assert.ok(h.headers.get('x-request-id'));
  const r = await fetch(`${gw.origin}/readyz`);
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  // the /v1 prefix is optional on the proxied routes
  const noPrefix = await postJSON(`${gw.origin}/chat/completions`, { model: 'chat', messages: USER('x') });
  assert.equal(noPrefix.status, 200);
  assert.equal(noPrefix.json.object, 'chat.completion');
});

test('30 concurrent streams and plain requests do not mix up', async () => {
  const jobs = [];
  for (let i = 0; i < 30; i++) {
    const messages = USER(`conversation number ${i}`);
    jobs.push((async () => {
      const whole = await client.chat.completions.create({ model: 'chat', messages });
      const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta?.content || '';
      return [whole.choices[0].message.content, text];
    })());
  }
  const results = await Promise.all(jobs);
  for (const [whole, text] of results) assert.equal(text, whole);
  assert.ok(new Set(results.map((r) => r[0])).size > 20, 'distinct conversations got distinct replies');
});

test('every request above left one audit record', async () => {
  // the records are written by a writer thread: poll
  await waitFor(() => gw.audit().length >= 70, { what: 'audit records' });
  for (const rec of gw.audit()) {
    assert.equal(typeof rec.request_id, 'string');
    assert.ok([200].includes(rec.status), JSON.stringify(rec));
  }
});
