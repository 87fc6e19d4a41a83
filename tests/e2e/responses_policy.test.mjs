// responses_policy.test.mjs — the chat client's policies on /v1/responses
// too: redaction of the prompt (instructions, input items, after the
// previous response's context is put in front) and of the answer, whole
// and streamed, pseudonyms restored; block detectors; tool allowlists on
// the offered tools (refuse, strip), also after previous_response_id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, assertOpenAIError,
} from './harness.mjs';
import { assertSdkResponse, assertValid } from './schema.mjs';

let sim, gw, strip, objects, client;

function config(extra) {
  return (port, dir) => makeConfig({
    port, dir,
    backends: [{ name: 'sim', url: sim.url }],
    models: [
      { name: 'echo', backend: 'sim', upstream_model: 'sim-model' },
      { name: 'guarded', backend: 'sim', upstream_model: 'sim-model', tools_allowed: ['get_weather'] },
    ],
    extra: {
      redaction: {
        detectors: [
          { name: 'email', action: 'pseudonym', direction: 'both' },
          { name: 'iban', action: 'block', direction: 'input' },
          { name: 'card', action: 'mask', direction: 'both' },
        ],
        restore: true,
      },
      ...extra,
    },
  });
}

before(async () => {
  sim = await startSim({ args: ['--echo', '5'] });
  gw = await startLlmux({ config: config({}) });
  strip = await startLlmux({ config: config({ policy: { forbidden_tools: 'strip' } }) });
  // a backend that honours tool_choice objects: the sim then calls whatever tool it names
  objects = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url, tool_choice_objects: true }],
      models: [{ name: 'echo', backend: 'sim', upstream_model: 'sim-model' }],
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, strip, objects, sim); });

const tool = (name) => ({
  type: 'function', name, parameters: { type: 'object', properties: { city: { type: 'string' } } },
});

test('an e-mail in the input reaches the backend as a pseudonym and comes back restored', async () => {
  const r = await client.responses.create({
    model: 'echo', instructions: 'Reply to bob@example.org', input: 'write to ada@example.com today',
  });
  const sent = (await sim.last()).json;
  const text = JSON.stringify(sent.messages);
  assert.doesNotMatch(text, /ada@example\.com|bob@example\.org/);
  assert.match(sent.messages.at(-1).content, /<EMAIL_\d+>/);
  assert.equal(r.output_text, 'write to ada@example.com today', 'the echo is restored');
  const rec = await gw.waitAudit((x) => x.response_id === r.id);
  assert.ok(rec.redaction.input.some((d) => d.detector === 'email' && d.matches === 2));
});

test('streamed: pseudonyms restored across chunk boundaries, card numbers masked', async () => {
  const stream = await client.responses.create({
    model: 'echo', input: 'mail ada@example.com card 4111 1111 1111 1111 ok', stream: true, store: false,
  });
  let deltas = '', done;
  for await (const ev of stream) {
    assertValid('event', ev);
    if (ev.type === 'response.output_text.delta') deltas += ev.delta;
    if (ev.type === 'response.completed') done = ev.response;
  }
  assert.ok(done);
  assert.match(deltas, /^mail ada@example\.com card \[REDACTED:CARD\] ok$/);
  assert.equal(done.output[0].content[0].text, deltas);
  const sent = (await sim.last()).json;
  assert.doesNotMatch(JSON.stringify(sent), /ada@example|4111/);
});

test('the previous response\'s context is redacted too', async () => {
  const first = assertSdkResponse(await client.responses.create({ model: 'echo', input: 'I am ada@example.com' }));
  await client.responses.create({ model: 'echo', previous_response_id: first.id, input: 'and you?' });
  const sent = (await sim.last()).json;
  assert.equal(sent.messages.length, 3);
  assert.doesNotMatch(JSON.stringify(sent.messages), /ada@example\.com/);
});

test('a block detector refuses the request with 400 content_blocked, naming only the kind', async () => {
  const r = await postJSON(`${gw.baseURL}/responses`, {
    model: 'echo', input: [{ role: 'user', content: [{ type: 'input_text', text: 'pay DE89370400440532013000 now' }] }],
  });
  assert.equal(r.status, 400);
  const e = assertOpenAIError(assertValid('error', r.json), { code: 'content_blocked' });
  assert.match(e.message, /iban/);
  assert.doesNotMatch(r.text, /DE89/);
});

test('a tool the model does not allow is refused, or stripped with forbidden_tools: strip', async () => {
  const r = await postJSON(`${gw.baseURL}/responses`, {
    model: 'guarded', input: 'hi', tools: [tool('get_weather'), tool('delete_all')],
  });
  assert.equal(r.status, 403);
  assertOpenAIError(assertValid('error', r.json), { code: 'tool_not_allowed' });
  const s = assertSdkResponse(await strip.client().responses.create({
    model: 'guarded', input: 'hi', tools: [tool('get_weather'), tool('delete_all')],
  }));
  assert.equal(s.status, 'completed');
  assert.deepEqual((await sim.last()).json.tools.map((t) => t.function.name), ['get_weather']);
  const rec = await strip.waitAudit((x) => x.response_id === s.id);
  assert.equal(rec.tool_policy.offer_action, 'stripped');
  // a continuation decodes the tools again: still stripped
  await strip.client().responses.create({
    model: 'guarded', previous_response_id: s.id, input: 'again', tools: [tool('delete_all'), tool('get_weather')],
  });
  assert.deepEqual((await sim.last()).json.tools.map((t) => t.function.name), ['get_weather']);
});

test('a call to a tool the request did not offer never reaches the client, whole or streamed', async () => {
  const body = {
    model: 'echo', input: 'weather?', tools: [tool('get_weather')],
    tool_choice: { type: 'function', name: 'rm_rf' }, store: false,
  };
  const r = await objects.client().responses.create(body).withResponse();
  assert.equal((await sim.last()).json.tool_choice.function.name, 'rm_rf', 'the object went upstream as is');
  assert.ok(!r.data.output.some((i) => i.type === 'function_call'), JSON.stringify(r.data.output));
  const rec = await objects.waitAudit(r.response.headers.get('x-request-id'));
  assert.equal(rec.tool_policy.call_action, 'removed');
  assert.deepEqual(rec.tool_policy.denied_calls, [{ name: 'rm_rf', why: 'not_offered' }]);

  const s = await fetch(`${objects.baseURL}/responses`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await s.text();
  assert.doesNotMatch(text, /"type":"function_call"/, 'no function_call item was streamed');
  assert.doesNotMatch(text, /function_call_arguments/);
  assert.match(text, /event: error\n/);
  assert.match(text, /event: response\.failed\n/);
  assert.match(text, /rm_rf/);
});
