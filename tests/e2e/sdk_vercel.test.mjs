// sdk_vercel.test.mjs — the Vercel AI SDK (`ai` + `@ai-sdk/openai`) against
// llmux over a Chat-Completions-only backend (llmux-sim, llama.cpp style).
// The SDK's default OpenAI provider speaks the Responses API; the only
// change from talking to OpenAI is the base URL. Each test runs a real tool
// loop: the model calls a zod-typed tool, the SDK executes it and calls the
// model again with a function_call_output, and the final text arrives.
//
// The first step forces a tool call (toolChoice 'required', as an app that
// wants the tool first would); later steps are 'auto', and since the user's
// message names no tool the sim answers with text, ending the loop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, tool, stepCountIs } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';
import { startSim, startLlmux, makeConfig, stopAll, postJSON, waitFor } from './harness.mjs';

let sim, rsim, gw, openai;

before(async () => {
  sim = await startSim({ args: ['--tokens', '6'] });
  rsim = await startSim({ args: ['--tokens', '6', '--reasoning'] });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url }, { name: 'rsim', url: rsim.url }],
      // a name the provider takes for a reasoning model: it then replays
      // reasoning items (by reference while store is on)
      models: [
        { name: 'chat', backend: 'sim', upstream_model: 'sim-model' },
        { name: 'gpt-5-mini', backend: 'rsim', upstream_model: 'sim-model' },
      ],
    }),
  });
  openai = createOpenAI({ baseURL: gw.baseURL, apiKey: 'sk-test' });
});

after(async () => { await stopAll(gw, sim, rsim); });

const PROMPT = 'What is the weather like today?';

/** A get_weather tool that records each execution in calls. */
function weatherTool(calls) {
  return tool({
    description: 'Weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push(city);
      return { city, temp: 21 };
    },
  });
}

const firstStepRequired = ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: 'required' } : {});

// What the sim answers to chat messages, asked directly (its text is a
// function of the messages only).
async function simText(messages) {
  const r = await postJSON(`${sim.url}/chat/completions`, { model: 'sim-model', messages });
  assert.equal(r.status, 200, r.text);
  return r.json.choices[0].message.content;
}

/** Asserts the last chat request the sim received is the second model call of
 * the loop: the user's prompt, the assistant's tool call, and the tool's
 * result as a tool message answering it. Returns that call id. */
async function assertSecondCallCarriedOutput(city) {
  const sent = (await sim.last()).json;
  assert.equal(sent.messages.length, 3, JSON.stringify(sent.messages));
  assert.deepEqual(sent.messages[0], { role: 'user', content: PROMPT });
  const a = sent.messages[1];
  assert.equal(a.role, 'assistant');
  assert.equal(a.tool_calls.length, 1);
  assert.equal(a.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(a.tool_calls[0].function.arguments), { city });
  assert.deepEqual(sent.messages[2], {
    role: 'tool', tool_call_id: a.tool_calls[0].id, content: JSON.stringify({ city, temp: 21 }),
  });
  assert.equal(sent.tool_choice, 'auto');
  return sent;
}

/** The audit records of the last two /v1/responses exchanges: the tool call,
 * then the answer. */
async function assertAuditLoop(stream) {
  const recs = await waitFor(() => {
    const r = gw.audit().filter((x) => x.endpoint === '/v1/responses' && x.stream === stream);
    return r.length >= 2 ? r : null;
  }, { what: 'two audit records' });
  const [first, second] = recs.slice(-2);
  assert.equal(first.status, 200);
  assert.equal(first.finish_reason, 'tool_calls');
  assert.deepEqual(first.tool_calls, ['get_weather']);
  assert.equal(second.status, 200);
  assert.equal(second.finish_reason, 'stop');
  assert.deepEqual(second.tool_calls, []);
  assert.ok(second.prompt_tokens > first.prompt_tokens, 'the second call carries the tool output');
}

