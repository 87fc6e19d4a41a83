// responses_store.test.mjs — stored responses end to end through the
// official openai SDK: responses.create with store (default true), then
// retrieve, inputItems.list (pagination both ways), cancel, delete; a
// previous_response_id chain whose input items are the whole context;
// store:false persists nothing; another key's response is a 404; a stored
// response survives a gateway restart.
//
// The endpoints that read the store are tested without POST in
// responses_read.test.mjs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import OpenAI from 'openai';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll,
} from './harness.mjs';
import { assertSdkResponse, assertValid } from './schema.mjs';

function keysCli(store, name) {
  const r = spawnSync(LLMUX_BIN, ['keys', 'create', '--name', name, '--store', store],
    { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  return { secret: r.stdout.trim(), id: r.stderr.match(/key (key_[0-9a-f]{8})/)[1] };
}

describe('stored responses through POST /v1/responses', () => {
  let sim, gw, dir, keyStore, keyA, keyB;
  const config = (port, d) => makeConfig({
    port, dir: d,
    backends: [{ name: 'sim', url: sim.url }],
    models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
    extra: { auth: { enabled: true, store: keyStore }, responses: { store: path.join(d, 'responses.db') } },
  });

  before(async () => {
    dir = tempDir();
    keyStore = path.join(dir, 'keys.db');
    keyA = keysCli(keyStore, 'a');
    keyB = keysCli(keyStore, 'b');
    sim = await startSim();
    gw = await startLlmux({ dir, config });
  });
  after(async () => { await stopAll(gw, sim); });

  const a = () => gw.client({ apiKey: keyA.secret });
  const b = () => gw.client({ apiKey: keyB.secret });

  test('retrieve returns the created response', async () => {
    const created = assertSdkResponse(await a().responses.create({ model: 'chat', input: 'hello there' }));
    assert.equal(created.store, true, 'store defaults to true');
    const got = assertSdkResponse(await a().responses.retrieve(created.id));
    assert.deepEqual(got, created);
  });

  test('input items: the input, each with an id, newest first by default', async () => {
    const created = assertSdkResponse(await a().responses.create({
      model: 'chat',
      input: [
        { role: 'user', content: 'one' },
        { role: 'user', content: 'two' },
        { role: 'user', content: 'three' },
      ],
    }));
    const page = await a().responses.inputItems.list(created.id);
    assertValid('input_items', await (await fetch(`${gw.baseURL}/responses/${created.id}/input_items`, {
      headers: { authorization: `Bearer ${keyA.secret}` },
    })).json());
    assert.equal(page.data.length, 3);
    for (const item of page.data) assert.equal(typeof item.id, 'string');
    assert.deepEqual(page.data.map((i) => i.content[0].text), ['three', 'two', 'one']);
    assert.equal(page.has_more, false);
    // limit 1, asc, followed with after= by the SDK's auto-pagination
    const texts = [];
    for await (const item of a().responses.inputItems.list(created.id, { limit: 1, order: 'asc' })) {
      texts.push(item.content[0].text);
    }
    assert.deepEqual(texts, ['one', 'two', 'three']);
  });

  test('previous_response_id: the input items are the whole context', async () => {
    const first = assertSdkResponse(await a().responses.create({ model: 'chat', input: 'first question' }));
    const second = assertSdkResponse(await a().responses.create({
      model: 'chat', input: 'second question', previous_response_id: first.id,
    }));
    assert.equal(second.previous_response_id, first.id);
    const items = [];
    for await (const item of a().responses.inputItems.list(second.id, { order: 'asc' })) items.push(item);
    assert.equal(items.length, 3, 'first input, first output, second input');
    assert.equal(items[0].content[0].text, 'first question');
    assert.equal(items[1].id, first.output[0].id);
    assert.equal(items[2].content[0].text, 'second question');
  });

  test('cancel: only background responses can be cancelled', async () => {
    const created = assertSdkResponse(await a().responses.create({ model: 'chat', input: 'hi' }));
    await assert.rejects(a().responses.cancel(created.id), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.error.type, 'invalid_request_error');
      return true;
    });
  });

  test('delete, then every read is a 404', async () => {
    const created = assertSdkResponse(await a().responses.create({ model: 'chat', input: 'hi' }));
    const r = await fetch(`${gw.baseURL}/responses/${created.id}`, {
      method: 'DELETE', headers: { authorization: `Bearer ${keyA.secret}` },
    });
    assert.deepEqual(assertValid('deleted', await r.json()), { id: created.id, object: 'response', deleted: true });
    await assert.rejects(a().responses.retrieve(created.id), OpenAI.NotFoundError);
    await assert.rejects(a().responses.delete(created.id), OpenAI.NotFoundError);
    await assert.rejects(a().responses.inputItems.list(created.id), OpenAI.NotFoundError);
  });

  test('store: false persists nothing', async () => {
    const created = assertSdkResponse(await a().responses.create({ model: 'chat', input: 'hi', store: false }));
    assert.equal(created.store, false);
    await assert.rejects(a().responses.retrieve(created.id), OpenAI.NotFoundError);
  });

  test("another key's response is a 404, and stays", async () => {
    const created = assertSdkResponse(await a().responses.create({ model: 'chat', input: 'mine' }));
    await assert.rejects(b().responses.retrieve(created.id), (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.error.message, `Response with id '${created.id}' not found.`);
      return true;
    });
    await assert.rejects(b().responses.delete(created.id), OpenAI.NotFoundError);
    assert.equal((assertSdkResponse(await a().responses.retrieve(created.id))).id, created.id);
  });

  test('a stored response survives a restart', async () => {
    const created = assertSdkResponse(await a().responses.create({ model: 'chat', input: 'remember me' }));
    await gw.stop();
    gw = await startLlmux({ dir, config });
    assert.deepEqual(assertSdkResponse(await a().responses.retrieve(created.id)), created);
    const next = assertSdkResponse(await a().responses.create({
      model: 'chat', input: 'and now?', previous_response_id: created.id,
    }));
    assert.equal(next.previous_response_id, created.id);
  });
});
