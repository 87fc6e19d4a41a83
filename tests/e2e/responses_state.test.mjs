// responses_state.test.mjs — stateful Responses: previous_response_id
// rebuilds the context (previous input + previous output + new input, the
// previous instructions not carried over) for a chat backend, whole and
// streamed; store:false persists nothing; unknown ids and tool outputs
// answering no call are 400s; a continuation right after the answer finds
// the stored response (the answer is released only once it is stored).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, assertOpenAIError,
} from './harness.mjs';
import { assertSdkResponse, assertValid } from './schema.mjs';

let sim, gw, client;

before(async () => {
  sim = await startSim({ args: ['--tokens', '5'] });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url }],
      models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, sim); });

const weather = {
  type: 'function', name: 'get_weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

test('previous_response_id puts the previous input and output before the new input', async () => {
  const first = assertSdkResponse(await client.responses.create({ model: 'chat', instructions: 'Be terse.', input: 'My name is Ada.' }));
  const second = assertSdkResponse(await client.responses.create({
    model: 'chat', previous_response_id: first.id, input: 'What is my name?',
  }));
  assert.equal(second.status, 'completed');
  assert.equal(second.previous_response_id, first.id);
  const sent = (await sim.last()).json;
  assert.deepEqual(sent.messages, [
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: first.output_text },
    { role: 'user', content: 'What is my name?' },
  ], 'the first instructions are not carried over');

  // a third turn chains through both, streamed this time
  const stream = await client.responses.create({
    model: 'chat', previous_response_id: second.id, input: [{ role: 'user', content: 'And again?' }], stream: true,
  });
  let final;
  for await (const ev of stream) {
    assertValid('event', ev);
    if (ev.type === 'response.completed') final = ev.response;
  }
  assert.ok(final);
  const sent3 = (await sim.last()).json;
  assert.deepEqual(sent3.messages.map((m) => m.content), [
    'My name is Ada.', first.output_text, 'What is my name?', second.output_text, 'And again?',
  ]);
  // and the streamed response was stored too
  const fourth = assertSdkResponse(await client.responses.create({ model: 'chat', previous_response_id: final.id, input: 'last' }));
  assert.equal((await sim.last()).json.messages.length, 7);
  assert.equal(fourth.status, 'completed');
});

test('a tool call answered in the next turn through previous_response_id', async () => {
  const first = assertSdkResponse(await client.responses.create({
    model: 'chat', input: 'weather in Paris?', tools: [weather], tool_choice: 'required',
  }));
  const call = first.output.find((i) => i.type === 'function_call');
  assert.ok(call);
  const second = assertSdkResponse(await client.responses.create({
    model: 'chat', previous_response_id: first.id, tools: [weather],
    input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp":21}' }],
  }));
  assert.equal(second.status, 'completed');
  const sent = (await sim.last()).json;
  assert.equal(sent.messages[1].role, 'assistant');
  assert.equal(sent.messages[1].tool_calls[0].id, call.call_id);
  assert.deepEqual(sent.messages[2], { role: 'tool', tool_call_id: call.call_id, content: '{"temp":21}' });
});

test('a tool output that answers no call is a 400', async () => {
  const r = await postJSON(`${gw.baseURL}/responses`, {
    model: 'chat', input: [{ type: 'function_call_output', call_id: 'call_nope', output: 'x' }],
  });
  assert.equal(r.status, 400);
  const e = assertOpenAIError(assertValid('error', r.json), { type: 'invalid_request_error' });
  assert.match(e.message, /call_nope/);
});

test('an unknown previous_response_id is previous_response_not_found', async () => {
  const r = await postJSON(`${gw.baseURL}/responses`, {
    model: 'chat', previous_response_id: 'resp_00000000000000000000000000000000', input: 'x',
  });
  assert.equal(r.status, 400);
  const e = assertOpenAIError(assertValid('error', r.json), { code: 'previous_response_not_found' });
  assert.equal(e.param, 'previous_response_id');
});

test('store:false persists nothing', async () => {
  const r = assertSdkResponse(await client.responses.create({ model: 'chat', input: 'forget me', store: false }));
  assert.equal(r.store, false);
  const again = await postJSON(`${gw.baseURL}/responses`, { model: 'chat', previous_response_id: r.id, input: 'x' });
  assert.equal(again.status, 400);
  assertOpenAIError(assertValid('error', again.json), { code: 'previous_response_not_found' });
});
