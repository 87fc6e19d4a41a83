// discovery.test.mjs — no config file: `llmux serve --upstream URL` (or
// LLMUX_UPSTREAM) adds a discovering backend whose /models become public
// names; LLMUX_AUDIT_LOG and LLMUX_LISTEN come from the environment.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startSim, startLlmux, stopAll, tempDir, freePort, waitFor, USER,
} from './harness.mjs';

const cleanup = [];
after(async () => { await stopAll(...cleanup.filter((c) => c.running)); });

async function modelIds(gw) {
  const r = await fetch(`${gw.baseURL}/models`);
  const j = await r.json();
  assert.equal(j.object, 'list');
  return j.data.map((m) => m.id);
}

test('--upstream: discovered models are listed and routable', async () => {
  const sim = await startSim({ args: ['--models', 'alpha-7b,beta-13b'] });
  cleanup.push(sim);
  const dir = tempDir();
  const audit = path.join(dir, 'audit.jsonl');
  const port = await freePort();
  const gw = await startLlmux({
    dir, port, config: null, auditPath: audit,
    args: ['--listen', `127.0.0.1:${port}`, '--upstream', sim.url],
    env: { LLMUX_AUDIT_LOG: audit },
  });
  cleanup.push(gw);
  const ids = await waitFor(async () => {
    const l = await modelIds(gw);
    return l.includes('alpha-7b') && l.includes('beta-13b') ? l : null;
  }, { timeoutMs: 10000, what: 'discovered models in /v1/models' });
  assert.ok(ids.length >= 2);

  const client = gw.client();
  const sdkIds = [];
  for await (const m of client.models.list()) sdkIds.push(m.id);
  assert.ok(sdkIds.includes('beta-13b'));

  const r = await client.chat.completions.create({ model: 'beta-13b', messages: USER('hi') });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const last = await sim.last();
  assert.equal(last.json.model, 'beta-13b', 'a discovered id is sent as is');

  const rec = await gw.waitAudit((x) => x.model === 'beta-13b');
  assert.equal(rec.backend, 'upstream');
  assert.ok(fs.existsSync(audit), 'the audit log went where LLMUX_AUDIT_LOG says');
  await gw.stop();
  await sim.stop();
});

test('LLMUX_UPSTREAM and LLMUX_LISTEN from the environment', async () => {
  const sim = await startSim({ args: ['--models', 'gamma'] });
  cleanup.push(sim);
  const dir = tempDir();
  const audit = path.join(dir, 'audit.jsonl');
  const port = await freePort();
  const gw = await startLlmux({
    dir, port, config: null, auditPath: audit,
    env: { LLMUX_UPSTREAM: sim.url, LLMUX_LISTEN: `127.0.0.1:${port}`, LLMUX_AUDIT_LOG: audit },
  });
  cleanup.push(gw);
  await waitFor(async () => (await modelIds(gw)).includes('gamma'), { what: 'gamma discovered' });
  const r = await gw.client().chat.completions.create({ model: 'gamma', messages: USER('hi') });
  assert.ok(r.choices[0].message.content.length > 0);
  const u = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'not-discovered', messages: USER('x') }),
  });
  assert.equal(u.status, 404);
  assert.equal((await u.json()).error.code, 'model_not_found');
  await gw.stop();
  await sim.stop();
});

test('a config file with a discovering backend lists pinned and discovered names', async () => {
  const sim = await startSim({ args: ['--models', 'disc-1'] });
  cleanup.push(sim);
  const gw = await startLlmux({
    config: (port, dir) => ({
      listeners: [{ address: `127.0.0.1:${port}` }],
      audit: { path: path.join(dir, 'audit.jsonl') },
      health: { interval_ms: 200 },
      backends: [{ name: 'sim', url: sim.url, discover: true }],
      models: [{ name: 'pinned', backend: 'sim', upstream_model: 'disc-1' }],
    }),
  });
  cleanup.push(gw);
  const ids = await waitFor(async () => {
    const l = await modelIds(gw);
    return l.includes('disc-1') ? l : null;
  }, { what: 'disc-1 discovered' });
  assert.ok(ids.includes('pinned'));
  assert.equal(ids.filter((x) => x === 'pinned').length, 1);
  await gw.stop();
  await sim.stop();
});
