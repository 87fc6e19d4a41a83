// sdk_codex.test.mjs — requests shaped as Codex CLI sends them (issue 3
// item 9), against a Chat-Completions-only backend (llmux-sim, llama.cpp
// style, with reasoning). The fixtures follow Codex's Responses client:
// always `stream: true`; no `instructions` (its system prompt is a developer
// message); `store: false` with `include: ["reasoning.encrypted_content"]`;
// a client-generated `id` on every input item; `function`, `custom`
// (apply_patch with a lark grammar), `web_search` and `namespace` tools;
// `tool_choice`, `parallel_tool_calls`, `reasoning` and `prompt_cache_key`;
// the headers session_id, x-client-request-id, originator and version.
// Being stateless, each turn replays the whole history: the reasoning item
// with its encrypted_content, the function_call and custom_tool_call with
// their outputs.
//
// Also: a llama.cpp-shaped backend whose /v1/models id is a file path, used
// through discovery.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, startLlmux, makeConfig, stopAll, postJSON, waitFor } from './harness.mjs';

const GGUF = '/models/qwen2.5-7b-instruct-q4_k_m.gguf';
let rsim, lsim, gw;

before(async () => {
  rsim = await startSim({ args: ['--tokens', '6', '--reasoning'] });
  lsim = await startSim({ args: ['--tokens', '5', '--models', GGUF] });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'rsim', url: rsim.url }, { name: 'llama', url: lsim.url, discover: true }],
      models: [{ name: 'gpt-5-codex', backend: 'rsim', upstream_model: 'sim-model' }],
    }),
  });
});

after(async () => { await stopAll(gw, rsim, lsim); });

const SESSION = '0199a2f3-6c1e-7d40-9b8e-2f4c5a6b7c8d';
const DEVELOPER = 'You are Codex, a coding agent. Follow the repository conventions.';
const ASK = 'Look around with shell, then fix the typo with apply_patch.';
const THANKS = 'Thanks. Summarise what changed.';
const GRAMMAR = [
  'start: begin_patch hunk+ end_patch',
  'begin_patch: "*** Begin Patch" LF',
  'end_patch: "*** End Patch" LF?',
  'hunk: "*** Update File: " /(.+)/ LF change+',
  'change: /[ +-].*/ LF',
  '%import common.LF',
].join('\n');

const TOOLS = [
  {
    type: 'function', name: 'shell', description: 'Runs a command in a sandbox.', strict: false,
    parameters: {
      type: 'object',
      properties: {
        command: { type: 'array', items: { type: 'string' } },
        workdir: { type: 'string' },
        timeout_ms: { type: 'number' },
      },
      required: ['command'],
      additionalProperties: false,
    },
  },
  {
    type: 'custom', name: 'apply_patch', description: 'Edits files. The input is a patch.',
    format: { type: 'grammar', syntax: 'lark', definition: GRAMMAR },
  },
  { type: 'web_search' },
  {
    type: 'namespace', name: 'docs', description: 'Project documentation server',
    tools: [{
      type: 'function', name: 'lookup', description: 'Finds a page.', strict: false,
      parameters: { type: 'object', properties: { topic: { type: 'string' } }, required: ['topic'] },
    }],
  },
];

const HEADERS = {
  'content-type': 'application/json',
  accept: 'text/event-stream',
  session_id: SESSION,
  'x-client-request-id': SESSION,
  originator: 'codex_cli_rs',
  version: '0.60.1',
  'user-agent': 'codex_cli_rs/0.60.1 (Debian 13; x86_64) xterm-256color',
};

const msg = (id, role, text) => ({ type: 'message', id, role, content: [{ type: 'input_text', text }] });

function codexRequest(model, input) {
  return {
    model,
    input,
    tools: TOOLS,
    tool_choice: 'auto',
    parallel_tool_calls: true,
    reasoning: { effort: 'medium', summary: 'auto' },
    store: false,
    stream: true,
    include: ['reasoning.encrypted_content'],
    prompt_cache_key: SESSION,
  };
}

/** POSTs a Codex-shaped request; returns the parsed SSE events, the raw data
 * lines and the audit record of that exchange. */
