// harness.mjs — processes and helpers for the end-to-end tests.
//
// Each test file starts its own llmux-sim and llmux processes on free loopback
// ports, with a config written to a fresh temp dir, and stops them in an
// after() hook. Stopping asserts that the process exits 0 on SIGTERM and that
// its stderr holds no AddressSanitizer, UBSan or LeakSanitizer report: with
// the ASan+UBSan build that is how the suite proves the gateway clean.
//
// Binaries: LLMUX_BIN and LLMUX_SIM_BIN (absolute paths), defaulting to the
// repository's build-asan/ directory.
//
// Nothing here sleeps a fixed time to wait out a race: waitFor() polls a
// condition until a deadline.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');
export const LLMUX_BIN = process.env.LLMUX_BIN || path.join(REPO, 'build-asan', 'llmux');
export const SIM_BIN =
  process.env.LLMUX_SIM_BIN || path.join(REPO, 'build-asan', 'tools', 'sim', 'llmux-sim');

// Sanitizer settings as scripts/test.sh sets them, for runs without it.
const SAN_ENV = {
  ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=0:halt_on_error=1',
  UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'print_stacktrace=1:halt_on_error=1',
  LSAN_OPTIONS:
    process.env.LSAN_OPTIONS ||
    `suppressions=${path.join(REPO, 'tests', 'lsan.supp')}:print_suppressions=0`,
};

const SANITIZER_MARKS = ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer'];

/** The environment for a child: ours minus LLMUX_* (so a developer's settings
 * cannot leak into a test), plus the sanitizer options, plus extra. */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('LLMUX_') && k !== 'LLMUX_BIN' && k !== 'LLMUX_SIM_BIN') continue;
    env[k] = v;
  }
  return { ...env, ...SAN_ENV, ...extra };
}

/** Polls fn() (sync or async) until it returns a truthy value, which is
 * returned; throws with what after `timeoutMs`. Exceptions from fn count as
 * "not yet". */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A free TCP port on 127.0.0.1 (bound to port 0, read, closed). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const tempDirs = [];
/** A fresh temporary directory, removed when the test process exits (kept
 * when LLMUX_E2E_KEEP is set, to look at configs and audit logs). */
export function tempDir(prefix = 'llmux-e2e-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
process.on('exit', () => {
  if (process.env.LLMUX_E2E_KEEP) return;
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Renders a plain JS value as block-style YAML. Strings are double-quoted
 * (JSON escapes are valid YAML); numbers and booleans are plain. */
export function toYaml(value, indent = '') {
  const scalar = (v) => {
    if (v === null || v === undefined) return '~';
    if (typeof v === 'string') return JSON.stringify(v);
    return String(v);
  };
  const isBlock = (v) => v !== null && typeof v === 'object' && Object.keys(v).length > 0;
  let out = '';
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isBlock(item) && !Array.isArray(item)) {
        const inner = toYaml(item, indent + '  ');
        out += `${indent}- ${inner.slice(indent.length + 2)}`;
      } else if (isBlock(item)) {
        out += `${indent}-\n${toYaml(item, indent + '  ')}`;
      } else {
        out += `${indent}- ${Array.isArray(item) ? '[]' : typeof item === 'object' && item ? '{}' : scalar(item)}\n`;
      }
    }
  } else {
    for (const [k, v] of Object.entries(value)) {
      if (isBlock(v)) out += `${indent}${k}:\n${toYaml(v, indent + '  ')}`;
      else if (Array.isArray(v)) out += `${indent}${k}: []\n`;
      else if (v !== null && typeof v === 'object') out += `${indent}${k}: {}\n`;
      else out += `${indent}${k}: ${scalar(v)}\n`;
    }
  }
  return out;
}

// --- child processes --------------------------------------------------------

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

