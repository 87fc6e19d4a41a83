// health.test.mjs — health and pinning take deployments out of rotation
// (issue 4, items 1 and 5). Passive health: a backend whose attempts fail
// opens its circuit and gets no traffic for open_ms, then one probe decides.
// Active health: a backend whose last check failed is passed over at once.
// Pinning: a deployment whose pinned upstream_model its backend does not list
// in /models is passed over. Passed-over deployments cost no attempt and are
// in the audit record; when nothing is left the client gets 503
// no_healthy_backend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startSim, startLlmux, makeConfig, stopAll, postJSON, assertOpenAIError, USER, waitFor, freePort,
} from './harness.mjs';

let ok, s500, recover, pinsim, gw, closedPort;

// a small window so a few requests open the circuit
const CIRCUIT = { window: 10, min_requests: 4, error_ratio: 0.5 };
const FB = [{ backend: 'ok', upstream_model: 'sim-model' }];

before(async () => {
  [ok, s500, recover, pinsim, closedPort] = await Promise.all([
    startSim(),
    startSim({ args: ['--fault', 'status=500'] }),
    startSim(), // fails only when the request says so (x-sim-fault, forwarded)
    startSim({ args: ['--models', 'sim-model'] }),
    freePort(), // nothing listens there
  ]);
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [
        { name: 'ok', url: ok.url },
        // its /models fails too: no active checks, so only the circuit judges it
        { name: 's500', url: s500.url, health_check: false, circuit: { ...CIRCUIT, open_ms: 600000 } },
        {
          name: 'recover', url: recover.url, health_check: false, forward_headers: ['x-sim-fault'],
          circuit: { ...CIRCUIT, open_ms: 1000 },
        },
        { name: 'down', url: `http://127.0.0.1:${closedPort}/v1`, timeouts: { connect_ms: 1000 } },
        { name: 'pinsim', url: pinsim.url },
      ],
      models: [
        { name: 'cb', backend: 's500', fallbacks: FB },
        { name: 'cb2', backend: 'recover', fallbacks: FB, retry: { attempts: 1 } },
        { name: 'dn', backend: 'down', fallbacks: FB },
        { name: 'dn-alone', backend: 'down' },
        { name: 'pinned', backend: 'pinsim', upstream_model: 'missing-model', fallbacks: FB },
        { name: 'pinned-alone', backend: 'pinsim', upstream_model: 'missing-model' },
        { name: 'pinned-ok', backend: 'pinsim', upstream_model: 'sim-model' },
      ],
      // one round of checks at start only
      extra: { health: { interval_ms: 3600000, timeout_ms: 1000 } },
    }),
  });
  await waitFor(async () => {
    const j = await (await fetch(`${gw.origin}/readyz`)).json();
    return ['ok', 'down', 'pinsim'].every((n) => j.backends.find((b) => b.name === n).checked);
  }, { what: 'the first round of health checks' });
});

after(async () => { await stopAll(gw, ok, s500, recover, pinsim); });

const ask = (model, rid, headers = {}) => postJSON(`${gw.baseURL}/chat/completions`,
  { model, messages: USER(`hello ${rid}`) }, { 'x-request-id': rid, ...headers });
const readyz = async () => (await fetch(`${gw.origin}/readyz`)).json();
const backend = async (name) => (await readyz()).backends.find((b) => b.name === name);
const results = (rec) => rec.attempts.map((a) => [a.backend, a.result]);

test('(a) a failing backend opens its circuit: requests then go straight to the fallback', async () => {
  assert.equal((await backend('s500')).circuit, 'closed');
  for (let i = 0; i < 4; i++) {
    const r = await ask('cb', `cb-${i}`);
    assert.equal(r.status, 200, r.text);
    const rec = await gw.waitAudit(`cb-${i}`);
    assert.deepEqual(results(rec), [['s500', 'done'], ['ok', 'done']]);
  }
  assert.equal((await s500.stats()).requests, 4);
  assert.equal((await backend('s500')).circuit, 'open');
  for (let i = 4; i < 8; i++) {
    const r = await ask('cb', `cb-${i}`);
    assert.equal(r.status, 200, r.text);
    const rec = await gw.waitAudit(`cb-${i}`);
    assert.deepEqual(results(rec), [['s500', 'circuit_open'], ['ok', 'done']]);
    assert.equal(rec.attempts[0].ms, 0);
    assert.equal(rec.backend, 'ok');
  }
  assert.equal((await s500.stats()).requests, 4, 'no request reached the failing backend');
  assert.match(gw.err, /backend 's500': circuit open/);
});

