// tls.test.mjs — a TLS listener with a self-signed certificate: HTTP/2 by
// ALPN and HTTP/1.1 over TLS both serve health checks and chat completions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import {
  startSim, startLlmux, stopAll, freePort, tempDir, sseData, USER,
} from './harness.mjs';

let sim, gw, tlsPort;

before(async () => {
  const dir = tempDir();
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  sim = await startSim();
  tlsPort = await freePort();
  gw = await startLlmux({
    dir,
    config: (port) => ({
      listeners: [
        { address: `127.0.0.1:${port}` },
        // relative paths: used as written, from the working directory (the temp dir)
        { address: `127.0.0.1:${tlsPort}`, tls: { cert_file: 'cert.pem', key_file: 'key.pem' } },
      ],
      audit: { path: path.join(dir, 'audit.jsonl') },
      backends: [{ name: 'sim', url: sim.url }],
      models: [{ name: 'chat', backend: 'sim' }],
    }),
  });
});

after(async () => { await stopAll(gw, sim); });

function h2request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    let data = '';
    let head;
    req.setEncoding('utf8');
    req.on('response', (h) => { head = h; });
    req.on('data', (d) => { data += d; });
    req.on('end', () => resolve({ headers: head, status: head?.[':status'], body: data }));
    req.on('error', reject);
    req.end(body);
  });
}

test('HTTP/2 over TLS (ALPN h2): /healthz, a chat completion and a stream', async () => {
  const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false });
  try {
    await new Promise((resolve, reject) => { session.once('connect', resolve); session.once('error', reject); });
    assert.equal(session.alpnProtocol, 'h2');
    const h = await h2request(session, { ':method': 'GET', ':path': '/healthz' });
    assert.equal(h.status, 200);
    assert.equal(JSON.parse(h.body).status, 'ok');
    assert.ok(h.headers['x-request-id']);

    const c = await h2request(session, {
      ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json',
    }, JSON.stringify({ model: 'chat', messages: USER('over h2') }));
    assert.equal(c.status, 200, c.body);
    const j = JSON.parse(c.body);
    assert.equal(j.object, 'chat.completion');
    assert.ok(j.choices[0].message.content.length > 0);

    const s = await h2request(session, {
      ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json',
    }, JSON.stringify({ model: 'chat', messages: USER('over h2'), stream: true }));
    assert.equal(s.status, 200);
    assert.match(s.headers['content-type'], /^text\/event-stream/);
    const events = sseData(s.body);
    assert.equal(events.at(-1), '[DONE]');
    const text = events.slice(0, -1).map((e) => JSON.parse(e).choices[0]?.delta?.content || '').join('');
    assert.equal(text, j.choices[0].message.content, 'streamed text equals the plain reply');

    const e = await h2request(session, {
      ':method': 'POST', ':path': '/v1/chat/completions', 'content-type': 'application/json',
    }, JSON.stringify({ model: 'nope', messages: USER('x') }));
    assert.equal(e.status, 404);
    assert.equal(JSON.parse(e.body).error.code, 'model_not_found');
  } finally {
    session.close();
  }
});

test('HTTP/1.1 over TLS', async () => {
  const res = await new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'chat', messages: USER('over https') });
    const req = https.request({
      host: '127.0.0.1', port: tlsPort, path: '/v1/chat/completions', method: 'POST',
      rejectUnauthorized: false, ALPNProtocols: ['http/1.1'],
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (r) => {
      let data = '';
      const alpn = r.socket.alpnProtocol;
      r.setEncoding('utf8');
      r.on('data', (d) => { data += d; });
      r.on('end', () => resolve({ status: r.statusCode, body: data, alpn }));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(res.status, 200, res.body);
  assert.ok(res.alpn === 'http/1.1' || res.alpn === false, `ALPN ${res.alpn}`);
  assert.equal(JSON.parse(res.body).object, 'chat.completion');
});

test('plain HTTP to the TLS port does not get an answer in clear text', async () => {
  const r = await fetch(`http://127.0.0.1:${tlsPort}/healthz`).then((x) => x.status, () => 'failed');
  assert.notEqual(r, 200);
  // and the gateway still serves afterwards
  assert.equal((await fetch(`${gw.origin}/healthz`)).status, 200);
});