class Child {
  constructor(name, bin, args, opts) {
    this.name = name;
    this.args = args;
    this.err = '';
    this.out = '';
    this.proc = spawn(bin, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.proc);
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.on('data', (d) => { this.err += d; });
    this.proc.stdout.on('data', (d) => { this.out += d; });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        live.delete(this.proc);
        this.exitCode = code;
        this.exitSignal = signal;
        resolve({ code, signal });
      });
    });
    this.closed = new Promise((resolve) => this.proc.on('close', resolve));
  }

  get pid() { return this.proc.pid; }
  get running() { return this.exitCode === undefined && this.exitSignal === undefined; }

  async waitStderr(re, timeoutMs = 15000) {
    return waitFor(() => {
      if (!this.running) throw new Error(`${this.name} exited early:\n${this.err}`);
      return re.test(this.err);
    }, { timeoutMs, what: `${this.name} stderr ${re}` }).catch((e) => {
      throw new Error(`${e.message}\n--- ${this.name} stderr ---\n${this.err}`);
    });
  }

  /** Sanitizer reports found in stderr so far (empty string when clean). */
  sanitizerReport() {
    return SANITIZER_MARKS.some((m) => this.err.includes(m)) ? this.err : '';
  }

  /** SIGTERM (unless already exited), wait for the exit, assert code 0 and a
   * clean stderr. A process that hangs gets SIGKILL after timeoutMs and fails. */
  async stop({ timeoutMs = 8000, signal = 'SIGTERM' } = {}) {
    if (this.running) this.proc.kill(signal);
    const timer = setTimeout(() => { if (this.running) this.proc.kill('SIGKILL'); }, timeoutMs);
    const { code, signal: sig } = await this.exited;
    await this.closed;
    clearTimeout(timer);
    assert.equal(this.sanitizerReport(), '', `${this.name} sanitizer report`);
    assert.equal(code, 0, `${this.name} exit code (signal ${sig})\n--- stderr ---\n${this.err}`);
  }
}

/** Starts llmux-sim on a free port. opts.args: extra flags. Returns the child
 * plus url (http://127.0.0.1:P/v1) and /sim helpers. */
export async function startSim(opts = {}) {
  const port = opts.port ?? (await freePort());
  const c = new Child(`llmux-sim:${port}`, SIM_BIN, ['--listen', `127.0.0.1:${port}`, ...(opts.args || [])],
    { env: childEnv(opts.env) });
  await c.waitStderr(/listening on/);
  c.port = port;
  c.origin = `http://127.0.0.1:${port}`;
  c.url = `${c.origin}/v1`;
  c.stats = async () => (await fetch(`${c.origin}/sim/stats`)).json();
  c.last = async () => {
    const j = await (await fetch(`${c.origin}/sim/last`)).json();
    if (j.body !== undefined) {
      try { j.json = JSON.parse(j.body); } catch { j.json = undefined; }
    }
    return j;
  };
  c.reset = async () => { await fetch(`${c.origin}/sim/reset`, { method: 'POST' }); };
  return c;
}

/** The standard config for one or more sims. backends: [{name, url, ...}],
 * models: [{name, backend, upstream_model}]. Anything in extra is merged at
 * top level. */
export function makeConfig({ port, dir, backends, models, extra = {} }) {
  return {
    listeners: [{ address: `127.0.0.1:${port}` }],
    audit: { path: path.join(dir, 'audit.jsonl') },
    health: { interval_ms: 200, timeout_ms: 1000 },
    backends,
    models,
    ...extra,
  };
}

/** Starts `llmux serve`. opts.config: object (rendered to YAML) or string
 * (YAML text) or null (no file; then pass flags in opts.args). opts.port is
 * the listening port the config uses (a free one is picked and handed to a
 * config function: opts.config may be (port, dir) => object). Waits until
 * opts.ready ('readyz' default, 'healthz', or 'none') answers 200. */