test('(a2) after open_ms one probe goes through: its failure reopens, its success closes', async () => {
  const fail = { 'x-sim-fault': 'status=500' };
  for (let i = 0; i < 4; i++) assert.equal((await ask('cb2', `cb2-${i}`, fail)).status, 200);
  assert.equal((await backend('recover')).circuit, 'open');
  assert.equal((await recover.stats()).requests, 4);
  await waitFor(async () => (await backend('recover')).circuit === 'half_open',
    { timeoutMs: 5000, what: 'half-open after open_ms' });
  // the probe fails: open again, the request itself is served by the fallback
  let r = await ask('cb2', 'cb2-probe-1', fail);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(results(await gw.waitAudit('cb2-probe-1')), [['recover', 'done'], ['ok', 'done']]);
  assert.equal((await backend('recover')).circuit, 'open');
  r = await ask('cb2', 'cb2-skipped');
  assert.deepEqual(results(await gw.waitAudit('cb2-skipped')), [['recover', 'circuit_open'], ['ok', 'done']]);
  await waitFor(async () => (await backend('recover')).circuit === 'half_open',
    { timeoutMs: 5000, what: 'half-open again' });
  // the probe succeeds: closed, the backend serves again
  r = await ask('cb2', 'cb2-probe-2');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(results(await gw.waitAudit('cb2-probe-2')), [['recover', 'done']]);
  assert.equal((await backend('recover')).circuit, 'closed');
  assert.equal((await recover.stats()).requests, 6);
  assert.match(gw.err, /backend 'recover': the probe succeeded, circuit closed/);
});

test('(b) a backend whose health check failed is passed over at once for the fallback', async () => {
  const down = await backend('down');
  assert.equal(down.healthy, false);
  const t0 = Date.now();
  const r = await ask('dn', 'dn-1');
  assert.equal(r.status, 200, r.text);
  assert.ok(Date.now() - t0 < 1000, 'no connect attempt, no wait');
  const rec = await gw.waitAudit('dn-1');
  assert.deepEqual(rec.attempts.map(({ backend: b, result, status, ms }) => ({ b, result, status, ms })), [
    { b: 'down', result: 'unhealthy', status: null, ms: 0 },
    { b: 'ok', result: 'done', status: 200, ms: rec.attempts[1].ms },
  ]);
  // without a fallback: 503 in OpenAI's shape
  const alone = await ask('dn-alone', 'dn-2');
  assert.equal(alone.status, 503, alone.text);
  assertOpenAIError(alone.json, { code: 'no_healthy_backend' });
  assert.match(alone.json.error.message, /dn-alone/);
  assert.match(alone.json.error.message, /'down' unhealthy/);
});

test('(c) a deployment whose pinned model its backend does not list is out of rotation', async () => {
  const p = await backend('pinsim');
  assert.equal(p.healthy, true);
  assert.deepEqual(p.pin_violations, [
    { model: 'pinned', upstream_model: 'missing-model' },
    { model: 'pinned-alone', upstream_model: 'missing-model' },
  ]);
  await pinsim.reset();
  const r = await ask('pinned', 'pin-1');
  assert.equal(r.status, 200, r.text);
  const rec = await gw.waitAudit('pin-1');
  assert.deepEqual(results(rec), [['pinsim', 'pin_missing'], ['ok', 'done']]);
  assert.equal((await pinsim.stats()).requests, 0);
  const alone = await ask('pinned-alone', 'pin-2');
  assert.equal(alone.status, 503, alone.text);
  assertOpenAIError(alone.json, { code: 'no_healthy_backend' });
  assert.match(alone.json.error.message, /pinned-alone.*'pinsim' pin_missing/);
  // the same backend still serves the deployment whose pin it lists
  const fine = await ask('pinned-ok', 'pin-3');
  assert.equal(fine.status, 200, fine.text);
  assert.equal((await pinsim.last()).json.model, 'sim-model');
  assert.match(gw.err, /model 'pinned': backend 'pinsim' does not serve the pinned model 'missing-model'/);
});

test('(d) the first request after start, before any check finished, is not refused', async () => {
  const port = await freePort();
  // a backend that accepts connections but answers /models slowly: checks take 1.5 s
  const slow = await startSim({ args: ['--fault', 'delay=1500'] });
  const g = await startLlmux({
    ready: 'healthz',
    config: (p, dir) => makeConfig({
      port: p, dir,
      backends: [{ name: 'slow', url: slow.url }, { name: 'gone', url: `http://127.0.0.1:${port}/v1` }],
      models: [{ name: 'chat', backend: 'slow' }, { name: 'never', backend: 'gone' }],
      extra: { health: { interval_ms: 3600000, timeout_ms: 5000 } },
    }),
  });
  try {
    const st = (await (await fetch(`${g.origin}/readyz`)).json()).backends;
    assert.equal(st.find((b) => b.name === 'slow').checked, false, 'the check is still running');
    const r = await postJSON(`${g.baseURL}/chat/completions`, { model: 'chat', messages: USER('hi') });
    assert.equal(r.status, 200, r.text);
  } finally {
    await stopAll(g, slow);
  }
});
