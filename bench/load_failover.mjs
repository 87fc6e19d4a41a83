// load_failover.mjs — the load test of issue 4's "Done means", driven by
// bench/load_failover.sh (which starts the sims and llmux and passes their
// addresses in the environment).
//
// Fires N streamed chat completions at once through the official openai SDK
// (from tests/e2e/node_modules), then checks, from the clients' side, the
// sims' /sim/stats, the audit log and /metrics:
//   1. no request lost: N complete streams (a finish_reason, no error);
//   2. no local deployment ever above its slot count (the sims' peak_active);
//   3. every queue wait within queue.max_wait_ms (audit; /metrics' histogram);
//   4. overflow counted, and the audit and /metrics agree on it;
//   5. every decision in the audit log: one record per request, each attempt
//      before the last one a refused admission, the last one served, and the
//      upstream requests each sim saw equal to the attempts the audit gives it.
// Writes a Markdown report to $LF_REPORT; exits 1 when a check fails.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'e2e', 'package.json'));
const { default: OpenAI } = await import(pathToFileURL(require.resolve('openai')).href);

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set (run bench/load_failover.sh)`);
  return process.env[k];
};
const GW = env('LF_GATEWAY'); // http://127.0.0.1:P
const SIMS = JSON.parse(env('LF_SIMS')); // {name: origin}
const LOCAL = env('LF_LOCAL').split(','); // backends with slots
const SLOTS = Number(env('LF_SLOTS'));
const MAX_WAIT_MS = Number(env('LF_MAX_WAIT_MS'));
const QUEUE_MAX = Number(env('LF_QUEUE_MAX'));
const N = Number(env('LF_REQUESTS'));
const MODEL = env('LF_MODEL');
const AUDIT = env('LF_AUDIT');
const REPORT = env('LF_REPORT');
const SETUP = env('LF_SETUP'); // a line describing the setup, for the report
// A timer fires on the loop's next turn after its time: allow that much
// over max_wait_ms (the loop is busy relaying 200 streams).
const TIMER_SLACK_MS = Number(process.env.LF_TIMER_SLACK_MS || 100);

const json = async (url, init) => (await fetch(url, init)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function one(client, i) {
  const rid = `lf-${String(i).padStart(3, '0')}`;
  const t0 = performance.now();
  const out = { rid, ok: false, chunks: 0, finish: null, error: null, ms: 0 };
  try {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: `load test request ${i}` }],
      stream: true,
      stream_options: { include_usage: true },
    }, { headers: { 'x-request-id': rid } });
    for await (const c of stream) {
      out.chunks++;
      if (c.choices?.[0]?.finish_reason) out.finish = c.choices[0].finish_reason;
    }
    out.ok = out.finish !== null;
    if (!out.ok) out.error = 'stream ended without a finish_reason';
  } catch (e) {
    out.error = `${e.status ?? ''} ${e.message}`.trim();
  }
  out.ms = performance.now() - t0;
  return out;
}

/** Samples: Map("name{k=v,...}" -> value), label keys sorted. */
function parseMetrics(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad metrics line: ${line}`);
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.set(mkey(m[1], labels), m[3] === '+Inf' ? Infinity : Number(m[3]));
  }
  return samples;
}
const mkey = (name, labels = {}) =>
  `${name}{${Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(',')}}`;
