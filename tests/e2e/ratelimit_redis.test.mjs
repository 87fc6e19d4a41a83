// ratelimit_redis.test.mjs — rate limits shared through Redis, and tokens per
// minute. A redis-server of our own (free loopback port, temp dir, no
// persistence) backs two llmux processes: per_key_rpm 5 holds across both
// (the 6th request, to either, is 429); a key with tpm 5 spends it on one
// process and is refused on the other until its debt is paid; with Redis
// frozen (SIGSTOP) past timeout_ms or stopped, on_error allow lets requests
// through with a log line and a metric, and the limits come back when Redis
// does (a fresh Redis lacks the script: EVALSHA falls back to EVAL). Also: on_error deny
// answers 503, and an in-memory per_model_tpm refuses after the usage.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  LLMUX_BIN, childEnv, tempDir, startSim, startLlmux, makeConfig, stopAll, postJSON,
  assertOpenAIError, freePort, waitFor, USER,
} from './harness.mjs';

let sim, redis, redisPort, gwA, gwB, gwDeny, gwMem, store;
const keys = {};

/** Starts redis-server on port in a temp dir; resolves once it is ready. */
async function startRedis(port) {
  const dir = tempDir('llmux-redis-');
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited:\n${out}`);
    return /Ready to accept connections/.test(out);
  }, { what: 'redis-server ready' });
  return { proc, stop: async () => { proc.kill('SIGTERM'); await exited; } };
}

function create(name, extra = []) {
  const r = spawnSync(LLMUX_BIN, ['keys', 'create', '--name', name, '--store', store, ...extra],
    { env: childEnv(), encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0, r.stderr);
  keys[name] = { secret: r.stdout.trim(), id: r.stderr.match(/key (key_[0-9a-f]{8})/)[1] };
}

const models = [
  { name: 'chat', backend: 'sim', upstream_model: 'up-1' },
  { name: 'other', backend: 'sim', upstream_model: 'up-2' },
];

function redisConfig(port, on_error = 'allow') {
  return { url: `redis://127.0.0.1:${port}/0`, key_prefix: 'e2e:', timeout_ms: 200, on_error };
}

before(async () => {
  sim = await startSim({ args: ['--models', 'up-1,up-2'] });
  redisPort = await freePort();
  redis = await startRedis(redisPort);
  const dir = tempDir();
  store = path.join(dir, 'keys.db');
  create('alice');
  create('bob', ['--tpm', '5']);
  const shared = (port, d) => makeConfig({
    port, dir: d, backends: [{ name: 'sim', url: sim.url }], models,
    extra: {
      auth: { enabled: true, store, public_paths: ['/healthz', '/readyz', '/metrics'] },
      rate_limits: { per_key_rpm: 5, burst: 5, store: 'redis', redis: redisConfig(redisPort) },
    },
  });
  gwA = await startLlmux({ config: shared });
  gwB = await startLlmux({ config: shared });
  const deadPort = await freePort();
  gwDeny = await startLlmux({
    config: (port, d) => makeConfig({
      port, dir: d, backends: [{ name: 'sim', url: sim.url }], models,
      extra: { rate_limits: { per_model_rpm: 100, store: 'redis', redis: redisConfig(deadPort, 'deny') } },
    }),
  });
  gwMem = await startLlmux({
    config: (port, d) => makeConfig({
      port, dir: d, backends: [{ name: 'sim', url: sim.url }], models,
      extra: { rate_limits: { per_model_tpm: 5 } },
    }),
  });
});

after(async () => {
  await stopAll(gwA, gwB, gwDeny, gwMem, sim);
  if (redis) await redis.stop();
});

const as = (k) => ({ authorization: `Bearer ${keys[k].secret}` });
const chat = (gw, k, content, model = 'chat') =>
  postJSON(`${gw.baseURL}/chat/completions`, { model, messages: USER(content) }, k ? as(k) : {});

