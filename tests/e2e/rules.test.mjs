// rules.test.mjs — routing rules, prices, budgets and deep pin checks
// (issue 4 items 1 and 6, issue 5 item 6). Three sims: `fast` (answers at
// once, cheap, tools only, not local), `slow` (first token after 300 ms,
// dear, every capability, local) and `pins` (reports /props and /api/tags
// that a test changes with POST /sim/pin). A skipped deployment is in the
// audit attempts with the rule's name; with none left the client gets 503
// no_deployment_for_rules naming the rule. Each request's cost_usd is its
// usage at the deployment's price; a key's spend accrues until its budget
// answers 429 insufficient_quota.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll, postJSON,
  assertOpenAIError, waitFor, USER,
} from './harness.mjs';

const DIGEST = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
let fast, slow, pins, gw, budgetGw, dir, store;

const FAST = { input_per_mtok: 1, output_per_mtok: 2 };
const SLOW = { input_per_mtok: 100, output_per_mtok: 200 };

before(async () => {
  dir = tempDir();
  [fast, slow, pins] = await Promise.all([
    startSim(),
    startSim({ args: ['--ttft-ms', '300'] }),
    startSim({ args: ['--models', 'qwen,llama3:8b', '--model-path', '/m/qwen.gguf', '--digest', DIGEST] }),
  ]);
  const both = (w) => [
    { backend: 'slow', upstream_model: 'sim-model', weight: w },
    { backend: 'fast', upstream_model: 'sim-model' },
  ];
  gw = await startLlmux({
    config: (port, d) => makeConfig({
      port, dir: d,
      backends: [
        { name: 'fast', url: fast.url, local: false, price: FAST, capabilities: ['tools'] },
        { name: 'slow', url: slow.url, price: SLOW },
        { name: 'props', url: pins.url, pin_check: 'props' },
        { name: 'olla', url: pins.url, pin_check: 'ollama' },
      ],
      models: [
        { name: 'lat', deployments: both(10) },
        { name: 'cost', deployments: both(10) },
        { name: 'vis', deployments: [{ backend: 'fast', upstream_model: 'sim-model', weight: 10 },
          { backend: 'slow', upstream_model: 'sim-model' }] },
        { name: 'priv', deployments: [{ backend: 'fast', upstream_model: 'sim-model', weight: 10 },
          { backend: 'slow', upstream_model: 'sim-model' }] },
        { name: 'priced', backend: 'fast', upstream_model: 'sim-model',
          fallbacks: [{ backend: 'slow', upstream_model: 'sim-model', price: { input_per_mtok: 0, output_per_mtok: 0 } }] },
        { name: 'pp', backend: 'props', upstream_model: 'qwen' },
        { name: 'oo', deployments: [{ backend: 'olla', upstream_model: 'llama3:8b', digest: DIGEST.slice(0, 12) }] },
      ],
      extra: {
        health: { interval_ms: 100, timeout_ms: 1000 },
        routing: {
          rules: [
            { name: 'private', when: { header: 'x-private' }, require: { local: true } },
            { name: 'latency', when: { header: 'x-llmux-max-ttft-ms' }, skip_if_ttft_over_header: true },
            { name: 'cost-cap', when: { header: 'x-llmux-max-cost-usd' }, skip_if_cost_over_header: true },
            { name: 'vision', when: { capability: 'vision' }, require: { capability: 'vision' } },
          ],
        },
      },
    }),
  });
});

after(async () => { await stopAll(gw, budgetGw, fast, slow, pins); });

let n = 0;
const ask = async (model, headers = {}, extra = {}) => {
  const rid = `rules-${++n}`;
  const r = await postJSON(`${gw.baseURL}/chat/completions`,
    { model, messages: USER(`hello ${rid}`), ...extra }, { 'x-request-id': rid, ...headers });
  return { ...r, rid, rec: await gw.waitAudit(rid) };
};
const trail = (rec) => rec.attempts.map((a) => [a.backend, a.result]);

test('latency: a backend whose recent TTFT is over the header is skipped under its rule name', async () => {
  const first = await ask('lat'); // no header: the heavier deployment, and its TTFT is measured
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(trail(first.rec), [['slow', 'done']]);
  assert.ok(first.rec.ttft_ms >= 300);
  const quick = await ask('lat', { 'x-llmux-max-ttft-ms': '100' });
  assert.equal(quick.status, 200, quick.text);
  assert.deepEqual(trail(quick.rec), [['slow', 'latency'], ['fast', 'done']]);
  const patient = await ask('lat', { 'x-llmux-max-ttft-ms': '5000' });
  assert.deepEqual(trail(patient.rec), [['slow', 'done']]);
  const bad = await ask('lat', { 'x-llmux-max-ttft-ms': 'soon' });
  assert.equal(bad.status, 400);
  assertOpenAIError(bad.json, { code: 'invalid_routing_header', type: 'invalid_request_error' });
  assert.match(bad.json.error.message, /x-llmux-max-ttft-ms/);
});