const sumWhere = (samples, name, pred = () => true) => {
  let s = 0;
  for (const [k, v] of samples) {
    const m = /^([^{]*)\{(.*)\}$/.exec(k);
    if (m[1] !== name) continue;
    const labels = Object.fromEntries(m[2] ? m[2].split(',').map((p) => p.split('=')) : []);
    if (pred(labels)) s += v;
  }
  return s;
};

function readAudit() {
  let text = '';
  try { text = fs.readFileSync(AUDIT, 'utf8'); } catch { /* not yet */ }
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

const REFUSED = new Set(['busy', 'queue_timeout']);

// --- run ---------------------------------------------------------------------

for (const origin of Object.values(SIMS)) await fetch(`${origin}/sim/reset`, { method: 'POST' });
const client = new OpenAI({ baseURL: `${GW}/v1`, apiKey: 'x', maxRetries: 0, timeout: 120000 });
const t0 = performance.now();
const results = await Promise.all(Array.from({ length: N }, (_, i) => one(client, i)));
const wallMs = performance.now() - t0;

// the audit writer runs on its own thread: wait for every record
let audit = [];
for (let i = 0; i < 200; i++) {
  audit = readAudit().filter((r) => r.request_id?.startsWith('lf-'));
  if (audit.length >= N) break;
  await sleep(50);
}
const stats = {};
for (const [name, origin] of Object.entries(SIMS)) stats[name] = await json(`${origin}/sim/stats`);
const metricsText = await (await fetch(`${GW}/metrics`)).text();
const metrics = parseMetrics(metricsText);

// --- checks --------------------------------------------------------------------

const checks = [];
const check = (what, ok, detail) => checks.push({ what, ok: Boolean(ok), detail });

const complete = results.filter((r) => r.ok);
const failed = results.filter((r) => !r.ok);
check(`no request lost: ${N} complete streams`, complete.length === N,
  `${complete.length} of ${N} streams ended with a finish_reason` +
  (failed.length ? `; failures: ${failed.slice(0, 5).map((r) => `${r.rid}: ${r.error}`).join('; ')}` : ''));

for (const b of LOCAL) {
  check(`\`${b}\` never above its ${SLOTS} slots`, stats[b].peak_active <= SLOTS,
    `peak concurrent requests measured at the sim: ${stats[b].peak_active}`);
}

// queue waits, per admission: a queue_timeout attempt's ms is its wait; the
// rest of queue_ms is the wait that ended in a grant
const waits = [];
for (const r of audit) {
  let timedOut = 0;
  for (const a of r.attempts) if (a.result === 'queue_timeout') { waits.push(a.ms); timedOut += a.ms; }
  // an attempt's ms is whole ms from its start (set-up included): a rest of
  // under 2 ms is that rounding, not a wait
  if (r.queue_ms - timedOut >= 2) waits.push(r.queue_ms - timedOut);
}
const maxWait = waits.length ? Math.max(...waits) : 0;
const qCount = sumWhere(metrics, 'llmux_queue_wait_seconds_count');
const le = (MAX_WAIT_MS + TIMER_SLACK_MS) / 1000;
const bucketBounds = [...new Set([...metrics.keys()]
  .filter((k) => k.startsWith('llmux_queue_wait_seconds_bucket{'))
  .map((k) => /le=([^,}]*)/.exec(k)[1]).filter((v) => v !== '+Inf').map(Number))].sort((a, b) => a - b);
const coverLe = bucketBounds.find((b) => b >= le);
const inBound = coverLe === undefined ? NaN
  : sumWhere(metrics, 'llmux_queue_wait_seconds_bucket', (l) => Number(l.le) === coverLe);
check(`queue waits within max_wait_ms (${MAX_WAIT_MS} ms)`,
  maxWait <= MAX_WAIT_MS + TIMER_SLACK_MS && inBound === qCount,
  `${waits.length} waits in the audit log, longest ${maxWait.toFixed(1)} ms (allowed: ${MAX_WAIT_MS} ms + ` +
  `${TIMER_SLACK_MS} ms timer slack); /metrics: ${qCount} waits observed, ${inBound} of them ≤ ${coverLe} s`);

let auditOverflow = 0, auditReject = 0, auditTimeouts = 0, auditFallbacks = 0;
for (const r of audit) {
  r.attempts.forEach((a, i) => {
    if (a.result === 'queue_timeout') auditTimeouts++;
    if (REFUSED.has(a.result)) (i + 1 < r.attempts.length ? auditOverflow++ : auditReject++);
    if (i > 0) auditFallbacks++; // no retries configured: every next attempt is the next deployment
  });
}
const mOverflow = sumWhere(metrics, 'llmux_queue_overflow_total', (l) => l.action === 'overflow');
const mReject = sumWhere(metrics, 'llmux_queue_overflow_total', (l) => l.action === 'reject');
const mTimeouts = sumWhere(metrics, 'llmux_queue_timeouts_total');
const mFallbacks = sumWhere(metrics, 'llmux_fallbacks_total', (l) => l.model === MODEL);
check('overflow counted, audit log and /metrics agree',
  auditOverflow > 0 && mOverflow === auditOverflow && mReject === auditReject &&
    mTimeouts === auditTimeouts && mFallbacks === auditFallbacks,
  `overflows: audit ${auditOverflow}, /metrics ${mOverflow}; rejects: audit ${auditReject}, /metrics ${mReject}; ` +
  `queue timeouts: audit ${auditTimeouts}, /metrics ${mTimeouts}; fallbacks: audit ${auditFallbacks}, /metrics ${mFallbacks}`);

// every decision in the audit log. A served attempt reads "done", or
// "cancelled" when the client's side closed (after [DONE]) before the
// backend's body had quite ended: the gateway then stops reading it.
const ids = new Set(audit.map((r) => r.request_id));
let cancelledAfterDone = 0;
const badRecords = audit.filter((r) => {
  const n = r.attempts.length;
  if (n === 0 || r.status !== 200) return true;
  const last = r.attempts[n - 1];
  if (!['done', 'cancelled'].includes(last.result) || last.status !== 200 || last.backend !== r.backend) return true;
  if (last.result === 'cancelled') cancelledAfterDone++;
  return r.attempts.slice(0, -1).some((a) => !REFUSED.has(a.result));
});
// attempts that reached a backend are those with an HTTP status
const doneOn = {};
for (const r of audit) for (const a of r.attempts) if (a.status !== null) doneOn[a.backend] = (doneOn[a.backend] || 0) + 1;
const simMismatch = Object.keys(SIMS).filter((b) => (doneOn[b] || 0) !== stats[b].requests);
check('every decision in the audit log',
  audit.length === N && ids.size === N && badRecords.length === 0 && simMismatch.length === 0,
  `${audit.length} records for ${ids.size} request ids; ${badRecords.length} with an unexplained attempt ` +
  `(${cancelledAfterDone} served attempts read "cancelled": the client closed after [DONE] before the backend's body ended); ` +
  `upstream requests per sim vs attempts the audit sends there: ` +
  Object.keys(SIMS).map((b) => `${b} ${stats[b].requests}/${doneOn[b] || 0}`).join(', '));

const mRequests = sumWhere(metrics, 'llmux_requests_total', (l) => l.model === MODEL && l.status === '200');
check('/metrics counts every request', mRequests === N, `llmux_requests_total{model="${MODEL}",status="200"} = ${mRequests}`);

// --- report ----------------------------------------------------------------------

const served = {};
for (const r of audit) served[r.backend] = (served[r.backend] || 0) + 1;
const pct = (xs, p) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const lat = results.map((r) => r.ms);
const paths = {};
for (const r of audit) {
  const k = r.attempts.map((a) => `${a.backend}:${a.result}`).join(' → ');
  paths[k] = (paths[k] || 0) + 1;
}
const allOk = checks.every((c) => c.ok);
const pick = (name) => metricsText.split('\n')
  .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).join('\n');

