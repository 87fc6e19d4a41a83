// reload.test.mjs — hot reload with rollback, and draining one backend
// (issue 4 items 7 and 8), through the official openai SDK and the admin API.
//
// Reload under load: 50 streamed requests wait on a slow sim ("a") while a
// SIGHUP swaps the config for one whose model goes to another sim ("b");
// every request completes 200 with its whole answer, the 50 on "a" (the
// snapshot they started with), the ones sent after the reload on "b" (sim
// counters and audit records say so). An invalid file is refused with its
// FILE:LINE:COL (400) and routing stays as it was; a rollback restores the
// previous config (its hash first in GET /admin/config). Drain: new requests
// skip the drained backend (audit: "draining") while the one in flight on it
// finishes; undrain brings it back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  LLMUX_BIN, childEnv, startSim, startLlmux, makeConfig, stopAll, postJSON, assertOpenAIError, waitFor, toYaml, USER,
} from './harness.mjs';

const ADMIN_KEY = 'admin-key-for-reload-tests-0123456789';
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
const N_LOAD = 50;

let simA, simB, simD1, simD2, simQ, gw, gwDrain, gwQ;

const admin = (g, path, method = 'POST') =>
  fetch(`${g.origin}${path}`, { method, headers: ADMIN }).then(async (r) => ({
    status: r.status, json: await r.json(),
  }));

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

function config(port, dir, backends, models) {
  return toYaml(makeConfig({
    port, dir, backends, models,
    extra: { admin: { enabled: true, key_env: 'LLMUX_TEST_ADMIN_KEY' } },
  }));
}

let textA, textB;

before(async () => {
  // "a" holds each request ~4 s before its first token: long enough for all
  // 50 to be in flight on it while the reload happens
  simA = await startSim({ args: ['--ttft-ms', '4000', '--tokens', '6', '--models', 'up-a'] });
  simB = await startSim({ args: ['--tokens', '6', '--models', 'up-b'] });
  simD1 = await startSim({ args: ['--ttft-ms', '3000', '--tokens', '6', '--models', 'up'] });
  simD2 = await startSim({ args: ['--tokens', '6', '--models', 'up'] });
  simQ = await startSim({ args: ['--ttft-ms', '2000', '--tokens', '4', '--models', 'up'] });
  gw = await startLlmux({
    env: { LLMUX_TEST_ADMIN_KEY: ADMIN_KEY },
    config: (port, dir) => {
      textA = config(port, dir, [{ name: 'a', url: simA.url, health_check: false }],
        [{ name: 'chat', backend: 'a', upstream_model: 'up-a' }]);
      textB = config(port, dir, [{ name: 'b', url: simB.url, health_check: false }],
        [{ name: 'chat', backend: 'b', upstream_model: 'up-b' }]);
      return textA;
    },
  });
  gwDrain = await startLlmux({
    env: { LLMUX_TEST_ADMIN_KEY: ADMIN_KEY },
    config: (port, dir) => config(port, dir,
      [{ name: 'd1', url: simD1.url, health_check: false }, { name: 'd2', url: simD2.url, health_check: false }],
      [{ name: 'pool', backend: 'd1', upstream_model: 'up',
         fallbacks: [{ backend: 'd2', upstream_model: 'up' }] }]),
  });
  gwQ = await startLlmux({
    env: { LLMUX_TEST_ADMIN_KEY: ADMIN_KEY },
    config: (port, dir) => {
      textQ1 = config(port, dir, [qBackend()], [{ name: 'chat', backend: 'q', upstream_model: 'up' }]);
      textQ2 = toYaml({
        ...makeConfig({
          port, dir, backends: [qBackend()],
          models: [{ name: 'chat', backend: 'q', upstream_model: 'up' }],
          extra: { admin: { enabled: true, key_env: 'LLMUX_TEST_ADMIN_KEY' } },
        }),
        aliases: { fast: 'chat' },
      });
      return textQ1;
    },
  });
});