test('cost: deployments whose estimate exceeds the header are skipped; none left is 503 naming the rule', async () => {
  // estimate: body bytes / 4 prompt tokens + max_tokens 10 at the prices: slow > 0.002, fast < 0.0002
  const cheap = await ask('cost', { 'x-llmux-max-cost-usd': '0.001' }, { max_tokens: 10 });
  assert.equal(cheap.status, 200, cheap.text);
  assert.deepEqual(trail(cheap.rec), [['slow', 'cost-cap'], ['fast', 'done']]);
  const rich = await ask('cost', { 'x-llmux-max-cost-usd': '1' }, { max_tokens: 10 });
  assert.deepEqual(trail(rich.rec), [['slow', 'done']]);
  const none = await ask('cost', { 'x-llmux-max-cost-usd': '0.000001' }, { max_tokens: 10 });
  assert.equal(none.status, 503);
  assertOpenAIError(none.json, { code: 'no_deployment_for_rules', type: 'server_error' });
  assert.match(none.json.error.message, /`cost-cap`/);
  assert.deepEqual(trail(none.rec), [['slow', 'cost-cap'], ['fast', 'cost-cap']]);
});

test('capability: an image request skips a deployment without vision; others keep their order', async () => {
  const image = [{ role: 'user', content: [{ type: 'text', text: 'what is this' },
    { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }];
  const v = await ask('vis', {}, { messages: image });
  assert.equal(v.status, 200, v.text);
  assert.deepEqual(trail(v.rec), [['fast', 'vision'], ['slow', 'done']]);
  const plain = await ask('vis');
  assert.deepEqual(trail(plain.rec), [['fast', 'done']]);
});

test('require local: a non-local backend is skipped while the rule applies', async () => {
  const p = await ask('priv', { 'x-private': '1' });
  assert.equal(p.status, 200, p.text);
  assert.deepEqual(trail(p.rec), [['fast', 'private'], ['slow', 'done']]);
  assert.deepEqual(trail((await ask('priv')).rec), [['fast', 'done']]);
});

test('cost_usd in the audit record is the usage at the deployment price, and is counted in metrics', async () => {
  const r = await ask('priced');
  assert.equal(r.status, 200, r.text);
  const { prompt_tokens: p, completion_tokens: c } = r.rec;
  assert.ok(p > 0 && c > 0);
  assert.equal(r.rec.cost_usd, (p * 1 + c * 2) / 1e6);
  // the fallback's own price (0) wins over its backend's (slow: 100 / 200)
  const viaFallback = await ask('priced', { 'x-llmux-max-cost-usd': '0' });
  assert.equal(viaFallback.status, 200, viaFallback.text);
  assert.deepEqual(trail(viaFallback.rec), [['fast', 'cost-cap'], ['slow', 'done']]);
  assert.equal(viaFallback.rec.cost_usd, 0);
  const m = await (await fetch(`${gw.origin}/metrics`)).text();
  const line = m.split('\n').find((l) => l.startsWith('llmux_cost_usd_total{model="priced",backend="fast"}'));
  assert.ok(line, m);
  assert.ok(Math.abs(Number(line.split(' ').pop()) - r.rec.cost_usd) < 1e-12, line);
  const refused = await ask('lat', { 'x-llmux-max-ttft-ms': 'x' });
  assert.equal(refused.rec.cost_usd, null);
});

const readyBackend = async (name) => (await (await fetch(`${gw.origin}/readyz`)).json())
  .backends.find((b) => b.name === name);
const setPin = (body) => fetch(`${pins.origin}/sim/pin`, { method: 'POST', body: JSON.stringify(body) });

test('pin_check props: a model_path / model_alias mismatch takes the deployment out, and back in', async () => {
  await waitFor(async () => (await readyBackend('props')).checked, { what: 'the props check' });
  assert.deepEqual((await readyBackend('props')).pin_violations, []);
  assert.equal((await ask('pp')).status, 200);
  await setPin({ model_path: '/m/other.gguf', model_alias: 'other' });
  await waitFor(async () => (await readyBackend('props')).pin_violations.length === 1, { what: 'the violation' });
  assert.deepEqual((await readyBackend('props')).pin_violations, [{ model: 'pp', upstream_model: 'qwen' }]);
  const out = await ask('pp');
  assert.equal(out.status, 503);
  assert.deepEqual(trail(out.rec), [['props', 'pin_missing']]);
  const m = await (await fetch(`${gw.origin}/metrics`)).text();
  assert.match(m, /llmux_pin_violations\{backend="props"\} 1/);
  await setPin({ model_path: '/models/qwen.gguf', model_alias: 'something-else' }); // file name matches
  await waitFor(async () => (await readyBackend('props')).pin_violations.length === 0, { what: 'recovery' });
  assert.equal((await ask('pp')).status, 200);
  assert.match(gw.err, /does not serve the pinned model 'qwen'/);
});

test('pin_check ollama: a digest mismatch in /api/tags takes the deployment out, and back in', async () => {
  await waitFor(async () => (await readyBackend('olla')).checked, { what: 'the ollama check' });
  assert.equal((await ask('oo')).status, 200);
  await setPin({ digest: 'ff'.repeat(32) });
  await waitFor(async () => (await readyBackend('olla')).pin_violations.length === 1, { what: 'the violation' });
  const out = await ask('oo');
  assert.equal(out.status, 503);
  assert.deepEqual(trail(out.rec), [['olla', 'pin_missing']]);
  await setPin({ digest: `sha256:${DIGEST}` });
  await waitFor(async () => (await readyBackend('olla')).pin_violations.length === 0, { what: 'recovery' });
  assert.equal((await ask('oo')).status, 200);
});

test('budget: a key is refused with 429 insufficient_quota exactly when its spend reaches the budget', async () => {
  store = path.join(dir, 'keys.db');
  const cli = (args) => spawnSync(LLMUX_BIN, ['keys', ...args, '--store', store], { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  const made = cli(['create', '--name', 'b', '--budget', '0.1']);
  assert.equal(made.status, 0, made.stderr);
  const secret = made.stdout.trim();
  const id = made.stderr.match(/key (key_[0-9a-f]{8})/)[1];
  budgetGw = await startLlmux({
    config: (port, d) => makeConfig({
      port, dir: d,
      backends: [{ name: 'fast', url: fast.url, price: { input_per_mtok: 1000, output_per_mtok: 2000 } }],
      models: [{ name: 'm', backend: 'fast', upstream_model: 'sim-model' }],
      extra: { auth: { enabled: true, store } },
    }),
  });
  // the sim's usage for USER('hi'): 1 word + 4 per message = 5 prompt, 16 completion tokens,
  // so each request costs (5 * 1000 + 16 * 2000) / 1e6 = 0.037 USD: 0, 0.037, 0.074 < 0.1, then 0.111
  const statuses = [];
  for (let i = 0; i < 4; i++) {
    const r = await postJSON(`${budgetGw.baseURL}/chat/completions`, { model: 'm', messages: USER('hi') },
      { authorization: `Bearer ${secret}`, 'x-request-id': `budget-${i}` });
    statuses.push(r.status);
    if (i === 3) {
      assertOpenAIError(r.json, { code: 'insufficient_quota', type: 'insufficient_quota' });
      assert.ok(!r.text.includes(secret));
    }
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const rec = await budgetGw.waitAudit('budget-0');
  assert.deepEqual([rec.prompt_tokens, rec.completion_tokens], [5, 16]);
  assert.equal(rec.cost_usd, 0.037);
  // the writer thread lands the spend in the store (batched, within ~500 ms)
  await waitFor(() => {
    const l = cli(['list']);
    return l.status === 0 && new RegExp(`spent_usd=0\\.1110`).test(l.stdout.split(id)[1] || '');
  }, { what: 'spent_usd in the store' });
});

test('llmux check --explain prints each rule verdict per deployment and the choice', () => {
  const cfgPath = path.join(dir, 'explain.yaml');
  fs.writeFileSync(cfgPath, [
    'backends:',
    '  - {name: a, url: "http://127.0.0.1:9/v1", capabilities: [tools], price: {input_per_mtok: 1, output_per_mtok: 1}}',
    '  - {name: b, url: "http://127.0.0.1:8/v1"}',
    'models:',
    '  - {name: m, deployments: [{backend: a, upstream_model: x, weight: 5}, {backend: b, upstream_model: y}]}',
    'routing:',
    '  rules:',
    '    - {name: vision, when: {capability: vision}, require: {capability: vision}}',
    '    - {name: cost-cap, when: {header: x-max-cost}, skip_if_cost_over_header: true}',
  ].join('\n'));
  const run = (body, ...extra) => spawnSync(LLMUX_BIN, ['check', '-c', cfgPath, '--explain', JSON.stringify(body), ...extra],
    { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  const plain = run({ model: 'm', messages: USER('hi') });
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /rule vision +n\/a/);
  assert.match(plain.stdout, /takes: a\/x \(balanced set, least_outstanding among 2\)/);
  const img = run({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'u' } }] }] });
  assert.match(img.stdout, /needs vision/);
  assert.match(img.stdout, /set a\/x[^\n]*\n +rule vision +skip +lacks capability vision/);
  assert.match(img.stdout, /takes: b\/y/);
  const poor = run({ model: 'm', max_tokens: 100, messages: USER('hi') }, '--header', 'X-Max-Cost: 0');
  assert.match(poor.stdout, /rule cost-cap +skip +est\. cost/);
  assert.match(poor.stdout, /takes: b\/y/); // b has no price
  const bad = run({ model: 'nope', messages: [] });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /model `nope` is not known/);
});