export async function startLlmux(opts = {}) {
  const dir = opts.dir || tempDir();
  const port = opts.port ?? (await freePort());
  let cfg = typeof opts.config === 'function' ? opts.config(port, dir) : opts.config;
  const args = ['serve', ...(opts.args || [])];
  let configPath = null;
  if (cfg !== null && cfg !== undefined) {
    configPath = path.join(dir, 'llmux.yaml');
    fs.writeFileSync(configPath, typeof cfg === 'string' ? cfg : toYaml(cfg));
    args.push('-c', configPath);
  }
  const c = new Child(`llmux:${port}`, LLMUX_BIN, args, { env: childEnv(opts.env), cwd: dir });
  c.port = port;
  c.dir = dir;
  c.configPath = configPath;
  c.config = cfg;
  c.origin = `http://127.0.0.1:${port}`;
  c.baseURL = `${c.origin}/v1`;
  c.auditPath = opts.auditPath || (cfg && typeof cfg === 'object' && cfg.audit?.path) || path.join(dir, 'audit.jsonl');
  c.client = (o = {}) => new OpenAI({ baseURL: c.baseURL, apiKey: 'x', maxRetries: 0, timeout: 30000, ...o });
  c.audit = () => readAudit(c.auditPath);
  c.waitAudit = (pred, o = {}) => waitForAudit(c.auditPath, pred, o);
  const ready = opts.ready || 'readyz';
  if (ready !== 'none') {
    await waitFor(async () => {
      if (!c.running) throw new Error(`llmux exited early (${c.exitCode}):\n${c.err}`);
      const r = await fetch(`${c.origin}/${ready}`);
      await r.arrayBuffer();
      return r.status === 200;
    }, { timeoutMs: 20000, what: `llmux /${ready}` }).catch((e) => {
      throw new Error(`${e.message}\n--- llmux stderr ---\n${c.err}`);
    });
  }
  return c;
}

/** Stops every child given (in parallel), asserting clean exits. */
export async function stopAll(...children) {
  const errs = [];
  await Promise.all(children.filter(Boolean).map((c) => c.stop().catch((e) => errs.push(e))));
  if (errs.length === 1) throw errs[0];
  if (errs.length > 1) throw new Error(errs.map((e) => e.message).join('\n\n=== and ===\n\n'));
}

// --- audit log ----------------------------------------------------------------

/** The audit log's records (JSON lines); [] when the file does not exist yet. */
export function readAudit(file) {
  let text;
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** Polls the audit log until a record satisfies pred; returns it. pred may
 * also be a request id string. */
export async function waitForAudit(file, pred, { timeoutMs = 10000 } = {}) {
  const p = typeof pred === 'string' ? (r) => r.request_id === pred : pred;
  return waitFor(() => readAudit(file).find(p), { timeoutMs, what: `audit record in ${file}` });
}

// --- HTTP helpers ---------------------------------------------------------------

/** POST JSON (or a raw string body) with fetch; returns {status, headers, text, json}. */
export async function postJSON(url, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, headers: r.headers, text, json };
}

/** Splits an SSE body into its data payloads (strings), in order. */
export function sseData(text) {
  const out = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/).filter((l) => l.startsWith('data:'));
    if (lines.length) out.push(lines.map((l) => l.slice(5).replace(/^ /, '')).join('\n'));
  }
  return out;
}

/** Asserts OpenAI's error shape {"error":{"message","type","param","code"}}. */
export function assertOpenAIError(body, { code, type } = {}) {
  assert.ok(body && typeof body === 'object', `error body is JSON: ${JSON.stringify(body)}`);
  const e = body.error;
  assert.ok(e && typeof e === 'object', `has .error: ${JSON.stringify(body)}`);
  assert.equal(typeof e.message, 'string', 'error.message is a string');
  assert.ok(e.message.length > 0, 'error.message is not empty');
  assert.equal(typeof e.type, 'string', 'error.type is a string');
  assert.ok('param' in e, 'error.param present');
  assert.ok(e.param === null || typeof e.param === 'string', 'error.param string|null');
  assert.ok('code' in e, 'error.code present');
  assert.ok(e.code === null || typeof e.code === 'string', `error.code string|null, got ${JSON.stringify(e.code)}`);
  if (code !== undefined) assert.equal(e.code, code);
  if (type !== undefined) assert.equal(e.type, type);
  return e;
}

/** VmRSS of a process in kB (Linux). */
export function rssKB(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
  return m ? Number(m[1]) : NaN;
}

export const USER = (content) => [{ role: 'user', content }];