test('two llmux processes sharing one Redis enforce one per-key limit', async () => {
  const order = [gwA, gwB, gwA, gwB, gwA];
  for (let i = 0; i < order.length; i++) {
    const r = await chat(order[i], 'alice', `n${i}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), '5');
    assert.equal(r.headers.get('x-ratelimit-remaining-requests'), String(4 - i));
    assert.match(r.headers.get('x-ratelimit-reset-requests'), /^\d+(\.\d+)?s$/);
  }
  for (const gw of [gwB, gwA]) {
    const r = await chat(gw, 'alice', 'sixth');
    assert.equal(r.status, 429, r.text);
    const e = assertOpenAIError(r.json, { code: 'rate_limit_exceeded', type: 'rate_limit_error' });
    assert.match(e.message, /requests per minute \(RPM\) on API key key_[0-9a-f]{8}: Limit 5/);
    const secs = Number(r.headers.get('retry-after'));
    assert.ok(secs >= 1 && secs <= 12, `retry-after ${secs}`);
    assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
  }
  const rec = await gwB.waitAudit((x) => x.status === 429);
  assert.equal(rec.rate_limited, 'key');
  assert.deepEqual(rec.attempts, []);
});

test('tokens per minute: a key in debt on one process is refused on the other', async () => {
  const first = await chat(gwA, 'bob', 'tell me something');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('x-ratelimit-limit-tokens'), '5');
  assert.equal(first.headers.get('x-ratelimit-remaining-tokens'), '5');
  assert.match(first.headers.get('x-ratelimit-reset-tokens'), /^\d+(ms|s)$/);
  const used = first.json.usage.prompt_tokens + first.json.usage.completion_tokens;
  assert.ok(used > 5, `the sim's answer uses more than 5 tokens (${used})`);
  // the tokens are charged when the exchange ends, before its audit record
  await gwA.waitAudit((x) => x.status === 200 && x.key_id === keys.bob.id);

  const r = await chat(gwB, 'bob', 'again');
  assert.equal(r.status, 429, r.text);
  const e = assertOpenAIError(r.json, { code: 'rate_limit_exceeded', type: 'rate_limit_error' });
  assert.match(e.message, /tokens per minute \(TPM\) on API key key_[0-9a-f]{8}: Limit 5/);
  assert.equal(r.headers.get('x-ratelimit-limit-tokens'), '5');
  assert.equal(r.headers.get('x-ratelimit-remaining-tokens'), '0');
  // in debt by used - 5 tokens: at 12 s a token, one token is back after (used - 4) × 12 s
  const want = (used - 4) * 12;
  const secs = Number(r.headers.get('retry-after'));
  assert.ok(secs <= want && secs >= want - 5, `retry-after ${secs}, want about ${want}`);
  const rec = await gwB.waitAudit((x) => x.status === 429 && x.key_id === keys.bob.id);
  assert.equal(rec.rate_limited, 'key_tokens');
});

test('Redis stopped: on_error allow lets requests through, logs, counts; back when Redis is', async () => {
  assert.equal((await chat(gwA, 'alice', 'still limited')).status, 429);
  // a Redis that does not answer: past timeout_ms (200) the request goes on, never hangs
  redis.proc.kill('SIGSTOP');
  try {
    const t0 = Date.now();
    const slow = await chat(gwB, 'alice', 'redis is frozen');
    assert.equal(slow.status, 200, slow.text);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    assert.equal(slow.headers.get('x-ratelimit-limit-requests'), null);
    await gwB.waitStderr(/rate limits: redis failed or timed out; on_error allow/);
  } finally {
    redis.proc.kill('SIGCONT');
  }
  await redis.stop();
  redis = null;
  for (const gw of [gwA, gwB]) {
    const r = await chat(gw, 'alice', 'redis is gone');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), null);
  }
  await gwA.waitStderr(/rate limits: redis .*on_error allow/);
  const mr = await fetch(`${gwA.origin}/metrics`);
  const m = await mr.text();
  assert.equal(mr.status, 200, m);
  const line = m.split('\n').find((l) => l.startsWith('llmux_rate_limit_store_errors_total{action="allow"}'));
  assert.ok(line && Number(line.split(' ').pop()) >= 1, `metric line: ${line}`);

  redis = await startRedis(redisPort); // empty: every bucket is full again
  await waitFor(async () => {
    const r = await chat(gwA, 'alice', 'back?');
    return r.status === 200 && r.headers.get('x-ratelimit-limit-requests') === '5';
  }, { timeoutMs: 15000, intervalMs: 100, what: 'limits through Redis again' }).catch((e) => {
    throw new Error(`${e.message}\n--- llmux stderr ---\n${gwA.err}`);
  });
  await gwA.waitStderr(/rate limits: redis at 127\.0\.0\.1:\d+ is back/);
});

test('on_error deny: Redis unreachable answers 503 rate_limit_unavailable', async () => {
  const r = await chat(gwDeny, null, 'hello');
  assert.equal(r.status, 503, r.text);
  assertOpenAIError(r.json, { code: 'rate_limit_unavailable', type: 'server_error' });
  assert.equal(r.headers.get('retry-after'), '1');
  await gwDeny.waitStderr(/rate limits: redis .*on_error deny/);
});

test('in memory: per_model_tpm refuses after the usage, another model is untouched', async () => {
  const first = await chat(gwMem, null, 'tell me something');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers.get('x-ratelimit-limit-tokens'), '5');
  assert.equal(first.headers.get('x-ratelimit-remaining-tokens'), '5');
  assert.equal(first.headers.get('x-ratelimit-limit-requests'), null);
  await gwMem.waitAudit((x) => x.status === 200);
  const r = await chat(gwMem, null, 'again');
  assert.equal(r.status, 429, r.text);
  const e = assertOpenAIError(r.json, { code: 'rate_limit_exceeded' });
  assert.match(e.message, /tokens per minute \(TPM\) on model `chat`: Limit 5/);
  assert.equal(r.headers.get('x-ratelimit-remaining-tokens'), '0');
  const o = await chat(gwMem, null, 'other model', 'other');
  assert.equal(o.status, 200, o.text);
  const rec = await gwMem.waitAudit((x) => x.status === 429);
  assert.equal(rec.rate_limited, 'model_tokens');
});