let textQ1, textQ2;
// one slot and a queue: a reload must keep both counted where they are
const qBackend = () => ({
  name: 'q', url: simQ.url, health_check: false, max_in_flight: 1,
  queue: { max: 8, max_wait_ms: 30000 },
});

after(async () => {
  await stopAll(gw, gwDrain, gwQ, simA, simB, simD1, simD2, simQ);
});

async function streamChat(g, model, id) {
  const stream = await g.client().chat.completions.create(
    { model, messages: USER(`hello ${id}`), stream: true },
    { headers: { 'x-request-id': id } });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

const reloads = async (g, result) => {
  const m = await (await fetch(`${g.origin}/metrics`)).text();
  const line = m.split('\n').find((l) => l.startsWith(`llmux_config_reloads_total{result="${result}"}`));
  return Number(line.split(' ')[1]);
};

test('reload under load: in-flight requests finish on the old backend, new ones use the new', async () => {
  const loads = [];
  for (let i = 0; i < N_LOAD; i++) loads.push(streamChat(gw, 'chat', `old-${i}`));
  await waitFor(async () => (await simA.stats()).requests === N_LOAD,
    { timeoutMs: 20000, what: `${N_LOAD} requests on a` });

  fs.writeFileSync(gw.configPath, textB);
  gw.proc.kill('SIGHUP');
  const ev = await gw.waitAudit((r) => r.event === 'config_reload');
  assert.equal(ev.result, 'ok');
  assert.equal(ev.trigger, 'sighup');
  assert.equal(ev.sha256, sha256(textB));
  assert.equal(ev.previous_sha256, sha256(textA));
  const during = await simA.stats();
  assert.ok(during.active > 0, 'requests were in flight on a across the reload');
  assert.equal(during.cancelled, 0, 'the reload cancelled nothing');

  const fresh = [];
  for (let i = 0; i < 5; i++) fresh.push(streamChat(gw, 'chat', `new-${i}`));
  const done = await Promise.all([...loads, ...fresh]);
  for (const d of done) {
    assert.equal(d.finish, 'stop');
    assert.ok(d.text.length > 0);
  }
  const a = await simA.stats(), b = await simB.stats();
  assert.equal(a.requests, N_LOAD);
  assert.equal(a.completed, N_LOAD);
  assert.equal(a.cancelled, 0);
  assert.equal(b.requests, 5);
  const recs = await waitFor(() => {
    const r = gw.audit().filter((x) => /^(old|new)-/.test(x.request_id ?? ''));
    return r.length === N_LOAD + 5 && r;
  }, { what: 'every audit record' });
  for (const r of recs) {
    assert.equal(r.status, 200, r.request_id);
    assert.equal(r.attempts.length, 1, r.request_id);
    assert.equal(r.attempts[0].backend, r.request_id.startsWith('old-') ? 'a' : 'b', r.request_id);
    assert.equal(r.attempts[0].result, 'done');
  }
  assert.equal(await reloads(gw, 'ok'), 1);
  // the backend the reload removed is gone from /readyz
  const ready = await (await fetch(`${gw.origin}/readyz`)).json();
  assert.deepEqual(ready.backends.map((x) => x.name), ['b']);
});

test('a backend kept by a reload keeps its slot and queue: never above max_in_flight', async () => {
  const state = async () => (await admin(gwQ, '/admin/backends', 'GET')).json.backends[0];
  const first = [0, 1, 2].map((i) => streamChat(gwQ, 'chat', `q-old-${i}`));
  await waitFor(async () => { const b = await state(); return b.in_flight === 1 && b.queued === 2; },
    { what: 'one in flight on q, two queued' });

  fs.writeFileSync(gwQ.configPath, textQ2);
  const r = await admin(gwQ, '/admin/config/reload');
  assert.equal(r.status, 200);
  assert.equal(r.json.data[0].sha256, sha256(textQ2));
  const b = await state();
  assert.equal(b.in_flight, 1, 'the slot taken before the reload is still counted');
  assert.equal(b.queued, 2, 'the waiters are still queued');

  const late = streamChat(gwQ, 'fast', 'q-new-0'); // a name only the new config has
  for (const d of await Promise.all([...first, late])) assert.equal(d.finish, 'stop');
  const s = await simQ.stats();
  assert.equal(s.requests, 4);
  assert.equal(s.completed, 4);
  assert.equal(s.peak_active, 1, 'never above the slot count');
  const recs = await waitFor(() => {
    const x = gwQ.audit().filter((y) => /^q-/.test(y.request_id ?? ''));
    return x.length === 4 && x;
  }, { what: 'four audit records' });
  for (const rec of recs) assert.deepEqual(rec.attempts.map((a) => [a.backend, a.result]), [['q', 'done']]);
  const lateRec = recs.find((x) => x.request_id === 'q-new-0');
  assert.ok(lateRec.route.queued_behind >= 1, 'the new request queued behind the old ones');
  assert.ok(lateRec.queue_ms > 0);
  const after = await state();
  assert.equal(after.in_flight, 0);
  assert.equal(after.queued, 0);
});

test('an invalid reload keeps the running config and answers 400 with the position', async () => {
  fs.writeFileSync(gw.configPath, `${textB}unknown_key_here: 1\n`);
  const r = await admin(gw, '/admin/config/reload');
  assert.equal(r.status, 400);
  const e = assertOpenAIError(r.json, { code: 'invalid_config', type: 'invalid_request_error' });
  assert.match(e.message, /llmux\.yaml:\d+:\d+: /);
  const ev = await gw.waitAudit((x) => x.event === 'config_reload' && x.result === 'invalid');
  assert.equal(ev.trigger, 'admin');
  assert.equal(ev.error, e.message);
  assert.match(gw.err, /config reload \(admin\) refused, the running config stays: .*llmux\.yaml:\d+:\d+/);

  const before = (await simB.stats()).requests;
  const c = await gw.client().chat.completions.create({ model: 'chat', messages: USER('still b?') });
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.equal((await simB.stats()).requests, before + 1, 'still routed to b');
  assert.equal(await reloads(gw, 'invalid'), 1);

  const list = await admin(gw, '/admin/config', 'GET');
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.data.map((x) => [x.current, x.sha256]),
    [[true, sha256(textB)], [false, sha256(textA)]]);
  assert.equal(list.json.data[0].source, gw.configPath);
  assert.ok(!Number.isNaN(Date.parse(list.json.data[0].applied_at)));
});