async function codexTurn(body) {
  const before = gw.audit().length;
  const r = await fetch(`${gw.baseURL}/responses`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const blocks = text.split('\n\n').filter((b) => b.length > 0);
  const data = blocks.map((b) => /^data: (.*)$/m.exec(b)[1]);
  assert.equal(data.at(-1), '[DONE]', 'the stream ends with data: [DONE]');
  const events = data.slice(0, -1).map((d) => JSON.parse(d));
  blocks.slice(0, -1).forEach((b, i) => assert.equal(/^event: (.*)$/m.exec(b)[1], events[i].type));
  events.forEach((e, i) => assert.equal(e.sequence_number, i));
  assert.equal(events[0].type, 'response.created');
  assert.equal(events.at(-1).type, 'response.completed', 'the last event before [DONE] is response.completed');
  assert.equal(events.filter((e) => e.type === 'response.completed').length, 1);
  const done = events.filter((e) => e.type === 'response.output_item.done').map((e) => e.item);
  const final = events.at(-1).response;
  assert.equal(final.status, 'completed');
  assert.equal(final.store, false);
  assert.deepEqual(final.output, done, 'the final output equals the items streamed');
  const rec = await waitFor(() => gw.audit().slice(before).find((x) => x.response_id === final.id),
    { what: `audit record of ${final.id}` });
  return { events, done, final, rec };
}

async function simText(messages) {
  const r = await postJSON(`${rsim.url}/chat/completions`, { model: 'sim-model', messages });
  assert.equal(r.status, 200, r.text);
  return r.json.choices[0].message.content;
}

let turn1;

test('turn 1: a Codex request streams reasoning, a function call and a custom tool call', async () => {
  const input = [msg('msg_c0dex_dev_1', 'developer', DEVELOPER), msg('msg_c0dex_usr_1', 'user', ASK)];
  const t = await codexTurn(codexRequest('gpt-5-codex', input));
  assert.deepEqual(t.done.map((i) => i.type), ['reasoning', 'function_call', 'custom_tool_call']);
  const [rs, fc, ctc] = t.done;
  assert.match(rs.encrypted_content, /^[A-Za-z0-9+/]+=*$/, 'include reasoning.encrypted_content is honoured');
  assert.equal(fc.name, 'shell');
  assert.deepEqual(JSON.parse(fc.arguments), { command: [] });
  assert.equal(ctc.name, 'apply_patch');
  assert.equal(typeof ctc.input, 'string');
  assert.ok(ctc.input.length > 0);
  assert.notEqual(fc.call_id, ctc.call_id);
  // the custom call streams its free-form input, not JSON arguments
  const inputDone = t.events.find((e) => e.type === 'response.custom_tool_call_input.done');
  assert.equal(inputDone.item_id, ctc.id);
  assert.equal(inputDone.input, ctc.input);

  // what the chat backend got
  const last = await rsim.last();
  const sent = last.json;
  assert.deepEqual(sent.messages, [{ role: 'system', content: DEVELOPER }, { role: 'user', content: ASK }]);
  assert.deepEqual(sent.tools.map((x) => x.function.name), ['shell', 'apply_patch', 'docs__lookup'],
    'web_search dropped, the namespace flattened, the custom tool a function');
  assert.deepEqual(sent.tools[1].function.parameters, {
    type: 'object', properties: { input: { type: 'string' } }, required: ['input'], additionalProperties: false,
  });
  assert.ok(sent.tools[1].function.description.includes(GRAMMAR), 'the grammar is told to the model');
  assert.equal(sent.tool_choice, 'auto');
  assert.equal(sent.parallel_tool_calls, true);
  assert.equal(sent.reasoning_effort, 'medium');
  assert.equal(sent.stream, true);
  for (const k of ['input', 'store', 'include', 'reasoning', 'instructions']) {
    assert.equal(k in sent, false, `no Responses-only key ${k} upstream`);
  }
  for (const h of ['session_id', 'originator', 'x-client-request-id', 'version']) {
    assert.equal(last.headers[h], undefined, `the client's ${h} header is not forwarded`);
  }

  // the audit record notes the hosted tool the chat backend could not run
  assert.deepEqual(t.rec.dropped_tools, ['web_search']);
  assert.deepEqual(t.rec.tool_calls, ['shell', 'apply_patch']);
  assert.equal(t.rec.stored, false);
  assert.equal(t.rec.stream, true);
  // store:false persists nothing
  assert.equal((await fetch(`${gw.baseURL}/responses/${t.final.id}`)).status, 404);
  turn1 = { input, ...t };
});

test('turn 2: the whole history replayed, encrypted reasoning included, reaches the backend as chat', async () => {
  assert.ok(turn1, 'turn 1 ran');
  const [rs, fc, ctc] = turn1.done;
  const thought = rs.content[0].text;
  const shellOut = JSON.stringify({ output: 'README.md\nsrc\n', metadata: { exit_code: 0, duration_seconds: 0.1 } });
  const patchOut = 'Success. Updated the following files:\nM README.md\n';
  const history = [
    ...turn1.input,
    // as Codex replays it: no plain-text content, only the sealed blob
    { type: 'reasoning', id: rs.id, summary: [], encrypted_content: rs.encrypted_content },
    // the model's items in the order they came, then the tools' outputs
    { type: 'function_call', id: fc.id, name: fc.name, arguments: fc.arguments, call_id: fc.call_id },
    { type: 'custom_tool_call', id: ctc.id, status: 'completed', call_id: ctc.call_id, name: ctc.name, input: ctc.input },
    { type: 'function_call_output', call_id: fc.call_id, output: shellOut },
    { type: 'custom_tool_call_output', call_id: ctc.call_id, output: patchOut },
    msg('msg_c0dex_usr_2', 'user', THANKS),
  ];
  const t = await codexTurn(codexRequest('gpt-5-codex', history));
  assert.deepEqual(t.done.map((i) => i.type), ['reasoning', 'message']);
  const answer = t.done[1];
  assert.equal(answer.role, 'assistant');
  assert.equal(answer.content[0].type, 'output_text');

  const sent = (await rsim.last()).json;
  assert.equal(sent.messages.length, 6, JSON.stringify(sent.messages));
  assert.deepEqual(sent.messages[0], { role: 'system', content: DEVELOPER });
  assert.deepEqual(sent.messages[1], { role: 'user', content: ASK });
  const a = sent.messages[2];
  assert.equal(a.role, 'assistant');
  assert.equal(a.reasoning_content, thought, 'the sealed reasoning was opened and sent back');
  assert.deepEqual(a.tool_calls.map((c) => [c.id, c.function.name]), [[fc.call_id, 'shell'], [ctc.call_id, 'apply_patch']]);
  assert.equal(a.tool_calls[0].function.arguments, fc.arguments);
  assert.deepEqual(JSON.parse(a.tool_calls[1].function.arguments), { input: ctc.input },
    'a custom call goes back as its one string argument');
  assert.deepEqual(sent.messages[3], { role: 'tool', tool_call_id: fc.call_id, content: shellOut });
  assert.deepEqual(sent.messages[4], { role: 'tool', tool_call_id: ctc.call_id, content: patchOut });
  assert.deepEqual(sent.messages[5], { role: 'user', content: THANKS });
  assert.equal(answer.content[0].text, await simText(sent.messages));
  assert.deepEqual(t.rec.dropped_tools, ['web_search']);
  assert.equal(t.rec.finish_reason, 'stop');
});

test('a llama.cpp backend whose model id is a file path, found by discovery, serves a Codex turn', async () => {
  const ids = await waitFor(async () => {
    const j = await (await fetch(`${gw.baseURL}/models`)).json();
    const l = j.data.map((m) => m.id);
    return l.includes(GGUF) ? l : null;
  }, { what: 'the discovered path id in /v1/models' });
  assert.ok(ids.includes('gpt-5-codex'));
  const input = [msg('msg_c0dex_dev_9', 'developer', DEVELOPER), msg('msg_c0dex_usr_9', 'user', 'Say hello.')];
  const t = await codexTurn(codexRequest(GGUF, input));
  assert.equal(t.final.model, GGUF);
  assert.deepEqual(t.done.map((i) => i.type), ['message']);
  const sent = (await lsim.last()).json;
  assert.equal(sent.model, GGUF, 'the path id goes upstream as is');
  assert.equal(t.rec.backend, 'llama');
  assert.deepEqual(t.rec.dropped_tools, ['web_search']);
});
