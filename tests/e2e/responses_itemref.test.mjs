// responses_itemref.test.mjs — item_reference inputs on /v1/responses over a
// chat backend: a reference to an item of a stored response is replaced by
// that item before translation (RESPONSES.md 3); one that names no stored
// item is a 404 and nothing goes upstream. (The Vercel AI SDK sends
// references for reasoning items: sdk_vercel.test.mjs.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, startLlmux, makeConfig, stopAll, postJSON, assertOpenAIError } from './harness.mjs';

let rsim, gw, client;

before(async () => {
  rsim = await startSim({ args: ['--tokens', '5', '--reasoning'] });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'rsim', url: rsim.url }],
      models: [{ name: 'think', backend: 'rsim', upstream_model: 'sim-model' }],
    }),
  });
  client = gw.client();
});

after(async () => { await stopAll(gw, rsim); });

const ref = (id) => ({ type: 'item_reference', id });

test('references to stored reasoning and message items are resolved', async () => {
  const first = await client.responses.create({ model: 'think', input: 'Tell me something.' });
  const [rs, m] = first.output;
  assert.equal(rs.type, 'reasoning');
  assert.equal(m.type, 'message');
  const second = await client.responses.create({
    model: 'think',
    input: [{ role: 'user', content: 'Tell me something.' }, ref(rs.id), ref(m.id), { role: 'user', content: 'More.' }],
  });
  assert.equal(second.status, 'completed');
  const sent = (await rsim.last()).json;
  assert.deepEqual(sent.messages, [
    { role: 'user', content: 'Tell me something.' },
    { role: 'assistant', content: first.output_text, reasoning_content: rs.content[0].text },
    { role: 'user', content: 'More.' },
  ]);
  // the stored input of the new response holds the items, not the references
  const items = await client.responses.inputItems.list(second.id, { order: 'asc' });
  assert.deepEqual(items.data.map((i) => i.type), ['message', 'reasoning', 'message', 'message']);
  assert.equal(items.data[1].id, rs.id);
});

async function refused(input, status, param) {
  await rsim.reset(); // forgets the last POST (health probes are GETs, which it never keeps)
  const r = await postJSON(`${gw.baseURL}/responses`, { model: 'think', input });
  assert.equal(r.status, status, r.text);
  const e = assertOpenAIError(r.json, { type: 'invalid_request_error' });
  assert.equal(e.param, param);
  assert.deepEqual(await rsim.last(), {}, 'nothing went upstream');
  return e;
}

test('a reference that names no stored item is a 404', async () => {
  const e = await refused([ref('rs_0123456789abcdef0123456789abcdef_0'), { role: 'user', content: 'x' }], 404, 'input');
  assert.match(e.message, /rs_0123456789abcdef0123456789abcdef_0/);
  await refused([ref('rs_68b9c1d2e3f4a5b6c7d8e9f0')], 404, 'input'); // not an id the gateway made
  // an item of a stored response, but an index it does not have
  const first = await client.responses.create({ model: 'think', input: 'hi' });
  await refused([ref(first.output[0].id.replace(/_0$/, '_9'))], 404, 'input');
});

test('items of a store:false response cannot be referenced', async () => {
  const r = await client.responses.create({ model: 'think', input: 'hi', store: false });
  await refused([ref(r.output[1].id)], 404, 'input');
});

test('a reference without an id is a 400', async () => {
  await refused([{ type: 'item_reference' }], 400, 'input[0].id');
});