test('generateText runs a tool loop over /v1/responses', async () => {
  const calls = [];
  const r = await generateText({
    model: openai('chat'),
    prompt: PROMPT,
    tools: { get_weather: weatherTool(calls) },
    stopWhen: stepCountIs(4),
    prepareStep: firstStepRequired,
  });
  assert.equal(calls.length, 1, 'the tool ran once');
  assert.equal(r.steps.length, 2);
  assert.equal(r.steps[0].finishReason, 'tool-calls');
  assert.equal(r.steps[0].toolCalls[0].toolName, 'get_weather');
  assert.deepEqual(r.steps[0].toolResults[0].output, { city: calls[0], temp: 21 });
  // the SDK's second request sent the output as a Responses item
  const body = r.steps[1].request.body;
  const out = (typeof body === 'string' ? JSON.parse(body) : body).input.find((i) => i.type === 'function_call_output');
  assert.equal(out.call_id, r.steps[0].toolCalls[0].toolCallId);
  const sent = await assertSecondCallCarriedOutput(calls[0]);
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.text, await simText(sent.messages));
  assert.ok(r.text.length > 0);
  assert.ok(r.response.id.startsWith('resp_'));
  assert.ok(r.totalUsage.inputTokens > 0);
  await assertAuditLoop(false);
});

test('streamText streams the tool call, runs it, and streams the answer', async () => {
  const calls = [];
  const s = streamText({
    model: openai('chat'),
    prompt: PROMPT,
    tools: { get_weather: weatherTool(calls) },
    stopWhen: stepCountIs(4),
    prepareStep: firstStepRequired,
  });
  const parts = [];
  let text = '', toolInput = '';
  for await (const p of s.fullStream) {
    parts.push(p.type);
    if (p.type === 'text-delta') text += p.text;
    if (p.type === 'tool-input-delta') toolInput += p.delta;
    if (p.type === 'error') assert.fail(`stream error: ${p.error}`);
  }
  assert.equal(calls.length, 1, 'the tool ran once');
  assert.deepEqual(JSON.parse(toolInput), { city: calls[0] });
  for (const t of ['tool-input-start', 'tool-call', 'tool-result', 'text-delta', 'finish']) {
    assert.ok(parts.includes(t), `stream has ${t}: ${parts.join(' ')}`);
  }
  assert.ok(parts.indexOf('tool-result') < parts.indexOf('text-delta'), 'the answer follows the tool result');
  assert.equal(parts.filter((p) => p === 'finish-step').length, 2);
  const toolCalls = (await s.steps)[0].toolCalls;
  assert.equal(toolCalls[0].toolName, 'get_weather');
  const sent = await assertSecondCallCarriedOutput(calls[0]);
  assert.equal(sent.stream, true);
  assert.equal(text, await simText(sent.messages));
  assert.ok(text.length > 0);
  assert.equal(await s.text, text);
  assert.equal(await s.finishReason, 'stop');
  await assertAuditLoop(true);
});

// With a reasoning model the provider sends the first step's reasoning back
// in the second: as {"type":"item_reference","id"} while store is on (its
// default), as the item with its encrypted_content with store off. Either
// way the backend must get the reasoning text back with the tool call.
for (const [name, providerOptions, shape] of [
  ['store on: an item_reference', {}, 'item_reference'],
  ['store off: encrypted_content', { openai: { store: false, include: ['reasoning.encrypted_content'] } }, 'reasoning'],
]) {
  test(`a reasoning model's tool loop replays its reasoning (${name})`, async () => {
    const calls = [];
    const r = await generateText({
      model: openai('gpt-5-mini'),
      prompt: PROMPT,
      tools: { get_weather: weatherTool(calls) },
      providerOptions,
      stopWhen: stepCountIs(4),
      prepareStep: firstStepRequired,
    });
    assert.equal(calls.length, 1);
    assert.equal(r.steps.length, 2);
    // the gateway puts a chat backend's reasoning in the item's content
    // (there is no summary), which the SDK does not show as reasoningText
    const first = r.steps[0].response.body.output.find((i) => i.type === 'reasoning');
    const thought = first.content[0].text;
    assert.ok(thought.length > 0, 'the first step reasoned');
    const body = r.steps[1].request.body;
    const input = (typeof body === 'string' ? JSON.parse(body) : body).input;
    const rs = input.find((i) => i.type === shape);
    assert.ok(rs, `the second step sends the reasoning as ${shape}: ${JSON.stringify(input)}`);
    assert.equal(rs.id, first.id);
    const sent = (await rsim.last()).json;
    const a = sent.messages.find((m) => m.role === 'assistant');
    assert.equal(a.reasoning_content, thought, 'the backend got the reasoning back');
    assert.equal(a.tool_calls[0].function.name, 'get_weather');
    assert.equal(sent.messages.at(-1).role, 'tool');
    assert.equal(r.finishReason, 'stop');
    assert.ok(r.text.length > 0);
  });
}