test('rollback restores the previous config; with none left it answers 409', async () => {
  const r = await admin(gw, '/admin/config/rollback');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.data.map((x) => [x.current, x.sha256]), [[true, sha256(textA)]]);
  const ev = await gw.waitAudit((x) => x.event === 'config_rollback');
  assert.equal(ev.result, 'ok');
  assert.equal(ev.sha256, sha256(textA));

  const before = (await simA.stats()).requests;
  const c = await gw.client().chat.completions.create({ model: 'chat', messages: USER('back on a') });
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.equal((await simA.stats()).requests, before + 1, 'routed to a again');

  const again = await admin(gw, '/admin/config/rollback');
  assert.equal(again.status, 409);
  assertOpenAIError(again.json, { code: 'no_previous_config' });
  assert.equal(await reloads(gw, 'ok'), 2);
});

test('the admin endpoints need the admin key', async () => {
  for (const [path, method] of [['/admin/config/reload', 'POST'], ['/admin/config', 'GET'],
    ['/admin/backends', 'GET'], ['/admin/backends/d1/drain', 'POST']]) {
    const r = await fetch(`${gwDrain.origin}${path}`, { method });
    assert.equal(r.status, 401, path);
    assertOpenAIError(await r.json(), { code: 'invalid_api_key' });
  }
  const unknown = await admin(gwDrain, '/admin/backends/nope/drain');
  assert.equal(unknown.status, 404);
  assertOpenAIError(unknown.json, { code: 'backend_not_found' });
});