const md = [];
md.push(`# llmux failover load test, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`);
md.push('');
md.push(allOk ? '**All checks passed.**' : '**SOME CHECKS FAILED.**');
md.push('');
md.push(`- setup: ${SETUP}`);
md.push(`- load: ${N} streamed chat completions started at once (official openai SDK, one connection each); ` +
  `all answered after ${(wallMs / 1000).toFixed(2)} s; client-side latency p50 ${pct(lat, 50).toFixed(0)} ms, ` +
  `p99 ${pct(lat, 99).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`);
md.push('');
md.push('| check | result | evidence |');
md.push('|---|---|---|');
for (const c of checks) md.push(`| ${c.what} | ${c.ok ? 'pass' : '**FAIL**'} | ${c.detail.replace(/\|/g, '\\|')} |`);
md.push('');
md.push('Where the requests were served (audit `backend`), and what each sim saw:');
md.push('');
md.push('| backend | served | sim requests | sim peak concurrent |');
md.push('|---|---:|---:|---:|');
for (const b of Object.keys(SIMS)) md.push(`| ${b} | ${served[b] || 0} | ${stats[b].requests} | ${stats[b].peak_active} |`);
md.push('');
md.push('Decision paths (the audit record\'s attempts, backend:result):');
md.push('');
md.push('| attempts | requests |');
md.push('|---|---:|');
for (const [k, v] of Object.entries(paths).sort((a, b) => b[1] - a[1])) md.push(`| ${k} | ${v} |`);
md.push('');
md.push('From /metrics after the run:');
md.push('');
md.push('```');
for (const n of ['llmux_requests_total', 'llmux_upstream_attempts_total', 'llmux_queue_overflow_total',
  'llmux_queue_timeouts_total', 'llmux_fallbacks_total', 'llmux_queue_wait_seconds_count',
  'llmux_queue_wait_seconds_sum', 'llmux_queue_depth', 'llmux_in_flight']) {
  const t = pick(n);
  if (t) md.push(t);
}
md.push('```');
md.push('');
md.push(`Queue capacity per local backend: ${QUEUE_MAX}; a request that finds the queue full, or waits ` +
  `max_wait_ms, moves on to the next deployment of \`${MODEL}\` (the cloud sim has no slot limit).`);
fs.writeFileSync(REPORT, md.join('\n') + '\n');
for (const c of checks) console.error(`[failover] ${c.ok ? 'pass' : 'FAIL'}: ${c.what} — ${c.detail}`);
process.exit(allOk ? 0 : 1);