test('drain: new requests skip the backend while the one in flight on it finishes; undrain', async () => {
  const inflight = streamChat(gwDrain, 'pool', 'drain-inflight');
  await waitFor(async () => (await simD1.stats()).active === 1, { what: 'a request in flight on d1' });

  const d = await admin(gwDrain, '/admin/backends/d1/drain');
  assert.equal(d.status, 200);
  assert.deepEqual(d.json, { backend: 'd1', draining: true });
  const ready = await (await fetch(`${gwDrain.origin}/readyz`)).json();
  assert.deepEqual(ready.backends.map((x) => [x.name, x.draining]), [['d1', true], ['d2', false]]);
  const list = await admin(gwDrain, '/admin/backends', 'GET');
  const d1 = list.json.backends.find((x) => x.name === 'd1');
  assert.equal(d1.draining, true);
  assert.equal(d1.in_flight, 1);

  const c = await gwDrain.client().chat.completions.create(
    { model: 'pool', messages: USER('skip d1') }, { headers: { 'x-request-id': 'drain-skip' } });
  assert.equal(c.choices[0].finish_reason, 'stop');
  const rec = await gwDrain.waitAudit('drain-skip');
  assert.deepEqual(rec.attempts.map((a) => [a.backend, a.result]), [['d1', 'draining'], ['d2', 'done']]);
  assert.equal((await simD1.stats()).requests, 1, 'nothing new reached d1');

  const first = await inflight;
  assert.equal(first.finish, 'stop');
  const s1 = await simD1.stats();
  assert.equal(s1.completed, 1);
  assert.equal(s1.cancelled, 0);
  const ev = await gwDrain.waitAudit((x) => x.event === 'backend_drain');
  assert.equal(ev.backend, 'd1');

  const u = await admin(gwDrain, '/admin/backends/d1/undrain');
  assert.deepEqual(u.json, { backend: 'd1', draining: false });
  await gwDrain.client().chat.completions.create(
    { model: 'pool', messages: USER('d1 again') }, { headers: { 'x-request-id': 'drain-back' } });
  const back = await gwDrain.waitAudit('drain-back');
  assert.deepEqual(back.attempts.map((a) => [a.backend, a.result]), [['d1', 'done']]);
  assert.equal((await simD1.stats()).requests, 2);
});

function reloadCli(args, env = {}) {
  const r = spawnSync(LLMUX_BIN, ['reload', ...args], { env: childEnv(env), encoding: 'utf8', timeout: 20000 });
  for (const m of ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer']) {
    assert.ok(!r.stderr.includes(m), `sanitizer report for llmux reload:\n${r.stderr}`);
  }
  return r;
}

test('llmux reload: the CLI over the admin API; a drain survives a reload that keeps the backend', async () => {
  const env = { LLMUX_TEST_ADMIN_KEY: ADMIN_KEY };
  const url = ['--url', gwDrain.origin, '--key-env', 'LLMUX_TEST_ADMIN_KEY'];
  assert.equal((await admin(gwDrain, '/admin/backends/d2/drain')).status, 200);

  const r = reloadCli(url, env);
  assert.equal(r.status, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  assert.equal(list.data.length, 2, 'the same file again is a new entry');
  assert.equal(list.data[0].sha256, list.data[1].sha256);
  const ready = await (await fetch(`${gwDrain.origin}/readyz`)).json();
  assert.deepEqual(ready.backends.map((x) => [x.name, x.draining]), [['d1', false], ['d2', true]]);

  const back = reloadCli([...url, '--rollback'], env);
  assert.equal(back.status, 0, back.stderr);
  assert.equal(JSON.parse(back.stdout).data.length, 1);
  const none = reloadCli([...url, '--rollback'], env);
  assert.equal(none.status, 1);
  assertOpenAIError(JSON.parse(none.stdout), { code: 'no_previous_config' });
  const wrong = reloadCli(url, { LLMUX_TEST_ADMIN_KEY: 'not-the-admin-key-at-all' });
  assert.equal(wrong.status, 1);
  assertOpenAIError(JSON.parse(wrong.stdout), { code: 'invalid_api_key' });
  assert.equal(reloadCli(url).status, 2, 'no key in the environment');
  assert.equal((await admin(gwDrain, '/admin/backends/d2/undrain')).status, 200);
});
